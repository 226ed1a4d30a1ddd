"""Tamper evidence end to end: emitter lines shipped by a real agent (kill -9 included), then `auditlog verify`.

The agent writes signed digests while it ships; tampering is done afterwards with an all-powerful client,
as an operator with cluster access could.
"""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from elasticsearch import Elasticsearch

from auditlog.agent.config import load as load_config
from auditlog.agent.deadletter import DEADLETTER_FILE, read_records
from auditlog.agent.digest import unpack_parts
from auditlog.agent.parser import Parser
from auditlog.agent.replay import replay
from auditlog.agent.shipper import ShipperFields
from auditlog.agent.sink import client_options
from auditlog.cli import main
from auditlog.indexer import retention
from auditlog.indexer.client import make_client
from auditlog.indexer.integrity import HISTORY_HOLES
from auditlog.indexer.rawsource import raw_client_options, scan_sources
from auditlog.indexer.setup import install_templates
from auditlog.indexer.tiers import TierTable
from auditlog.indexer.verify import Report, verify
from bench.events import event_lines
from tests.integration.agent_support import AgentProcess, append_lines, count, wait_count, write_config

LINES = int(os.environ.get("AUDITLOG_TAMPER_LINES", "20000"))
KILLS = int(os.environ.get("AUDITLOG_TAMPER_KILLS", "5"))


@pytest.fixture
def raw(es_url: str) -> Iterator[Elasticsearch]:
    """A client that returns raw response bytes, as verify needs."""
    client = Elasticsearch(es_url, request_timeout=60, **raw_client_options())
    yield client
    client.close()


@dataclass
class Shipping:
    """One agent shipping one folder of logs into a namespace."""

    es: Elasticsearch
    tiers: TierTable
    logs: Path
    agent: AgentProcess


def _shipping(es: Elasticsearch, es_url: str, tiers: TierTable, tmp_path: Path, **digest: object) -> Shipping:
    install_templates(es, tiers)
    logs = tmp_path / "logs"
    logs.mkdir()
    cfg = write_config(tmp_path / "agent.toml", paths=[f"{logs}/*.jsonl"], state=tmp_path / "state",
                       es_url=es_url, prefix=tiers.prefix, digest={"interval": 0.3, **digest})
    return Shipping(es, tiers, logs, AgentProcess(cfg, tmp_path / "agent.log"))


def _lines(count: int, seed: int, *, day: datetime | None = None) -> list[bytes]:
    end = day or datetime.now(UTC) - timedelta(seconds=5)
    start = end - timedelta(hours=1) if day is None else end - timedelta(hours=2)
    if day is None and start.date() != end.date():  # keep every event in today's indices
        start = end.replace(hour=0, minute=0, second=0, microsecond=0)
    return list(event_lines(count, seed=seed, window=(start, end)))


def _settled(raw: Elasticsearch, tiers: TierTable, events: int, problems: int = 0, timeout: float = 300.0) -> Report:
    """Verify until every one of ``events`` is proven (the agent seals every 0.3 s; a digest request being
    indexed can be half visible to a refresh, which verify sees as a missing digest for that moment)."""
    end = time.monotonic() + timeout
    while True:
        patterns = f"{tiers.read_pattern},{tiers.digest_pattern}"
        raw.cluster.health(index=patterns, wait_for_status="yellow", timeout="30s")
        raw.indices.refresh(index=patterns, allow_no_indices=True)
        report = verify(raw, tiers)
        done = report.events == report.proven + report.present == events and len(report.problems) == problems
        if done or time.monotonic() > end:
            return report
        time.sleep(0.5)


def _ship_until_proven(raw: Elasticsearch, ship: Shipping, events: int) -> None:
    """Run the agent until all ``events`` arrived and verify proves them without a problem, then stop it (exit 0)."""
    try:
        ship.agent.start()
        wait_count(ship.es, ship.tiers, events, timeout=60)
        assert _settled(raw, ship.tiers, events).problems == []
        assert ship.agent.stop() == 0
    finally:
        ship.agent.ensure_stopped()


def _cli(es_url: str, tiers: TierTable, *args: str) -> int:
    return main(["verify", "--es", es_url, "--prefix", tiers.prefix, *args])


def test_kill9_shipping_verifies_then_reports_exactly_the_four_tamperings(
    es: Elasticsearch, es_url: str, raw: Elasticsearch, namespace: TierTable, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """20k events across kill -9s verify (exit 0); a delete, an edit, an insert and a dropped line are 4 problems."""
    tiers = namespace
    ship = _shipping(es, es_url, tiers, tmp_path)
    streams = [_lines(LINES // 4, seed=s) for s in (1, 2, 3, 4)]  # four emitter instances: four streams
    rng = random.Random(15)

    def writer() -> None:  # spread over the kills, so they land while lines are written and shipped
        bursts = range(0, LINES // 4, 100)
        for burst in bursts:
            for n, lines in enumerate(streams):
                append_lines(ship.logs / f"app{n}.jsonl", lines[burst:burst + 100])
            time.sleep(KILLS * 1.2 / len(bursts))

    w = threading.Thread(target=writer, daemon=True)
    w.start()
    try:
        for _ in range(KILLS):
            ship.agent.start()
            ship.agent.wait_started()
            time.sleep(rng.uniform(0.2, 1.2))
            ship.agent.kill9()
        w.join()
        ship.agent.start()
        ship.agent.wait_started()
        wait_count(es, tiers, LINES, timeout=180)
        first = _settled(raw, tiers, LINES)
        # every event in a digest (re-sent ones after a kill -9 as present); no problem: none in two, no fork
        assert (first.events, first.proven + first.present, [p.line() for p in first.problems][:20]) == (
            LINES, LINES, [])
        assert ship.agent.starts == KILLS + 1
        assert _cli(es_url, tiers) == 0

        # a fifth stream ships with one line dropped from its file
        later = _lines(50, seed=9)
        dropped = orjson.loads(later[20])["audit"]
        append_lines(ship.logs / "late.jsonl", later[:20] + later[21:])
        wait_count(es, tiers, LINES + 49, timeout=60)
        assert _settled(raw, tiers, LINES + 49, problems=1).pending == 0  # the gap
        status = ship.agent.stop()
    finally:
        ship.agent.ensure_stopped()
    assert status == 0

    # victims from the stream shipped without kills: their digests hold their hashes (not re-sent)
    es.indices.refresh(index=tiers.read_pattern)
    deleted, edited, model = (es.search(index=tiers.read_pattern, query={"ids": {"values": [
        orjson.loads(line)["event"]["id"]]}})["hits"]["hits"][0] for line in later[:3])
    es.delete(index=deleted["_index"], id=deleted["_id"], refresh=True)
    es.update(index=edited["_index"], id=edited["_id"], doc={"message": "nothing happened here"}, refresh=True)
    forged = dict(model["_source"])
    forged["event"] = {**forged["event"], "id": "forged-0001"}
    es.index(index=model["_index"], id="forged-0001", document=forged, refresh=True)

    report = verify(raw, tiers)
    found = sorted((p.kind, p.event or p.index) for p in report.problems)
    gone = deleted["_source"]["audit"]  # digests list numbered events by stream position, not by id
    assert found == sorted([
        ("deleted", f"stream {gone['stream']} seq {gone['seq']}"),
        ("altered", edited["_id"]),
        ("inserted", "forged-0001"),
        ("gap", f"stream {dropped['stream']}"),
    ])
    assert f"seq {dropped['seq']} never arrived" in next(p.detail for p in report.problems if p.kind == "gap")
    capsys.readouterr()
    assert _cli(es_url, tiers) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("4 problems:") and len(out) == 5


def test_forged_signature_and_removed_digest_are_reported(
    es: Elasticsearch, es_url: str, raw: Elasticsearch, namespace: TierTable, tmp_path: Path
) -> None:
    """A digest with a wrong signature and a digest deleted from the middle of the chain are both problems."""
    tiers = namespace
    ship = _shipping(es, es_url, tiers, tmp_path, max_events=100)
    append_lines(ship.logs / "app.jsonl", _lines(600, seed=5))
    _ship_until_proven(raw, ship, 600)
    es.indices.refresh(index=tiers.digest_pattern)
    digests = es.search(index=tiers.digest_pattern, size=100, sort=[{"digest.seq": "asc"}])["hits"]["hits"]
    assert len(digests) >= 6
    forged, removed = digests[1], digests[3]
    other = digests[0]["_source"]["signature"]
    es.update(index=forged["_index"], id=forged["_id"], doc={"signature": other}, refresh=True)
    es.delete(index=removed["_index"], id=removed["_id"], refresh=True)

    report = verify(raw, tiers)
    kinds = {(p.kind, p.digest_id) for p in report.problems if p.kind in ("signature", "digest-missing")}
    assert kinds == {("signature", forged["_id"]), ("digest-missing", digests[4]["_id"])}
    assert _cli(es_url, tiers) == 1


def test_pinned_key_proves_authorship_and_a_foreign_key_does_not(
    es: Elasticsearch, es_url: str, raw: Elasticsearch, namespace: TierTable, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """With the agent's own public key pinned verify exits 0; pinned to another key every digest is refused."""
    tiers = namespace
    ship = _shipping(es, es_url, tiers, tmp_path)
    append_lines(ship.logs / "app.jsonl", _lines(200, seed=6))
    _ship_until_proven(raw, ship, 200)
    capsys.readouterr()
    assert main(["agent", "key", "--public", "--state-dir", str(tmp_path / "state")]) == 0
    (tmp_path / "agent.pem").write_text(capsys.readouterr().out)
    assert main(["agent", "key", "--public", "--state-dir", str(tmp_path / "other")]) == 0
    (tmp_path / "other.pem").write_text(capsys.readouterr().out)

    assert _cli(es_url, tiers, "--pubkey", str(tmp_path / "agent.pem"), "--json") == 0
    pinned = orjson.loads(capsys.readouterr().out)
    assert _cli(es_url, tiers, "--pubkey", str(tmp_path / "other.pem"), "--json") == 1
    foreign = orjson.loads(capsys.readouterr().out)
    assert (pinned["ok"], pinned["pinned"], pinned["proven"]) == (True, True, 200)
    assert {p["kind"] for p in foreign["problems"]} == {"signature"}
    assert all("not pinned" in p["detail"] for p in foreign["problems"])


def test_a_day_deleted_by_retention_is_expired_not_tampered(
    es: Elasticsearch, es_url: str, raw: Elasticsearch, namespace: TierTable, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """After the retention enforcer deletes an old day and its digests, verify says "expired" and exits 0."""
    tiers = namespace
    ship = _shipping(es, es_url, tiers, tmp_path, max_events=50)
    old_day = (datetime.now(UTC) - timedelta(days=10)).replace(hour=12, minute=0, second=0, microsecond=0)
    old, new = _lines(200, seed=11, day=old_day), _lines(200, seed=12)
    mixed = [line for pair in zip(old, new, strict=True) for line in pair]  # digests of both days interleave
    append_lines(ship.logs / "app.jsonl", mixed)
    _ship_until_proven(raw, ship, 400)
    deleted = retention.enforce(es, tiers)
    old_stamp = f"{old_day:%Y.%m.%d}"
    assert deleted and all(old_stamp in i.name for i in deleted)
    assert any(".digest-" in i.name for i in deleted)

    report = verify(raw, tiers)
    assert report.problems == []
    assert report.expired and all(old_stamp in note for note in report.expired)
    es.indices.refresh(index=tiers.read_pattern)
    assert report.events == es.count(index=tiers.read_pattern)["count"] >= len(new)
    capsys.readouterr()
    assert _cli(es_url, tiers) == 0
    assert "expired" in capsys.readouterr().out


def _dead_lettered(es: Elasticsearch, es_url: str, ship: Shipping, tmp_path: Path) -> int:
    """Ship 60 events, then 30 more under an inputs.max_depth some exceed; stop with the limit lifted.

    Returns how many were dead-lettered (those nested deeper than 3 levels, 23 of these 30).

    A write block would not do: the agent holds lines a cluster refuses (backpressure), it dead-letters none.
    """
    lines = _lines(90, seed=8)
    append_lines(ship.logs / "app.jsonl", lines[:60])
    _write_config(ship, es_url, tmp_path)
    ship.agent.start()
    wait_count(es, ship.tiers, 60, timeout=60)
    assert ship.agent.stop() == 0
    _write_config(ship, es_url, tmp_path, inputs={"max_depth": 3})
    append_lines(ship.logs / "app.jsonl", lines[60:])
    ship.agent.start()
    end = time.monotonic() + 60
    while count(es, ship.tiers) + len(list(read_records(tmp_path / "state"))) < 90 and time.monotonic() < end:
        time.sleep(0.2)
    assert ship.agent.stop() == 0
    _write_config(ship, es_url, tmp_path)
    dead = len(list(read_records(tmp_path / "state")))
    assert dead > 0
    return dead


def _write_config(ship: Shipping, es_url: str, tmp_path: Path, **sections: dict[str, object]) -> None:
    """Write the agent's configuration as :func:`_shipping` does, with ``sections`` on top."""
    write_config(ship.agent.config, paths=[f"{ship.logs}/*.jsonl"], state=tmp_path / "state", es_url=es_url,
                 prefix=ship.tiers.prefix, digest={"interval": 0.3}, **sections)  # type: ignore[arg-type]


def test_replayed_dead_letters_are_proven_after_the_next_run(
    es: Elasticsearch, es_url: str, raw: Elasticsearch, namespace: TierTable, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Events refused, then shipped by `dlq replay`, are in the next run's digests: verify proves every one."""
    tiers = namespace
    ship = _shipping(es, es_url, tiers, tmp_path)
    try:
        _dead_lettered(es, es_url, ship, tmp_path)
        assert main(["dlq", "replay", "--config", str(ship.agent.config)]) == 0
        ship.agent.start()  # seals what replay recorded
        report = _settled(raw, tiers, 90)
        assert ship.agent.stop() == 0
    finally:
        ship.agent.ensure_stopped()
    capsys.readouterr()
    assert (report.events, report.proven + report.present, report.problems) == (90, 90, [])


class _Interrupted:
    """A stdout on which the first outcome printed meets Ctrl-C."""

    def write(self, text: str) -> int:
        raise KeyboardInterrupt

    def flush(self) -> None:
        pass


def test_a_replay_interrupted_while_printing_and_run_again_verifies_clean(
    es: Elasticsearch, es_url: str, raw: Elasticsearch, namespace: TierTable, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ctrl-C at the first printed outcome, then a second `dlq replay`: every event is covered once, verify is clean."""
    tiers = namespace
    ship = _shipping(es, es_url, tiers, tmp_path)
    try:
        _dead_lettered(es, es_url, ship, tmp_path)
        with monkeypatch.context() as m:
            m.setattr("sys.stdout", _Interrupted())
            assert main(["dlq", "replay", "--config", str(ship.agent.config)]) == 130
        report = _replay_and_seal(ship, raw, tiers)
    finally:
        ship.agent.ensure_stopped()
    capsys.readouterr()
    assert (wait_count(es, tiers, 90), report.events, report.proven + report.present, report.problems) == (
        90, 90, 90, [])


def _replay_and_seal(ship: Shipping, raw: Elasticsearch, tiers: TierTable) -> Report:
    """Run `dlq replay` (the clock moved on), then the agent until all 90 events are sealed; return verify's report."""
    time.sleep(0.01)  # a re-built document differs from the stored one (event.ingested, in milliseconds)
    assert main(["dlq", "replay", "--config", str(ship.agent.config)]) == 0
    ship.agent.start()  # seals what the replays recorded
    report = _settled(raw, tiers, 90)
    assert ship.agent.stop() == 0
    return report


def test_dead_letters_elasticsearch_already_holds_are_replayed_without_a_false_alarm(
    es: Elasticsearch, es_url: str, raw: Elasticsearch, namespace: TierTable, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Dead letters stored by an earlier attempt that recorded nothing (a batch reported not_sent that arrived)
    are answered 409 on replay: verify counts them present, not altered."""
    tiers = namespace
    ship = _shipping(es, es_url, tiers, tmp_path)
    try:
        dead = _dead_lettered(es, es_url, ship, tmp_path)
        # An earlier attempt whose answer was lost: Elasticsearch stored the events, this state folder recorded
        # nothing (run on a copy of the dead letters, so the real state folder lists them all still).
        attempt = tmp_path / "attempt"
        attempt.mkdir()
        shutil.copy(tmp_path / "state" / DEADLETTER_FILE, attempt / DEADLETTER_FILE)
        config = load_config(ship.agent.config)
        client = make_client(config.connection(), **client_options())
        try:
            result = replay(attempt, client, Parser(), config.enricher(ShipperFields.for_this_process()),
                            digests=False)
        finally:
            client.close()
        report = _replay_and_seal(ship, raw, tiers)
    finally:
        ship.agent.ensure_stopped()
    capsys.readouterr()
    assert (result.summary(), report.events, report.proven + report.present, report.problems) == (
        f"replayed {dead} dead letters; 0 still rejected; 0 not sent", 90, 90, [])


def test_a_malformed_digest_document_is_reported_and_the_rest_still_verified(
    es: Elasticsearch, es_url: str, raw: Elasticsearch, namespace: TierTable, tmp_path: Path
) -> None:
    """Digest documents of wrong types (prev a number, delivered not pairs) are each one 'malformed' problem;
    every event is still proven and verify exits 1 instead of failing as a whole."""
    tiers = namespace
    ship = _shipping(es, es_url, tiers, tmp_path)
    append_lines(ship.logs / "app.jsonl", _lines(200, seed=8))
    _ship_until_proven(raw, ship, 200)
    es.indices.refresh(index=tiers.digest_pattern)
    real = es.search(index=tiers.digest_pattern, size=1)["hits"]["hits"][0]
    body = real["_source"]["digest"]
    broken = {"prev-number": {**body, "seq": 900, "prev": 5},
              "delivered-nested": {**body, "seq": 901, "streams": {"s": {"seqs": "", "delivered": [[[1]]]}}}}
    for name, digest in broken.items():
        es.index(index=real["_index"], id=name, document={**real["_source"], "digest": digest}, refresh=True)

    report = verify(raw, tiers)
    malformed = sorted(p.digest_id or "" for p in report.problems if "malformed" in p.detail)
    assert (["delivered-nested", "prev-number"], 200, 1) == (malformed, report.proven, _cli(es_url, tiers))


def _pending(state: Path) -> int:
    """How many pending digest rows the agent's registry holds (read beside the running agent)."""
    db = sqlite3.connect(f"file:{state / 'registry.sqlite'}?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT count(*) FROM digest_pending").fetchone()[0])
    finally:
        db.close()


def test_a_graceful_stop_seals_every_pending_record(
    es: Elasticsearch, es_url: str, raw: Elasticsearch, namespace: TierTable, tmp_path: Path,
) -> None:
    """With no seal due while it ships, a stopped agent leaves no pending record and its digests prove every event.

    This is what makes going back to an earlier agent safe after a graceful stop (docs/operations.md, Upgrades).
    """
    ship = _shipping(es, es_url, namespace, tmp_path, interval=3600)
    try:
        ship.agent.start()
        append_lines(ship.logs / "audit.jsonl", _lines(300, seed=21))
        wait_count(es, namespace, 300, timeout=60)
        deadline = time.monotonic() + 30
        while _pending(tmp_path / "state") == 0 and time.monotonic() < deadline:
            time.sleep(0.1)  # the acknowledgements are committed just after the events became searchable
        before = _pending(tmp_path / "state")
        assert ship.agent.stop() == 0
    finally:
        ship.agent.ensure_stopped()
    assert (before > 0, _pending(tmp_path / "state"), _settled(raw, namespace, 300).problems) == (True, 0, [])


def _pending_rows(state: Path) -> list[tuple[int, bytes]]:
    """The pending digest rows of a stopped agent's registry, oldest first."""
    db = sqlite3.connect(state / "registry.sqlite")
    try:
        return [(int(i), bytes(b)) for i, b in db.execute("SELECT id, records FROM digest_pending ORDER BY id")]
    finally:
        db.close()


def test_a_damaged_pending_row_is_quarantined_and_verify_reports_its_events_unproven(
    es: Elasticsearch, es_url: str, raw: Elasticsearch, namespace: TierTable, tmp_path: Path,
) -> None:
    """A pending row damaged while the agent was down is quarantined at the next start; the rest is sealed and
    verify names exactly that row's stream numbers as stored but unsealed (before, no later event was sealed)."""
    state = tmp_path / "state"
    ship = _shipping(es, es_url, namespace, tmp_path, interval=3600)
    lines = _lines(300, seed=31)  # one emitter instance: one stream, numbers 1..300
    try:
        ship.agent.start()
        ship.agent.wait_started()
        for burst in range(3):  # three acknowledgements, three pending rows at least
            append_lines(ship.logs / "audit.jsonl", lines[burst * 100:(burst + 1) * 100])
            wait_count(es, namespace, (burst + 1) * 100, timeout=60)
            deadline = time.monotonic() + 30
            while _pending(state) <= burst and time.monotonic() < deadline:
                time.sleep(0.05)
        ship.agent.kill9()  # no graceful stop: the rows stay pending
    finally:
        ship.agent.ensure_stopped()
    rows = _pending_rows(state)
    assert len(rows) >= 3
    victim, blob = rows[1]
    numbers = sorted(n for part in unpack_parts(blob) for n in part.seqs if n is not None)
    db = sqlite3.connect(state / "registry.sqlite")
    with db:
        db.execute("UPDATE digest_pending SET records = ? WHERE id = ?", (blob[:-7], victim))
    db.close()

    try:
        ship.agent.start()
        ship.agent.wait_started()  # the start's seal meets the damaged row
        assert ship.agent.stop() == 0
    finally:
        ship.agent.ensure_stopped()
    db = sqlite3.connect(state / "registry.sqlite")
    try:
        moved = db.execute("SELECT id, records FROM digest_quarantine").fetchall()
    finally:
        db.close()
    assert (moved, _pending(state)) == ([(victim, blob[:-7])], 0)
    assert "pending digest row damaged" in ship.agent.log.read_text()
    patterns = f"{namespace.read_pattern},{namespace.digest_pattern}"
    raw.indices.refresh(index=patterns)  # the stopped agent sent every digest it sealed
    report = verify(raw, namespace)
    assert [(p.kind, p.detail.split(":")[0]) for p in report.problems] == [
        ("unsealed", f"seq {numbers[0]}..{numbers[-1]} stored but in no digest ({len(numbers)} events)")]
    assert (report.events, report.proven, report.pending) == (300, 300 - len(numbers), 0)


def test_a_stream_that_lost_many_lines_reports_each_gap_once_and_its_digests_stay_bounded(
    es: Elasticsearch, es_url: str, raw: Elasticsearch, namespace: TierTable, tmp_path: Path,
) -> None:
    """A stream missing every other line over three seals (more holes than HISTORY_HOLES) verifies with exactly
    its holes as gaps, while no digest carries more than HISTORY_HOLES holes of the history."""
    tiers = namespace
    ship = _shipping(es, es_url, tiers, tmp_path)
    lines = _lines(3 * 900, seed=21)
    kept = lines[::2]  # seqs 1, 3, 5, ...: each even number a line that never arrived
    try:
        ship.agent.start()
        for r in range(3):  # one round at a time, each sealed before the next: three seals, history carried on
            append_lines(ship.logs / "app.jsonl", kept[r * 450:(r + 1) * 450])
            wait_count(es, tiers, (r + 1) * 450, timeout=60)
            report = _settled(raw, tiers, (r + 1) * 450, problems=(r + 1) * 450 - 1)
        assert ship.agent.stop() == 0
    finally:
        ship.agent.ensure_stopped()
    stream = orjson.loads(lines[0])["audit"]["stream"]
    missing = [f"seq {orjson.loads(line)['audit']['seq']} never arrived" for line in lines[1:-1:2]]
    assert sorted(p.detail.split(" (")[0] for p in report.problems) == sorted(missing)
    assert {(p.kind, p.index) for p in report.problems} == {("gap", f"stream {stream}")}
    raw.indices.refresh(index=tiers.digest_pattern)
    carried = [len(info["delivered"]) for hit in es.search(index=tiers.digest_pattern, size=1000)["hits"]["hits"]
               for info in hit["_source"]["digest"]["streams"].values()]
    assert max(carried) <= HISTORY_HOLES + 1 and len(missing) > HISTORY_HOLES


def test_more_digest_indices_of_a_long_prefix_than_one_request_line_names_are_read(
    es: Elasticsearch, raw: Elasticsearch, namespace: TierTable,
) -> None:
    """Fifty digest indices whose names together pass Elasticsearch's 4 KiB request line are read in searches that
    fit it: verify reports on them instead of failing with too_long_http_line_exception."""
    tiers = TierTable(prefix=f"{namespace.prefix}-{'l' * (120 - len(namespace.prefix))}")  # cleaned with the fixture's
    names = [tiers.digest_index_for_day("business", datetime(2026, 1, 1, tzinfo=UTC).date() + timedelta(days=i))
             for i in range(50)]
    assert len(",".join(names)) > 4096
    for name in names:
        es.indices.create(index=name, settings={"number_of_replicas": 0})
    assert (0, []) == ((report := verify(raw, tiers)).events, report.problems)


def test_an_event_hidden_from_tenant_filters_by_its_index_mapping_is_a_mapping_problem(
    es: Elasticsearch, es_url: str, raw: Elasticsearch, namespace: TierTable, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An admin sets ``ignore_above: 1`` on organization.id and puts one event again byte for byte: its ``_source``
    still proves, but no tenant filter (nor a tenant key's document-level query) finds it any more. Before, verify
    and ``verify --tenant`` both said "verified" (exit 0); now the index's mapping is reported (exit 1)."""
    tiers = namespace
    ship = _shipping(es, es_url, tiers, tmp_path)
    append_lines(ship.logs / "app.jsonl", _lines(200, seed=31))
    _ship_until_proven(raw, ship, 200)
    es.indices.refresh(index=tiers.read_pattern)
    hit = es.search(index=tiers.read_pattern, size=1, sort=[{"@timestamp": "asc"}])["hits"]["hits"][0]
    index, tenant = hit["_index"], hit["_source"]["organization"]["id"]
    stored = [bytes(h._source) for page in scan_sources(raw, index, {"ids": {"values": [hit["_id"]]}}) for h in page]
    before = es.count(index=index, query={"term": {"organization.id": tenant}})["count"]

    es.indices.put_mapping(index=index, properties={"organization": {"properties": {
        "id": {"type": "keyword", "ignore_above": 1}}}})
    es.perform_request("PUT", f"/{index}/_doc/{hit['_id']}", params={"refresh": "true"}, body=stored[0],
                       headers={"content-type": "application/json", "accept": "application/json"})
    after = es.count(index=index, query={"term": {"organization.id": tenant}})["count"]
    again = [bytes(h._source) for page in scan_sources(raw, index, {"ids": {"values": [hit["_id"]]}}) for h in page]
    assert (after, again) == (before - 1, stored)  # hidden from the tenant, its bytes unchanged

    report = verify(raw, tiers)
    assert (report.proven, [(p.kind, p.index) for p in report.problems]) == (200, [("mapping", index)])
    assert "organization.id" in report.problems[0].detail
    capsys.readouterr()
    assert (_cli(es_url, tiers), _cli(es_url, tiers, "--tenant", tenant)) == (1, 1)
