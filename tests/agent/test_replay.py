"""`dlq replay` with a fake Elasticsearch: what is recorded for digests and marked replayed, and when it is told."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest

from auditlog.agent.backoff import EqualJitterBackoff
from auditlog.agent.deadletter import DeadLetter, DeadLetterWriter, read_records
from auditlog.agent.digest import record_of, unpack
from auditlog.agent.enrich import Enricher
from auditlog.agent.parser import Parser
from auditlog.agent.registry import REGISTRY_FILE
from auditlog.agent.replay import Outcome, replay
from auditlog.core.errors import CommandError
from auditlog.indexer.integrity import UNKNOWN_HASH, Record
from auditlog.indexer.tiers import TierTable
from tests.agent.events import line

FAST = EqualJitterBackoff(initial=0.001, maximum=0.002)


class Resp:
    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body


class FakeES:
    """Answers every bulk item with the status its ``event.id`` is given (201 when not given)."""

    def __init__(self, statuses: dict[str, int] | None = None) -> None:
        self.statuses = statuses or {}
        self.sent: list[bytes] = []

    def options(self, **kw: Any) -> FakeES:
        return self

    def bulk(self, operations: bytes, filter_path: str) -> Resp:
        actions = operations.split(b"\n")[0::2]
        items: list[dict[str, Any]] = []
        for action in (a for a in actions if a):
            status = self.statuses.get(orjson.loads(action)["create"]["_id"], 201)
            item: dict[str, Any] = {"status": status}
            if status >= 300:
                item["error"] = {"type": "version_conflict_engine_exception", "reason": "document already exists"}
            items.append({"create": item})
        self.sent.append(operations)
        return Resp({"errors": any(i["create"]["status"] >= 300 for i in items), "items": items})


def _dead_letters(state: Path, count: int) -> None:
    w = DeadLetterWriter(state)
    for i in range(count):
        w.write(DeadLetter("was refused", line(i), 100 * i, "/f", "id:1:2:0"))
    w.close()


def _replay(state: Path, es: FakeES, **kw: Any) -> list[Outcome]:
    told: list[Outcome] = []
    replay(state, es, Parser(), Enricher(TierTable(prefix="audit")), backoff=FAST, timeout=5,  # type: ignore[arg-type]
           on_outcome=kw.pop("on_outcome", told.append), **kw)
    return told


def _pending(state: Path) -> list[Record]:
    db = sqlite3.connect(state / REGISTRY_FILE)
    try:
        return [r for (blob,) in db.execute("SELECT records FROM digest_pending ORDER BY id") for r in unpack(blob)]
    finally:
        db.close()


def test_an_entry_answered_409_is_recorded_with_the_unknown_hash(tmp_path: Path) -> None:
    """A dead letter Elasticsearch already holds (409) gets a pending record with UNKNOWN_HASH, as the agent's own."""
    _dead_letters(tmp_path, 1)
    _replay(tmp_path, FakeES({"ev-00000000": 409}))
    assert [(r.id, r.hash) for r in _pending(tmp_path)] == [("ev-00000000", UNKNOWN_HASH)]


def test_an_entry_answered_201_is_recorded_with_the_hash_of_the_bytes_sent(tmp_path: Path) -> None:
    """A dead letter created now gets a pending record with the hash of exactly the document sent."""
    _dead_letters(tmp_path, 1)
    es = FakeES()
    _replay(tmp_path, es)
    assert _pending(tmp_path) == [record_of(es.sent[0])]


def test_a_batch_of_created_and_409_entries_records_each_its_own_way(tmp_path: Path) -> None:
    """In one batch the 201s keep their hashes and only the 409s get UNKNOWN_HASH."""
    _dead_letters(tmp_path, 3)
    _replay(tmp_path, FakeES({"ev-00000001": 409}))
    assert [(r.id, r.hash == UNKNOWN_HASH) for r in _pending(tmp_path)] == [
        ("ev-00000000", False), ("ev-00000001", True), ("ev-00000002", False)]


def test_an_outcome_is_told_only_once_its_record_and_mark_are_committed(tmp_path: Path) -> None:
    """When the first 'replayed' is told, its digest record and its replay mark are already stored."""
    _dead_letters(tmp_path, 2)
    seen: list[tuple[int, int]] = []

    def tell(o: Outcome) -> None:
        seen.append((len(_pending(tmp_path)), len(list(read_records(tmp_path)))))

    _replay(tmp_path, FakeES(), on_outcome=tell)
    assert seen[0] == (2, 0)


def test_a_replay_interrupted_while_telling_ships_nothing_again(tmp_path: Path) -> None:
    """Ctrl-C while the first outcome is printed leaves the batch recorded once; a second run sends nothing."""
    _dead_letters(tmp_path, 2)

    def interrupted(o: Outcome) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _replay(tmp_path, FakeES(), on_outcome=interrupted)
    again = FakeES()
    told = _replay(tmp_path, again)
    assert (told, again.sent, len(_pending(tmp_path))) == ([], [], 2)


def test_without_digests_nothing_is_recorded_but_the_marks(tmp_path: Path) -> None:
    """With digests off, replayed records are marked and no pending digest record is written."""
    _dead_letters(tmp_path, 1)
    told = _replay(tmp_path, FakeES(), digests=False)
    db = sqlite3.connect(tmp_path / REGISTRY_FILE)
    try:
        tables = {n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        rows = db.execute("SELECT count(*) FROM digest_pending").fetchone()[0] if "digest_pending" in tables else 0
    finally:
        db.close()
    assert ([o.outcome for o in told], rows, list(read_records(tmp_path))) == (["replayed"], 0, [])


def test_an_over_long_record_between_two_is_rejected_with_its_offset_and_the_others_replayed(tmp_path: Path) -> None:
    """A line past the configuration's record bound is rejected naming its offset; its neighbours ship."""
    _dead_letters(tmp_path, 1)
    path = tmp_path / "deadletter.jsonl"
    offset = path.stat().st_size
    with path.open("ab") as fh:
        fh.write(b"y" * 5000 + b"\n" + DeadLetter("was refused", line(7), 700, "/f", "id:1:2:0").to_json())
    told = _replay(tmp_path, FakeES(), limit=4096)
    rejected = [o.reason for o in told if o.outcome == "rejected"]
    assert (["rejected", "replayed", "replayed"], True) == (  # told as decided: the rejection before the batch
        sorted(o.outcome for o in told), rejected[0].startswith(f"over-long dead-letter record at byte {offset} of"))


@pytest.mark.parametrize("offset", ["05", 5.0, True, None])
def test_a_record_whose_offset_is_no_integer_is_rejected_not_replayed_on_every_run(tmp_path: Path, offset: Any) -> None:
    """An offset of "05", 5.0, true or none is rejected, never shipped under a key its replay mark never matches."""
    rec: dict[str, Any] = {"reason": "x", "file": "/f", "identity": "id:1:2:0", "line": line(0).decode()}
    if offset is not None:
        rec["offset"] = offset
    (tmp_path / "deadletter.jsonl").write_bytes(orjson.dumps(rec) + b"\n")
    es = FakeES()
    told = _replay(tmp_path, es)
    assert ([o.outcome for o in told], es.sent) == (["rejected"], [])


def test_a_second_replay_of_the_same_state_dir_is_refused_while_one_runs(tmp_path: Path) -> None:
    """A replay started while another runs on the same state directory stops, so no record is shipped twice."""
    _dead_letters(tmp_path, 1)
    second: list[BaseException] = []

    def start_another(o: Outcome) -> None:
        try:
            _replay(tmp_path, FakeES())
        except CommandError as exc:
            second.append(exc)

    _replay(tmp_path, FakeES(), on_outcome=start_another)
    assert [str(e) for e in second] == [f"another dlq replay is running on {tmp_path}; wait for it to end"]
