"""Digest writer without a node: events grouped per events index, and sealing pending rows in bounded steps."""

from __future__ import annotations

import sqlite3
import threading
import time
import types
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest
from elasticsearch import Elasticsearch

import auditlog.agent.digest as digest_module
from auditlog.agent.digest import PendingMirror, pack, pack_parts
from auditlog.agent.digest_writer import DigestSettings, DigestWriter
from auditlog.agent.metrics import Metrics
from auditlog.agent.registry import Registry
from auditlog.agent.signing import load_key
from auditlog.indexer.integrity import HISTORY_HOLES, HISTORY_REACH, Columns, Record, digest_hash
from auditlog.indexer.tiers import TierTable


def _sealed(tmp_path: Path, rows: list[list[str]], settings: DigestSettings) -> list[dict[str, Any]]:
    """Store ``rows`` as pending rows (events by id, one index), seal them, return the outbox's digests in order."""
    tiers = TierTable()
    index = tiers.index_for_day("professional", date(2026, 12, 2))
    registry = Registry(tmp_path)
    # the node is never asked: seal only reads and writes the registry
    writer = DigestWriter(registry, Elasticsearch("http://127.0.0.1:9"), load_key(tmp_path), tiers, settings)
    blobs = [pack([Record(index, i, b"\x07" * 32, "2026-12-02T10:00:00Z") for i in ids]) for ids in rows]

    def store(db: sqlite3.Connection) -> None:
        db.executemany("INSERT INTO digest_pending (records) VALUES (?)", [(b,) for b in blobs])

    registry.commit_offsets({}, store)
    writer.seal()
    with registry.transaction() as db:
        docs = [orjson.loads(body)["digest"] for (body,) in db.execute("SELECT body FROM digest_outbox ORDER BY seq")]
        left = db.execute("SELECT COUNT(*) FROM digest_pending").fetchone()[0]
    registry.close()
    assert left == 0
    return docs


def test_digests_of_a_stream_with_many_lost_lines_stay_bounded(tmp_path: Path) -> None:
    """Seal after seal of a stream that lost every other line, a digest carries HISTORY_HOLES holes of the history
    and the registry keeps HISTORY_REACH (before: every hole ever, in every digest and in the registry)."""
    tiers = TierTable()
    index = tiers.index_for_day("professional", date(2026, 12, 2))
    registry = Registry(tmp_path)
    writer = DigestWriter(registry, Elasticsearch("http://127.0.0.1:9"), load_key(tmp_path), tiers)
    sizes, first = [4000, 4000, 4000, 10], 1  # events per seal; the last seal a small one
    for size in sizes:
        seqs = list(range(first, first + 2 * size, 2))  # the even numbers never arrive
        first += 2 * size
        records = [Record(index, f"e{n}", b"\x07" * 32, "2026-12-02T10:00:00Z", "s", n) for n in seqs]
        blob = pack(records)
        registry.commit_offsets({}, lambda db, blob=blob: db.execute(  # type: ignore[misc]
            "INSERT INTO digest_pending (records) VALUES (?)", (blob,)))
        writer.seal()
    with registry.transaction() as db:
        bodies = [orjson.loads(b) for (b,) in db.execute("SELECT body FROM digest_outbox ORDER BY seq")]
        stored = orjson.loads(db.execute("SELECT ranges FROM digest_streams WHERE stream = 's'").fetchone()[0])
    registry.close()
    carried = [len(body["digest"]["streams"]["s"]["delivered"]) for body in bodies]
    # a digest carries its own ranges (a seal of 4,000 numbers: 4,000) and never fewer than the newest 1,001
    assert (carried, len(stored)) == ([4000, 4000, 4000, HISTORY_HOLES + 1], HISTORY_REACH + 1)
    last = bodies[-1]["digest"]["streams"]["s"]["delivered"]
    assert (last[-1], stored[-1]) == ([first - 2] * 2, [first - 2] * 2)  # the newest kept, the oldest let go
    assert stored[0][0] > 1


def test_seal_reads_pending_rows_in_steps_of_bounded_events(tmp_path: Path) -> None:
    """Pending rows beyond ``seal_events`` are sealed in later steps: every event once, in order, one chain."""
    docs = _sealed(tmp_path, [["a", "b"], ["c", "d"], ["e"]], DigestSettings(max_events=10, seal_events=3))
    assert [d["ids"] for d in docs] == [["a", "b", "c", "d"], ["e"]]
    assert [d["prev"] for d in docs] == [None, digest_hash(docs[0])]


def test_seal_step_takes_a_whole_row_beyond_the_bound(tmp_path: Path) -> None:
    """A row holding more events than ``seal_events`` is sealed whole (rows are never split)."""
    docs = _sealed(tmp_path, [["a", "b", "c"], ["d"]], DigestSettings(max_events=10, seal_events=1))
    assert [d["ids"] for d in docs] == [["a", "b", "c"], ["d"]]


def _mirrored_seal(tmp_path: Path, mirror: PendingMirror, stored: list[bytes],
                   before: Callable[[], None] = lambda: None) -> list[dict[str, Any]]:
    """Store ``stored`` as pending rows, call ``before``, seal with ``mirror``; return the digests in order."""
    registry = Registry(tmp_path)
    writer = DigestWriter(registry, Elasticsearch("http://127.0.0.1:9"), load_key(tmp_path), TierTable(),
                          mirror=mirror)

    def store(db: sqlite3.Connection) -> None:
        db.executemany("INSERT INTO digest_pending (records) VALUES (?)", [(b,) for b in stored])

    registry.commit_offsets({}, store)
    before()
    writer.seal()
    with registry.transaction() as db:
        docs = [orjson.loads(body)["digest"] for (body,) in db.execute("SELECT body FROM digest_outbox ORDER BY seq")]
    registry.close()
    return docs


def _parts(*ids: str) -> list[Columns]:
    index = TierTable().index_for_day("professional", date(2026, 12, 2))
    return [Columns.of(Record(index, i, b"\x07" * 32, "2026-12-02T10:00:00Z") for i in ids)]


def test_seal_takes_mirrored_rows_without_unpacking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A row whose stored bytes are the mirrored ones is sealed from the mirror's columns."""
    mirror = PendingMirror(10)
    mirror.add(1, pack_parts(_parts("a", "b")), _parts("a", "b"))

    def refuse(blob: bytes) -> list[Columns]:
        raise AssertionError("unpacked a mirrored row")

    docs = _mirrored_seal(tmp_path, mirror, [pack_parts(_parts("a", "b"))],
                          lambda: monkeypatch.setattr(digest_module, "unpack_parts", refuse))
    assert [d["ids"] for d in docs] == [["a", "b"]]


def test_seal_reads_a_row_from_sqlite_when_the_mirror_differs(tmp_path: Path) -> None:
    """A mirrored entry whose bytes are not the stored row's is ignored: the digest lists what SQLite holds."""
    mirror = PendingMirror(10)
    mirror.add(1, pack_parts(_parts("stale")), _parts("stale"))
    docs = _mirrored_seal(tmp_path, mirror, [pack_parts(_parts("stored"))])
    assert [d["ids"] for d in docs] == [["stored"]]


def test_seal_forgets_the_rows_it_sealed(tmp_path: Path) -> None:
    """Once sealed, rows leave the mirror (its memory is freed for the next rows)."""
    mirror = PendingMirror(10)
    mirror.add(1, pack_parts(_parts("a")), _parts("a"))
    _mirrored_seal(tmp_path, mirror, [pack_parts(_parts("a"))])
    assert mirror.events == 0


def _quarantined(tmp_path: Path, stored: list[object]) -> tuple[list[dict[str, Any]], list[tuple[Any, ...]], int]:
    """Store ``stored`` as pending rows, seal; return the digests, the quarantine's rows and the metric's count."""
    registry = Registry(tmp_path)
    metrics = Metrics()
    writer = DigestWriter(registry, Elasticsearch("http://127.0.0.1:9"), load_key(tmp_path), TierTable(),
                          metrics=metrics)

    def store(db: sqlite3.Connection) -> None:
        db.executemany("INSERT INTO digest_pending (records) VALUES (?)", [(b,) for b in stored])

    registry.commit_offsets({}, store)
    writer.seal()
    with registry.transaction() as db:
        docs = [orjson.loads(body)["digest"] for (body,) in db.execute("SELECT body FROM digest_outbox ORDER BY seq")]
        moved = db.execute("SELECT id, records, reason FROM digest_quarantine ORDER BY id").fetchall()
        left = db.execute("SELECT COUNT(*) FROM digest_pending").fetchone()[0]
    registry.close()
    assert left == 0
    count = next(int(line.split()[1]) for line in metrics.render().splitlines()
                 if line.startswith("auditlog_agent_digest_rows_quarantined_total "))
    return docs, moved, count


def test_a_damaged_pending_row_is_quarantined_and_the_rows_around_it_are_sealed(tmp_path: Path) -> None:
    """A row that does not decode moves to digest_quarantine as it was (counted); the rows around it are sealed."""
    damaged = pack_parts(_parts("b"))[:-7]
    docs, moved, count = _quarantined(tmp_path, [pack_parts(_parts("a")), damaged, pack_parts(_parts("c"))])
    assert ([d["ids"] for d in docs], [(row_id, blob) for row_id, blob, _reason in moved], count) == (
        [["a", "c"]], [(2, damaged)], 1)
    assert "DecodeError" in moved[0][2]


def test_a_pending_row_that_is_not_a_blob_is_quarantined(tmp_path: Path) -> None:
    """SQLite lets a BLOB column hold text or a number: such a row is quarantined too, never a failing seal."""
    docs, moved, count = _quarantined(tmp_path, ["not a row", 7, pack_parts(_parts("a"))])
    assert ([d["ids"] for d in docs], [(row_id, blob) for row_id, blob, _reason in moved], count) == (
        [["a"]], [(1, "not a row"), (2, 7)], 2)


def test_a_row_with_a_short_column_is_quarantined_not_sealed_short(tmp_path: Path) -> None:
    """A row that decodes but whose columns differ in length is quarantined instead of making a wrong digest."""
    whole = _parts("x", "y")[0]
    short = pack_parts([whole._replace(hashes=whole.hashes[:1])])
    docs, moved, count = _quarantined(tmp_path, [short, pack_parts(_parts("z"))])
    assert ([d["ids"] for d in docs], [row_id for row_id, _blob, _reason in moved], count) == ([["z"]], [1], 1)


def test_run_seals_before_the_interval_when_the_mirror_is_full(tmp_path: Path) -> None:
    """With a full mirror the digest thread seals within a second, not after its (one hour) interval."""
    registry = Registry(tmp_path)
    mirror = PendingMirror(2)
    writer = DigestWriter(registry, Elasticsearch("http://127.0.0.1:9", max_retries=0), load_key(tmp_path),
                          TierTable(), DigestSettings(interval=3600.0), mirror)
    stop = threading.Event()
    thread = threading.Thread(target=writer.run, args=(stop,), daemon=True)
    thread.start()
    blob = pack_parts(_parts("a", "b"))

    def store(db: sqlite3.Connection) -> None:
        row_id = db.execute("INSERT INTO digest_pending (records) VALUES (?)", (blob,)).lastrowid
        assert row_id is not None
        mirror.add(row_id, blob, _parts("a", "b"))

    registry.commit_offsets({}, store)
    deadline = time.monotonic() + 10
    while mirror.events and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    thread.join(10)
    with registry.transaction() as db:
        sealed = [orjson.loads(body)["digest"]["ids"] for (body,) in db.execute("SELECT body FROM digest_outbox")]
    registry.close()
    assert (mirror.events, sealed) == (0, [["a", "b"]])


class _Bulk:
    """A node's _bulk answering every item with ``status``; records each request's body."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.bodies: list[bytes] = []

    def options(self, **kw: Any) -> _Bulk:
        return self

    def bulk(self, operations: bytes, filter_path: str) -> Any:
        self.bodies.append(operations)
        items = [{"create": {"status": self.status, "error": {"type": "security_exception"}}}
                 for _ in operations.splitlines()[0::2]]
        return types.SimpleNamespace(body={"items": items})


def _outbox_of(tmp_path: Path, digests: int) -> tuple[Registry, DigestWriter]:
    """A registry whose outbox holds ``digests`` sealed digests (one event each)."""
    registry = Registry(tmp_path)
    writer = DigestWriter(registry, Elasticsearch("http://127.0.0.1:9"), load_key(tmp_path), TierTable(),
                          DigestSettings(max_events=1, seal_events=1_000_000))
    index = TierTable().index_for_day("professional", date(2026, 12, 2))
    blob = pack([Record(index, f"e{i}", b"\x07" * 32, "2026-12-02T10:00:00Z") for i in range(digests)])

    def store(db: sqlite3.Connection) -> None:
        db.execute("INSERT INTO digest_pending (records) VALUES (?)", (blob,))

    registry.commit_offsets({}, store)
    writer.seal()
    return registry, writer


def _outbox_left(registry: Registry) -> int:
    with registry.transaction() as db:
        return int(db.execute("SELECT COUNT(*) FROM digest_outbox").fetchone()[0])


def test_the_outbox_goes_out_in_requests_of_bounded_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An outbox larger than one request's bytes is sent in several requests, each within the bound, all stored."""
    import auditlog.agent.digest_writer as digest_writer

    registry, writer = _outbox_of(tmp_path, 40)
    monkeypatch.setattr(digest_writer, "SEND_BYTES", 4096)
    node = _Bulk(201)
    writer.client = node  # type: ignore[assignment]
    sent = writer.send()
    sizes = [len(b) for b in node.bodies]
    ids = [orjson.loads(a)["create"]["_id"] for b in node.bodies for a in b.splitlines()[0::2]]
    assert (sent, _outbox_left(registry), len(sizes) > 1, max(sizes) <= 4096 + 512, len(set(ids))) == (
        40, 0, True, True, 40)


def test_a_refused_outbox_stays_and_says_so_once_per_request(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Digests refused (a key without the digest indices) stay in the outbox; one warning per request."""
    import auditlog.agent.digest_writer as digest_writer

    registry, writer = _outbox_of(tmp_path, 30)
    monkeypatch.setattr(digest_writer, "SEND_ROWS", 10)
    warned: list[dict[str, Any]] = []
    monkeypatch.setattr(digest_writer.log, "warning", lambda event, **kw: warned.append(kw))
    node = _Bulk(403)
    writer.client = node  # type: ignore[assignment]
    assert (writer.send(), _outbox_left(registry), len(node.bodies), [w["refused"] for w in warned]) == (
        0, 30, 3, [10, 10, 10])


def test_one_send_makes_a_bounded_number_of_requests_and_the_next_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A send stops after SEND_REQUESTS requests (the writer's lock is not held for a whole backlog); the next
    send takes the rest, in order."""
    import auditlog.agent.digest_writer as digest_writer

    registry, writer = _outbox_of(tmp_path, 30)
    monkeypatch.setattr(digest_writer, "SEND_ROWS", 10)
    monkeypatch.setattr(digest_writer, "SEND_REQUESTS", 2)
    node = _Bulk(201)
    writer.client = node  # type: ignore[assignment]
    first = (writer.send(), _outbox_left(registry))
    assert (first, writer.send(), _outbox_left(registry), len(node.bodies)) == ((20, 10), 10, 0, 3)
