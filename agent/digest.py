"""Digest feed: the acknowledged events of each batch, handed over in the checkpoint's own transaction.

Every event must be covered by exactly one digest, also across kill -9. The feed guarantees it by
releasing a batch's records of one file only when that file's checkpoint moves past the batch, and by
storing them (table ``digest_pending``) in the same SQLite transaction as that checkpoint:

- before that commit a crash re-reads the batch (its events come back as 409 duplicates and are
  recorded then, once);
- after it the records are durable and the batch is never read again.

Items Elasticsearch refused (dead-lettered) are not in any index and are left out. What a digest
keeps of an event (a row of :class:`indexer.integrity.Columns`) is read off the bulk entry itself: the
index and id from the action line, the hash of the exact document bytes, and ``@timestamp`` /
``audit.stream`` / ``audit.seq``. All but the hash come with the batch
(:attr:`agent.batcher.Batch.stamps`: the pass-through has them from its own decode); for an entry
without a stamp (the full path) they are cut from the action line and read with one skipping msgspec
decode. A batch is kept as columns (one list per field), so the only work per event is its hash and a
few C-level list operations. This runs on the pipeline's acknowledger thread, not the reader.

In the pending table a part of columns is one MessagePack array (:class:`_StoredPart`) whose indices and
streams are stored as a table of their distinct values and one small little-endian integer per event (a part
holds one file's events, which name a few daily indices and usually one stream), the other columns as they are:
about 104 bytes per event instead of 183 for the bench's events. SQLite's cost of a pending row follows its
pages, and those rows are most of what the agent writes to SQLite (docs/benchmarks.md, section 21). Rows
stored by earlier agents (plain columns, or records) are still read.
"""

from __future__ import annotations

import hashlib
import operator
import sqlite3
import sys
import threading
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import msgspec
import structlog

from auditlog.agent.acks import AckTracker
from auditlog.agent.batcher import Batch, Stamp
from auditlog.indexer.integrity import HASH_BYTES, UNKNOWN_HASH, Columns, Record, event_hash

log = structlog.get_logger("auditlog.agent.digest")

try:  # built by pip install where OpenSSL's and zlib's headers are (optional: the install goes on without)
    from auditlog.agent._entries import hashes as _native_hashes
except ImportError:  # pragma: no cover - only where the extension could not be built
    _native_hashes = None
#: whether :func:`entry_hashes` runs in C in this installation
NATIVE_HASHES = _native_hashes is not None

PENDING_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS digest_pending (id INTEGER PRIMARY KEY AUTOINCREMENT, records BLOB NOT NULL)"
)


class _AuditStamp(msgspec.Struct, gc=False):
    stream: str | None = None
    seq: int | None = None


class _Stamp(msgspec.Struct, gc=False, rename={"timestamp": "@timestamp"}):
    timestamp: str = ""
    audit: _AuditStamp | None = None


class _Action(msgspec.Struct, gc=False):
    _index: str
    _id: str


class _Create(msgspec.Struct, gc=False):
    create: _Action


class _StoredPart(msgspec.Struct, array_like=True, gc=False):
    """A part of columns as the pending table stores it: indices and streams coded against their distinct values."""

    indices: list[str]  # the distinct indices, in order of first appearance
    index_codes: bytes  # per event its position in ``indices`` (see _coded); empty when there is one index
    ids: list[str]
    hashes: list[bytes]
    times: list[str]
    streams: list[str | None]  # the distinct streams
    stream_codes: bytes
    seqs: list[int | None]


_sha256 = hashlib.sha256  # integrity.event_hash, inlined on the hot path

_decode_stamp = msgspec.json.Decoder(_Stamp).decode
_decode_action = msgspec.json.Decoder(_Create).decode
_HEAD = b'{"create":{"_index":"'
_ID = b'","_id":"'
_encode = msgspec.msgpack.Encoder().encode
_decode_stored = msgspec.msgpack.Decoder(list[_StoredPart]).decode
_decode_parts = msgspec.msgpack.Decoder(list[Columns]).decode  # what agents before 2026-12-04 stored
_decode_rows = msgspec.msgpack.Decoder(list[Record]).decode  # what agents before columns stored
_BIG_ENDIAN = sys.byteorder == "big"  # coded columns are stored little-endian
_file_of = operator.itemgetter(0)
_STAMP_FIELDS = 5  # index, id, @timestamp, audit.stream, audit.seq


def stamp_of(entry: bytes) -> Stamp:
    """Read what a digest keeps of one bulk ``create`` entry besides its hash, off the entry itself.

    Raises:
        ValueError: when the entry is not an action line and a document (a bug upstream).
    """
    nl = entry.index(b"\n")
    cut = entry.find(_ID, 21, nl)
    if entry.startswith(_HEAD) and cut > 0 and entry.find(b"\\", 0, nl) < 0:  # the enricher's plain form
        index, event_id = entry[21:cut].decode(), entry[cut + 9:nl - 3].decode()
    else:  # escapes in the index or id: decode properly
        action = _decode_action(entry[:nl]).create
        index, event_id = action._index, action._id
    try:
        read = _decode_stamp(memoryview(entry)[nl + 1:-1])
    except (msgspec.DecodeError, ValueError):  # a type the contract allows but this struct does not
        return index, event_id, "", None, None
    audit = read.audit
    if audit is None:
        return index, event_id, read.timestamp, None, None
    return index, event_id, read.timestamp, audit.stream, audit.seq


def record_of(entry: bytes, stamp: Stamp | None = None) -> Record:
    """Return what a digest keeps of one bulk ``create`` entry (``action\\ndocument\\n``).

    Args:
        entry: the bulk entry.
        stamp: its index, id, ``@timestamp``, ``audit.stream`` and ``audit.seq`` when the caller has them
            (the pass-through's decode); ``None``: read them from the entry.

    Raises:
        ValueError: when the entry is not an action line and a document (a bug upstream).
    """
    index, event_id, timestamp, stream, seq = stamp if stamp is not None else stamp_of(entry)
    return Record(index, event_id, event_hash(memoryview(entry)[entry.index(b"\n") + 1:-1]), timestamp, stream, seq)


def entry_hashes(entries: Sequence[bytes]) -> list[bytes]:
    """Return :func:`~indexer.integrity.event_hash` of each bulk entry's document (one call per batch).

    Uses the C extension ``_entries`` where it is built (no copy of each document, the GIL released
    while hashing), else :func:`entry_hashes_py`; tests/agent/test_entries.py holds the two equal.

    Raises:
        ValueError: when an entry has no newline (not an action line and a document).
    """
    return _native_hashes(entries) if _native_hashes is not None else entry_hashes_py(entries)


def entry_hashes_py(entries: Sequence[bytes]) -> list[bytes]:
    """The reference for :func:`entry_hashes`: each entry's document cut out and hashed with hashlib."""
    return [_sha256(e[e.index(b"\n") + 1:-1]).digest() for e in entries]


def columns_of(entries: Sequence[bytes], stamps: Sequence[Stamp | None]) -> Columns:
    """Return what digests keep of a batch's entries, as columns (one hash per entry, no object per entry).

    Args:
        entries: bulk entries.
        stamps: one per entry, as :attr:`agent.batcher.Batch.stamps` holds them (``None``: read off the entry).

    Raises:
        ValueError: when an entry is not an action line and a document, or a stamp does not hold five
            fields (bugs upstream).
    """
    if not entries:
        return Columns([], [], [], [], [], [])
    hashes = entry_hashes(entries)
    try:
        flat = _end_to_end(stamps)
    except TypeError:  # a None (a full-path entry) cannot be laid out: found without a scan for None first
        try:
            flat = _end_to_end(_filled(entries, stamps))
        except TypeError:
            raise ValueError("a stamp is not (index, id, timestamp, stream, seq)") from None
    if len(flat) != _STAMP_FIELDS * len(stamps):
        raise ValueError("a stamp is not (index, id, timestamp, stream, seq)")
    return Columns(flat[0::5], flat[1::5], hashes, flat[2::5], flat[3::5], flat[4::5])


def _end_to_end(stamps: Sequence[Stamp | None]) -> list[Any]:
    """The stamps' fields laid end to end, to be transposed by taking every fifth item.

    Half the instructions of ``zip(*stamps)`` (docs/benchmarks.md, section 7c).

    Raises:
        TypeError: when a stamp is ``None`` (or not a tuple).
    """
    flat: list[Any] = []
    deque(map(flat.extend, stamps), maxlen=0)  # type: ignore[arg-type]  # a None raises TypeError
    return flat


def _filled(entries: Sequence[bytes], stamps: Sequence[Stamp | None]) -> list[Stamp | None]:
    """``stamps`` with each ``None`` read off its entry (found by C-level scans, not a loop per entry)."""
    filled = list(stamps)
    at = -1
    while True:
        try:
            at = filled.index(None, at + 1)
        except ValueError:
            return filled
        filled[at] = stamp_of(entries[at])


def pack(records: Iterable[Record]) -> bytes:
    """Serialise records for ``digest_pending`` (one part of coded columns, :class:`_StoredPart`)."""
    return pack_parts([Columns.of(records)])


def pack_parts(parts: list[Columns]) -> bytes:
    """Serialise column parts for ``digest_pending`` (as :class:`_StoredPart`)."""
    stored = []
    for part in parts:
        indices, index_codes = _coded(part.indices)
        streams, stream_codes = _coded(part.streams)
        stored.append(_StoredPart(indices, index_codes, part.ids, part.hashes, part.times, streams, stream_codes,
                                  part.seqs))
    return _encode(stored)


def _code_type(values: int) -> str:
    """The array type of the positions among ``values`` distinct values: the narrowest of 1, 2 or 4 bytes."""
    return "B" if values <= 0x100 else "H" if values <= 0x10000 else "I"


def _coded(column: list[Any]) -> tuple[list[Any], bytes]:
    """A column as its distinct values and, per item, the position of its value among them.

    Positions are little-endian unsigned integers of :func:`_code_type`'s width; a column of one value (or none)
    has no positions.
    """
    table = list(dict.fromkeys(column))
    if len(table) <= 1:
        return table, b""
    position = {value: at for at, value in enumerate(table)}
    codes = array(_code_type(len(table)), map(position.__getitem__, column))
    if _BIG_ENDIAN:  # a state folder may move to another machine: one byte order on disk
        codes.byteswap()
    return table, codes.tobytes()


def _decoded(table: list[Any], codes: bytes, count: int) -> list[Any]:
    """The column :func:`_coded` made ``table`` and ``codes`` of, ``count`` items long.

    Raises:
        msgspec.DecodeError: when the codes do not fit the table or the count (a damaged row).
    """
    if not codes:
        if len(table) != (1 if count else 0):
            raise msgspec.DecodeError("a pending row's coded column does not fit its events")
        return table * count
    positions = array(_code_type(len(table)))
    if len(table) < 2 or len(codes) != count * positions.itemsize:
        raise msgspec.DecodeError("a pending row's coded column does not fit its events")
    positions.frombytes(codes)
    if _BIG_ENDIAN:
        positions.byteswap()
    try:
        return list(map(table.__getitem__, positions))
    except IndexError:
        raise msgspec.DecodeError("a pending row's coded column names a value it does not hold") from None


def unpack_parts(blob: bytes) -> list[Columns]:
    """Read a ``digest_pending`` row as column parts (also plain columns or records, as earlier agents stored them).

    Raises:
        msgspec.DecodeError: when ``blob`` is not a pending row.
    """
    try:
        stored = _decode_stored(blob)
    except msgspec.ValidationError:
        pass
    else:
        return _checked([Columns(_decoded(p.indices, p.index_codes, len(p.ids)), p.ids, p.hashes, p.times,
                                 _decoded(p.streams, p.stream_codes, len(p.ids)), p.seqs) for p in stored])
    try:
        return _checked(_decode_parts(blob))
    except msgspec.ValidationError:
        return _checked([Columns.of(_decode_rows(blob))])


def _checked(parts: list[Columns]) -> list[Columns]:
    """``parts`` when each is whole: columns of one length, every hash :data:`HASH_BYTES` long.

    A row that decodes but is not whole would make wrong digests (a short column is cut off where the
    layout reads it) or fail every seal after it (a short hash); the writer quarantines it instead.

    Raises:
        msgspec.DecodeError: when a part's columns differ in length or a hash is not a full SHA-256.
    """
    for part in parts:
        count = len(part.ids)
        if any(len(column) != count for column in part):
            raise msgspec.DecodeError("a pending row's columns differ in length")
        if count and set(map(len, part.hashes)) != {HASH_BYTES}:  # C-level: no Python loop per event
            raise msgspec.DecodeError(f"a pending row holds a hash that is not {HASH_BYTES} bytes")
    return parts


def unpack(blob: bytes) -> list[Record]:
    """Read a ``digest_pending`` row as records."""
    return [r for part in unpack_parts(blob) for r in part.records()]


def store_pending(db: sqlite3.Connection, records: list[Record]) -> None:
    """Add delivered events' records to the registry's pending table (the next seal signs them)."""
    db.execute(PENDING_SCHEMA)
    if records:
        db.execute("INSERT INTO digest_pending (records) VALUES (?)", (pack(records),))


class PendingMirror:
    """This process's own ``digest_pending`` rows as the feed packed them, so the seal need not unpack them.

    The feed adds a row where it inserts it (on the acknowledger thread, inside the checkpoint's
    transaction); the seal (digest thread) takes a row from here only when the blob it read from SQLite
    is byte for byte the mirrored one, so SQLite stays the truth: after a restart, or for a row another
    process wrote, the seal unpacks as before. An insert that was rolled back leaves an entry no commit
    backs; a later row under the same id either replaces it (inserted through :meth:`add`) or differs in
    its blob, and the seal's :meth:`forget` drops it once the seal passes its id. The mirror holds at most
    ``limit`` events (the pipeline passes :attr:`agent.digest_writer.DigestSettings.seal_events`: one seal
    step's worth): rows beyond that are not mirrored and are unpacked at the seal, which keeps the agent's
    memory bounded when sealing falls behind. :attr:`full` tells the digest writer to seal before its
    interval is over, so a fast agent (more than ``limit`` events per interval) still seals from memory.
    """

    def __init__(self, limit: int) -> None:
        """Hold at most ``limit`` events' columns."""
        self.limit = limit
        self._lock = threading.Lock()  # add runs on the acknowledger thread, parts/forget on the digest thread
        self._rows: dict[int, tuple[bytes, list[Columns], int]] = {}
        self._events = 0
        self._refused = False  # a row was left out since the last seal: seal now

    @property
    def full(self) -> bool:
        """Whether the mirror holds ``limit`` events or had to leave a row out (the seal should run now)."""
        return self._refused or self._events >= self.limit

    @property
    def events(self) -> int:
        """How many events' columns are held."""
        return self._events

    def add(self, row_id: int, blob: bytes, parts: list[Columns]) -> None:
        """Mirror row ``row_id`` (its blob and the columns packed into it) unless that would pass the limit.

        Args:
            row_id: the row's ``id`` in ``digest_pending``.
            blob: the bytes stored in the row.
            parts: what ``blob`` was packed from (:func:`pack_parts`); not copied, so never change them.
        """
        events = sum(len(part.ids) for part in parts)
        with self._lock:
            stale = self._rows.pop(row_id, None)  # an id a rolled-back insert used: this row replaces it
            if stale is not None:
                self._events -= stale[2]
            if self._events + events <= self.limit:
                self._rows[row_id] = (blob, parts, events)
                self._events += events
            else:
                self._refused = True

    def parts(self, row_id: int, blob: bytes) -> list[Columns] | None:
        """Return row ``row_id``'s columns when ``blob`` (read from SQLite) is the mirrored one, else ``None``."""
        with self._lock:
            held = self._rows.get(row_id)
        if held is None or held[0] != blob:
            return None
        return held[1]

    def forget(self, last: int) -> None:
        """Drop every row up to id ``last`` (the seal deleted them from ``digest_pending``)."""
        with self._lock:
            for row_id in [r for r in self._rows if r <= last]:
                self._events -= self._rows.pop(row_id)[2]
            self._refused = False


def row_parts(mirror: PendingMirror | None, row_id: int, blob: bytes) -> list[Columns]:
    """Read a ``digest_pending`` row as column parts: from ``mirror`` when it holds these very bytes, else unpacked.

    Args:
        mirror: this process's stored rows (``None``: unpack).
        row_id: the row's ``id``.
        blob: the row's bytes as read from SQLite.

    Raises:
        msgspec.DecodeError: when an unmirrored blob is not a pending row.
    """
    mirrored = mirror.parts(row_id, blob) if mirror is not None else None
    return mirrored if mirrored is not None else unpack_parts(blob)


def _per_file(batch: Batch, events: Columns, dead: Iterable[int], duplicates: Iterable[int]) -> dict[str, Columns]:
    """Split a batch's columns by the file each entry came from, without the dead-lettered entries."""
    skip, stored_before = set(dead), set(duplicates)
    files = set(map(_file_of, batch.origins))
    if not skip and not stored_before and len(files) == 1:  # the usual batch: one file, everything stored
        return {files.pop(): events}
    if stored_before:
        hashes = list(events.hashes)
        for i in stored_before:
            hashes[i] = UNKNOWN_HASH
        events = events._replace(hashes=hashes)
    positions: dict[str, list[int]] = {}
    for i, origin in enumerate(batch.origins):
        if i not in skip:
            positions.setdefault(origin[0], []).append(i)
    return {key: events.pick(at) for key, at in positions.items()}


class _Pending:
    __slots__ = ("acked", "by_key", "remaining")

    def __init__(self, keys: int) -> None:
        self.remaining = keys
        self.acked = False
        self.by_key: dict[str, Columns] = {}


class DigestFeed:
    """Tracks batches in seal order per file; releases a batch's records of a file when that file's checkpoint
    passes the batch (exactly when :class:`~agent.acks.AckTracker` advances it)."""

    def __init__(self, mirror: PendingMirror | None = None) -> None:
        """Create an empty feed.

        Args:
            mirror: where each stored row's columns are kept for the seal (``None``: the seal unpacks every row).
        """
        self._lock = threading.Lock()
        self._order: dict[str, deque[int]] = {}
        self._batches: dict[int, _Pending] = {}
        self._mirror = mirror

    def register(self, seq: int, keys: Iterable[str]) -> None:
        """Record batch ``seq`` (call where the ack tracker registers it, in seal order)."""
        keys = list(keys)
        with self._lock:
            self._batches[seq] = _Pending(len(keys))
            for key in keys:
                self._order.setdefault(key, deque()).append(seq)

    def ack(
        self, acks: AckTracker, batch: Batch, dead: Iterable[int] = (), duplicates: Iterable[int] = ()
    ) -> tuple[dict[str, int], Callable[[sqlite3.Connection], None] | None]:
        """Acknowledge ``batch`` in ``acks`` and collect the records the checkpoints now pass.

        Checkpoints advance per file, so records are released per file too: a batch holding lines of
        two files may be past one file's checkpoint while the other waits for an earlier batch.

        Args:
            acks: the pipeline's ack tracker (acknowledged under this feed's lock, so both agree).
            batch: the settled batch.
            dead: indices of the batch's entries that were dead-lettered.
            duplicates: indices answered 409: listed with :data:`~indexer.integrity.UNKNOWN_HASH`.

        Returns:
            The advanced offsets, and a write for the checkpoint's transaction (``None``: nothing to add).
        """
        stamps = batch.stamps if len(batch.stamps) == len(batch.entries) else [None] * len(batch.entries)
        try:
            by_key = _per_file(batch, columns_of(batch.entries, stamps), dead, duplicates)
        except Exception as exc:  # a bug: the batch is still acknowledged (its checkpoint moves), its events unsealed
            log.error("the digest records of a batch could not be made; its events stay unsealed (auditlog verify "
                      "reports them), shipping goes on", events=len(batch.entries),
                      error=f"{exc.__class__.__name__}: {exc}"[:300])
            by_key = {}
        out: list[Columns] = []
        with self._lock:
            advanced = acks.ack(batch.seq, list(batch.ends))
            mine = self._batches.get(batch.seq)
            if mine is None:  # never registered: nothing to hold it back
                mine = self._batches[batch.seq] = _Pending(0)
            mine.acked, mine.by_key = True, by_key
            for key in batch.ends:
                q = self._order.get(key)
                while q and self._batches[q[0]].acked:
                    seq = q.popleft()
                    p = self._batches[seq]
                    part = p.by_key.pop(key, None)
                    if part is not None and part.ids:
                        out.append(part)
                    p.remaining -= 1
                    if p.remaining <= 0:
                        del self._batches[seq]
                if q is not None and not q:
                    del self._order[key]
            if mine.remaining <= 0:
                self._batches.pop(batch.seq, None)
        if not out:
            return advanced, None
        blob = pack_parts(out)
        mirror = self._mirror

        def store(db: sqlite3.Connection) -> None:
            row_id = db.execute("INSERT INTO digest_pending (records) VALUES (?)", (blob,)).lastrowid
            if mirror is not None and row_id is not None:
                mirror.add(row_id, blob, out)

        return advanced, store
