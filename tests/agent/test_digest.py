"""Digest feed: records read off bulk entries, released only when the checkpoint passes their whole batch."""

from __future__ import annotations

import hashlib
import sqlite3

import msgspec
import orjson
import pytest
from hypothesis import event as observe
from hypothesis import given, settings
from hypothesis import strategies as st

from auditlog.agent.acks import AckTracker
from auditlog.agent.batcher import Batch
from auditlog.agent.digest import (
    PENDING_SCHEMA,
    DigestFeed,
    PendingMirror,
    columns_of,
    pack,
    pack_parts,
    record_of,
    row_parts,
    unpack,
    unpack_parts,
)
from auditlog.agent.emitter import AuditEmitter, build_processors
from auditlog.agent.enrich import Enricher
from auditlog.agent.fastpath import PassThrough
from auditlog.agent.parser import Parser
from auditlog.agent.redact import Redactor
from auditlog.indexer.integrity import UNKNOWN_HASH, Columns, Record
from auditlog.indexer.tiers import TierTable


def _entry(event_id: str, doc: bytes, index: str = "audit-enterprise-2026.12.02") -> bytes:
    return b'{"create":{"_index":"' + index.encode() + b'","_id":"' + event_id.encode() + b'"}}\n' + doc + b"\n"


def _batch(seq: int, ends: dict[str, int], *ids: str) -> Batch:
    """A batch whose entries ``"<file>/<id>"`` (or ``"<id>"``: the first file) come from the files in ``ends``."""
    first = next(iter(ends))
    keys = [i.split("/")[0] if "/" in i else first for i in ids]
    names = [i.split("/")[-1] for i in ids]
    docs = [orjson.dumps({"@timestamp": "2026-12-02T10:00:00Z", "audit": {"stream": "s", "seq": n}})
            for n in range(len(ids))]
    return Batch(seq, [_entry(i, d) for i, d in zip(names, docs, strict=True)],
                 [(k, "path", n, b"line") for n, k in enumerate(keys)], dict(ends))


def _stored(also: object) -> list[Record]:
    db = sqlite3.connect(":memory:")
    db.execute(PENDING_SCHEMA)
    assert callable(also)
    also(db)
    return [r for (blob,) in db.execute("SELECT records FROM digest_pending") for r in unpack(blob)]


def test_record_holds_index_id_hash_of_the_document_and_stream() -> None:
    """The record names the entry's index and id, hashes exactly the document bytes and reads stream/seq."""
    doc = b'{"@timestamp":"2026-12-02T10:00:00Z","audit":{"stream":"abc","seq":7},"x":1}'
    expected = Record("audit-enterprise-2026.12.02", "e-1", hashlib.sha256(doc).digest(), "2026-12-02T10:00:00Z",
                      "abc", 7)
    assert record_of(_entry("e-1", doc)) == expected


def test_record_of_an_event_without_stream_has_none() -> None:
    """Lines from other producers carry no stream: the record says so instead of failing."""
    doc = b'{"@timestamp":"2026-12-02T10:00:00Z","audit":{"source":"x"}}'
    assert (record_of(_entry("e", doc)).stream, record_of(_entry("e", doc)).seq) == (None, None)


def test_pack_and_unpack_round_trip() -> None:
    """Records survive the pending table's serialisation unchanged."""
    records = [Record("i", "a", b"\x01" * 32, "t", "s", 1), Record("i", "b", b"\x02" * 32, "t", None, None)]
    assert unpack(pack(records)) == records


def test_columns_of_a_batch_hold_the_same_as_its_records() -> None:
    """Columns read off entries, with a stamp or without (the full path), give each entry's record."""
    docs = [b'{"@timestamp":"2026-12-02T10:00:0%dZ","audit":{"stream":"s","seq":%d}}' % (n, n) for n in (1, 2)]
    entries = [_entry(f"e-{n}", d) for n, d in enumerate(docs)]
    stamped = record_of(entries[0])
    stamps = [(stamped.events_index, stamped.id, stamped.timestamp, stamped.stream, stamped.seq), None]
    assert columns_of(entries, stamps).records() == [record_of(e) for e in entries]


def test_columns_of_refuses_a_stamp_without_five_fields() -> None:
    """A stamp short of a field (a bug upstream) fails the batch instead of shifting the columns."""
    entries = [_entry(f"e-{n}", b'{"@timestamp":"t"}') for n in range(2)]
    with pytest.raises(ValueError, match="stamp"):
        columns_of(entries, [("i", "e-0", "t", None, None), ("i", "e-1", "t", None)])  # type: ignore[list-item]


def test_columns_of_refuses_a_stamp_that_is_not_a_tuple() -> None:
    """A stamp of another type (a bug upstream) fails the batch with the same error as a short one."""
    entries = [_entry(f"e-{n}", b'{"@timestamp":"t"}') for n in range(2)]
    with pytest.raises(ValueError, match="stamp"):
        columns_of(entries, [None, 7])  # type: ignore[list-item]


def test_rows_stored_by_earlier_agents_are_still_read() -> None:
    """A pending row of records (as agents stored them before columns) reads as the same events."""
    records = [Record("i", "a", b"\x01" * 32, "t", "s", 1), Record("i", "b", b"\x02" * 32, "t", None, None)]
    assert unpack_parts(msgspec.msgpack.encode(records)) == [Columns.of(records)]


def test_rows_stored_as_plain_columns_are_still_read() -> None:
    """A pending row of plain columns (as agents stored them before coded columns) reads as the same events."""
    records = [Record("i", "a", b"\x01" * 32, "t", "s", 1), Record("j", "b", b"\x02" * 32, "t", None, None)]
    assert unpack_parts(msgspec.msgpack.encode([Columns.of(records)])) == [Columns.of(records)]


_VALUES = st.sampled_from(["audit-enterprise-2026.12.02", "audit-business-2026.12.01", "x", ""])
_EVENT = st.tuples(_VALUES, st.one_of(st.none(), _VALUES), st.one_of(st.none(), st.integers(0, 2**63 - 1)))


def _part(indices: list[str], streams: list[str | None], seqs: list[int | None]) -> Columns:
    count = len(indices)
    return Columns(indices, [f"id{n}" for n in range(count)], [bytes([n % 256]) * 32 for n in range(count)],
                   ["2026-12-02T10:00:00Z"] * count, streams, seqs)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(_EVENT, max_size=30), max_size=3))
def test_coded_columns_round_trip(parts: list[list[tuple[str, str | None, int | None]]]) -> None:
    """Any parts, empty ones and repeated or missing streams included, come back from the pending table unchanged."""
    columns = [_part([i for i, _, _ in p], [s for _, s, _ in p], [q for _, _, q in p]) for p in parts]
    assert unpack_parts(pack_parts(columns)) == columns


@pytest.mark.parametrize(("distinct", "width"), [(1, 0), (2, 1), (256, 1), (257, 2), (65_536, 2), (65_537, 4)])
def test_coded_columns_take_the_narrowest_code_that_holds_every_value(distinct: int, width: int) -> None:
    """Indices are coded in as few bytes per event as their number of distinct values needs, and come back."""
    count = max(distinct, 3)
    part = _part([f"i{n % distinct}" for n in range(count)], ["s"] * count, list(range(count)))
    blob = pack_parts([part])
    assert (len(msgspec.msgpack.decode(blob)[0][1]), unpack_parts(blob)) == (width * count, [part])


def test_coded_columns_store_a_batch_in_far_fewer_bytes() -> None:
    """A batch of one file's events over a few daily indices and one stream takes at most 0.7x the plain columns."""
    count = 2000
    tiers = ("business", "enterprise", "professional")
    part = Columns([f"audit-{tiers[n % 3]}-2026.12.0{n % 2 + 1}" for n in range(count)],
                   [f"01a235f1-de28-75d9-83b6-{n:012d}" for n in range(count)],
                   [hashlib.sha256(b"%d" % n).digest() for n in range(count)],
                   ["2026-12-02T08:49:33.224Z"] * count, ["970f8bbc479643008a4046a09e183f83"] * count,
                   list(range(count)))
    assert len(pack_parts([part])) <= 0.7 * len(msgspec.msgpack.encode([part]))


@pytest.mark.parametrize("codes", [b"\x00\x01", b"\x00\x05\x01", b""])
def test_a_damaged_coded_column_is_a_decode_error(codes: bytes) -> None:
    """Codes that do not fit the events (too few, naming a missing value, absent for two values) fail to decode."""
    row = [["a", "b"], codes, ["x", "y", "z"], [b"h" * 32] * 3, ["t"] * 3, ["s"], b"", [1, 2, 3]]
    with pytest.raises(msgspec.DecodeError):
        unpack_parts(msgspec.msgpack.encode([row]))


def test_an_earlier_agent_cannot_read_coded_rows() -> None:
    """Coded rows are refused by the decoders of agents before them (why docs/operations.md says to stop gracefully)."""
    blob = pack_parts([_part(["i", "j"], ["s", None], [1, None])])
    for earlier in (list[Columns], list[Record]):
        with pytest.raises(msgspec.ValidationError):
            msgspec.msgpack.Decoder(earlier).decode(blob)


@pytest.mark.parametrize("row", [
    # coded: three ids, two hashes (a short column the layout would cut off silently)
    [["a"], b"", ["x", "y", "z"], [b"h" * 32] * 2, ["t"] * 3, ["s"], b"", [1, 2, 3]],
    # coded: a hash of 4 bytes (every later seal would fail on it)
    [["a"], b"", ["x", "y"], [b"h" * 32, b"h" * 4], ["t"] * 2, ["s"], b"", [1, 2]],
    # coded: one seq too few
    [["a"], b"", ["x", "y"], [b"h" * 32] * 2, ["t"] * 2, ["s"], b"", [1]],
], ids=["short-hashes", "short-hash", "short-seqs"])
def test_a_coded_row_that_is_not_whole_is_a_decode_error(row: list[object]) -> None:
    """A coded row whose columns differ in length or hold a short hash is refused, not sealed into a wrong digest."""
    with pytest.raises(msgspec.DecodeError):
        unpack_parts(msgspec.msgpack.encode([row]))


def test_an_earlier_agents_plain_row_that_is_not_whole_is_a_decode_error() -> None:
    """Plain columns (agents before 2026-12-04) with a column short are refused too."""
    part = Columns(["i"] * 2, ["x", "y"], [b"h" * 32] * 2, ["t"] * 2, ["s"] * 2, [1])
    with pytest.raises(msgspec.DecodeError):
        unpack_parts(msgspec.msgpack.encode([part]))


@pytest.mark.parametrize("field", [1, 6])
def test_codes_wider_than_their_table_needs_are_a_decode_error(field: int) -> None:
    """Two-byte positions for a table of two values (index or stream column) do not fit: a damaged row."""
    row = [["a", "b"], b"\x00\x01", ["x", "y"], [b"h" * 32] * 2, ["t"] * 2, ["s", "u"], b"\x01\x00", [1, 2]]
    assert unpack_parts(msgspec.msgpack.encode([row]))[0].streams == ["u", "s"]  # as stored, the row is sound
    row[field] = b"\x00\x00\x01\x00"
    with pytest.raises(msgspec.DecodeError):
        unpack_parts(msgspec.msgpack.encode([row]))


def test_batch_acked_before_an_earlier_one_waits_for_it() -> None:
    """A later batch's records are released together with the earlier batch that holds the checkpoint back."""
    feed, acks = DigestFeed(), AckTracker()
    first, second = _batch(1, {"f": 10}, "a"), _batch(2, {"f": 20}, "b")
    for b in (first, second):
        acks.register(b.seq, b.ends)
        feed.register(b.seq, b.ends)
    advanced, also = feed.ack(acks, second)
    assert (advanced, also) == ({}, None)
    advanced, also = feed.ack(acks, first)
    assert (advanced, [r.id for r in _stored(also)]) == ({"f": 20}, ["a", "b"])


def test_batch_over_two_files_is_released_per_file() -> None:
    """A batch over two files gives up one file's records as soon as that file's checkpoint passes it."""
    feed, acks = DigestFeed(), AckTracker()
    held, both = _batch(1, {"g": 5}, "g/g1"), _batch(2, {"f": 10, "g": 9}, "f/f1", "g/g2")
    for b in (held, both):
        acks.register(b.seq, b.ends)
        feed.register(b.seq, b.ends)
    advanced, also = feed.ack(acks, both)
    assert (advanced, [r.id for r in _stored(also)]) == ({"f": 10}, ["f1"])
    advanced, also = feed.ack(acks, held)
    assert (advanced, [r.id for r in _stored(also)]) == ({"g": 9}, ["g1", "g2"])


def test_dead_lettered_items_are_left_out() -> None:
    """Entries Elasticsearch refused are in no index, so no digest lists them."""
    feed, acks = DigestFeed(), AckTracker()
    batch = _batch(1, {"f": 30}, "ok-1", "refused", "ok-2")
    acks.register(1, batch.ends)
    feed.register(1, batch.ends)
    assert [r.id for r in _stored(feed.ack(acks, batch, [1])[1])] == ["ok-1", "ok-2"]


def test_items_answered_409_are_listed_with_an_unknown_hash() -> None:
    """A duplicate (stored by a killed run's attempt) is listed, with the hash no document has."""
    feed, acks = DigestFeed(), AckTracker()
    batch = _batch(1, {"f": 30}, "new", "stored-before")
    acks.register(1, batch.ends)
    feed.register(1, batch.ends)
    stored = _stored(feed.ack(acks, batch, duplicates=[1])[1])
    assert [(r.id, r.hash == UNKNOWN_HASH) for r in stored] == [("new", False), ("stored-before", True)]


def _columns(*ids: str) -> list[Columns]:
    return [Columns.of(Record("i", i, b"\x03" * 32, "t", "s", n) for n, i in enumerate(ids))]


def _pending_db() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.execute(PENDING_SCHEMA)
    return db


def _released(feed: DigestFeed, batch: Batch) -> object:
    """Register ``batch`` alone and acknowledge it: the feed's write for the checkpoint's transaction."""
    acks = AckTracker()
    acks.register(batch.seq, batch.ends)
    feed.register(batch.seq, batch.ends)
    return feed.ack(acks, batch)[1]


def test_feed_mirrors_the_row_it_stores() -> None:
    """The seal reads a row the feed stored from the mirror, as the columns that were packed into it."""
    mirror = PendingMirror(100)
    also, db = _released(DigestFeed(mirror), _batch(1, {"f": 10}, "a", "b")), _pending_db()
    assert callable(also)
    also(db)
    row_id, blob = db.execute("SELECT id, records FROM digest_pending").fetchone()
    mirrored = mirror.parts(row_id, blob)
    assert mirrored is not None and mirrored == unpack_parts(blob) and mirrored[0].ids == ["a", "b"]


def test_mirror_ignores_a_row_whose_bytes_differ() -> None:
    """A row read back with other bytes than the mirrored ones is unpacked from those bytes (SQLite is the truth)."""
    mirror = PendingMirror(100)
    mirror.add(1, pack_parts(_columns("a")), _columns("a"))
    stored = pack_parts(_columns("b"))
    assert (mirror.parts(1, stored), row_parts(mirror, 1, stored)) == (None, _columns("b"))


def test_insert_rolled_back_leaves_no_entry_that_a_later_row_matches() -> None:
    """After a rolled-back insert, the row that later takes its id is read as itself, mirrored or not."""
    mirror = PendingMirror(100)
    feed, db = DigestFeed(mirror), _pending_db()
    lost = _released(feed, _batch(1, {"f": 10}, "lost"))
    assert callable(lost)
    db.execute("BEGIN")
    lost(db)
    db.execute("ROLLBACK")
    kept = _released(feed, _batch(2, {"g": 10}, "kept"))
    assert callable(kept)
    db.execute("BEGIN")
    kept(db)
    db.execute("COMMIT")
    db.execute("BEGIN")  # another writer (a replay) takes the next id, which a rolled-back insert also used
    lost(db)
    db.execute("ROLLBACK")
    other = pack_parts(_columns("other"))
    db.execute("INSERT INTO digest_pending (records) VALUES (?)", (other,))
    rows = db.execute("SELECT id, records FROM digest_pending ORDER BY id").fetchall()
    assert [row_id for row_id, _blob in rows] == [1, 2]  # both ids were first taken by the rolled-back inserts
    assert [row_parts(mirror, row_id, blob)[0].ids for row_id, blob in rows] == [["kept"], ["other"]]
    assert mirror.parts(*rows[0]) is not None and mirror.parts(*rows[1]) is None


def test_mirror_holds_at_most_its_limit_of_events() -> None:
    """A row that would take the mirror past its limit is not mirrored (the seal unpacks it)."""
    mirror = PendingMirror(3)
    for row_id, ids in enumerate([("a", "b"), ("c", "d"), ("e",)], 1):
        mirror.add(row_id, pack_parts(_columns(*ids)), _columns(*ids))
    held = [mirror.parts(row_id, pack_parts(_columns(*ids))) is not None
            for row_id, ids in enumerate([("a", "b"), ("c", "d"), ("e",)], 1)]
    assert (held, mirror.events) == ([True, False, True], 3)


def test_mirror_is_full_at_its_limit_or_after_leaving_a_row_out() -> None:
    """The mirror asks for a seal once it holds its limit, or once it had to leave a row out."""
    at_limit, refused = PendingMirror(2), PendingMirror(2)
    at_limit.add(1, pack_parts(_columns("a", "b")), _columns("a", "b"))
    refused.add(1, pack_parts(_columns("a")), _columns("a"))
    before = refused.full
    refused.add(2, pack_parts(_columns("b", "c")), _columns("b", "c"))
    assert (at_limit.full, before, refused.full, refused.events) == (True, False, True, 1)


def test_mirror_is_no_longer_full_once_the_seal_forgets_its_rows() -> None:
    """After the seal forgets what it sealed, the mirror takes rows again and asks for no seal."""
    mirror = PendingMirror(1)
    mirror.add(1, pack_parts(_columns("a")), _columns("a"))
    mirror.add(2, pack_parts(_columns("b")), _columns("b"))  # left out
    mirror.forget(2)
    assert (mirror.full, mirror.events) == (False, 0)


def test_mirror_forgets_rows_up_to_the_sealed_id() -> None:
    """Sealed rows leave the mirror, which frees room for the next ones."""
    mirror = PendingMirror(10)
    for row_id in (1, 2, 3):
        mirror.add(row_id, pack_parts(_columns("a")), _columns("a"))
    mirror.forget(2)
    assert ([mirror.parts(r, pack_parts(_columns("a"))) is not None for r in (1, 2, 3)], mirror.events) == (
        [False, False, True], 1)


_ENRICHER = Enricher(TierTable(), Redactor())
_scalar = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False,
                                                                                   allow_infinity=False) | st.text()


@st.composite
def emitter_lines(draw: st.DrawFn) -> bytes:
    """One line the real emitter writes for an app call with arbitrary text, numbers and changes."""
    lines = _Lines()
    emitter = AuditEmitter(lines, build_processors(Redactor()), strict=True)
    log = emitter.logger().bind(tenant=draw(st.text(min_size=1)), tier=draw(st.sampled_from(["enterprise", "basic"])),
                                source=draw(st.text(min_size=1)))
    changes = draw(st.dictionaries(st.from_regex(r"[a-z]{1,8}", fullmatch=True),
                                   st.tuples(_scalar, _scalar | st.lists(_scalar, max_size=3)), max_size=3))
    log.update(draw(st.text()), changes=changes)
    return lines.lines[0].rstrip(b"\n")


class _Lines:
    def __init__(self) -> None:
        self.lines: list[bytes] = []

    def write(self, line: bytes) -> None:
        self.lines.append(line)

    def close(self) -> None:
        pass


@settings(max_examples=200, deadline=None)
@given(emitter_lines())
def test_pass_through_and_full_path_give_the_same_hash(line: bytes) -> None:
    """For an emitter line, the pass-through and the full path (parse, validate, enrich) hash to the same value."""
    fast = PassThrough(_ENRICHER)(line)
    event = Parser()(line)
    assert isinstance(event, dict)
    full = _ENRICHER(event, "key", 0)
    assert isinstance(full, bytes)
    if isinstance(fast, bytes):  # else the full path ships it either way
        observe("pass-through")
        assert record_of(fast).hash == record_of(full).hash


def test_a_batch_whose_records_cannot_be_made_is_acknowledged_unsealed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug making a batch's digest records still moves its checkpoint (its events unsealed, verify says so),
    and later batches of the file are released as usual."""
    from auditlog.agent import digest

    feed, acks = DigestFeed(), AckTracker()
    broken, later = _batch(1, {"f": 10}, "a"), _batch(2, {"f": 20}, "b")
    for b in (broken, later):
        acks.register(b.seq, b.ends)
        feed.register(b.seq, b.ends)
    real = digest.columns_of
    monkeypatch.setattr(digest, "columns_of", lambda *a: (_ for _ in ()).throw(ValueError("a bug upstream")))
    first = feed.ack(acks, broken)
    monkeypatch.setattr(digest, "columns_of", real)
    advanced, also = feed.ack(acks, later)
    assert (first, advanced, [r.id for r in _stored(also)]) == (({"f": 10}, None), {"f": 20}, ["b"])
