"""The agent's in-process line cost: both kinds of line are measured through the agent's own entry maker."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import orjson
import pytest

from auditlog.agent import digest
from auditlog.agent.digest_writer import DigestSettings
from auditlog.agent.registry import Registry
from auditlog.indexer.integrity import Columns
from bench import stage_cost
from bench.events import event_lines
from bench.stage_cost import emitter_entries, foreign_lines, run


def test_foreign_lines_lack_what_the_emitter_adds() -> None:
    """Other producers' lines carry no ECS categories and no changed fields."""
    event = orjson.loads(foreign_lines(1, seed=1)[0])
    assert ("kind" in event["event"], "changed_fields" in event["audit"]) == (False, False)


def test_run_reports_a_positive_cost_for_both_paths() -> None:
    """A tiny run yields one positive median per kind of line."""
    result = run(events=300, repeats=1, log=lambda _msg: None)
    assert result["emitter_lines_us"] > 0 and result["foreign_lines_us"] > 0


def test_run_reports_the_digest_cost_and_share() -> None:
    """A tiny run also yields the tamper-evidence cost per event and the digests' share of the event bytes."""
    result = run(events=300, repeats=1, log=lambda _msg: None)
    assert result["digest_us"] > 0 and 0 < result["digest_share"] < 1


def test_run_reports_the_hash_floor_of_the_digest_cost() -> None:
    """A tiny run also yields what SHA-256 of the documents alone costs per event, the digest cost's floor."""
    result = run(events=300, repeats=1, log=lambda _msg: None)
    assert result["digest_hash_us"] > 0


def test_the_digest_cost_seals_as_the_agent_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sealing as soon as the mirror is full (every seal_events events), no row is unpacked again, as in the agent."""
    own = [line.rstrip(b"\n") for line in event_lines(3000, seed=11)]
    entries, stamps = emitter_entries(own)
    unpacked: list[bytes] = []
    real = digest.unpack_parts

    def counted(blob: bytes) -> list[Columns]:
        unpacked.append(blob)
        return real(blob)

    monkeypatch.setattr(digest, "unpack_parts", counted)
    monkeypatch.setattr(stage_cost, "DigestSettings", lambda: DigestSettings(seal_events=1000))
    assert stage_cost.digest_us_per_line(entries, stamps, batch=200) > 0
    assert unpacked == []


def test_run_reports_the_state_work() -> None:
    """A tiny run yields the agent's state work per event (id record, checkpoint commits, seals, SQLite included)."""
    result = run(events=300, repeats=1, log=lambda _msg: None)
    assert result["state_us"] > 0


def test_the_state_work_stores_what_the_agent_stores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The id record holds every event and the seals put digests covering every event into the outbox."""
    own = [line.rstrip(b"\\n") for line in event_lines(900, seed=11)]
    entries, stamps = emitter_entries(own)
    monkeypatch.setattr(stage_cost.tempfile, "TemporaryDirectory", lambda: contextlib.nullcontext(str(tmp_path)))
    stage_cost.state_writes_us(entries, stamps, own, batch=200)
    reg = Registry(tmp_path)
    digests = [orjson.loads(body)["digest"] for (body,) in reg._db.execute("SELECT body FROM digest_outbox")]
    pending = reg._db.execute("SELECT count(*) FROM digest_pending").fetchone()[0]
    reg.close()
    ids = sqlite3.connect(tmp_path / "ids.sqlite").execute("SELECT sum(n) FROM sent").fetchone()[0]
    assert (sum(d["count"] for d in digests), pending, ids) == (900, 0, 900)
