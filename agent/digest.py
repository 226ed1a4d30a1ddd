"""Digest feed: the acknowledged events of each batch, handed over in the checkpoint's own transaction.

Every event must be covered by exactly one digest, also across kill -9. The feed guarantees it by
releasing a batch's records of one file only when that file's checkpoint moves past the batch, and by
storing them (table ``digest_pending``) in the same SQLite transaction as that checkpoint:

- before that commit a crash re-reads the batch (its events come back as 409 duplicates and are
  recorded then, once);
- after it the records are durable and the batch is never read again.

Items Elasticsearch refused (dead-lettered) are not in any index and are left out. What a record
holds (:class:`indexer.integrity.Record`) is read off the bulk entry itself: the index and id from the
action line, the hash of the exact document bytes, and ``@timestamp`` / ``audit.stream`` /
``audit.seq``. All but the hash come with the batch (:attr:`agent.batcher.Batch.stamps`: the
pass-through has them from its own decode); for an entry without a stamp (the full path) they are cut
from the action line and read with one skipping msgspec decode. This runs on the pipeline's acknowledger
thread, not the reader.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections import deque
from collections.abc import Callable, Iterable

import msgspec

from auditlog.agent.acks import AckTracker
from auditlog.agent.batcher import Batch, Stamp
from auditlog.indexer.integrity import UNKNOWN_HASH, Record, event_hash

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


_new = tuple.__new__
_sha256 = hashlib.sha256  # integrity.event_hash, inlined on the hot path
_decode_stamp = msgspec.json.Decoder(_Stamp).decode
_decode_action = msgspec.json.Decoder(_Create).decode
_HEAD = b'{"create":{"_index":"'
_ID = b'","_id":"'
_encode_rows = msgspec.msgpack.Encoder().encode
_decode_rows = msgspec.msgpack.Decoder(list[Record]).decode


def record_of(entry: bytes, stamp: Stamp | None = None) -> Record:
    """Return what a digest keeps of one bulk ``create`` entry (``action\\ndocument\\n``).

    Args:
        entry: the bulk entry.
        stamp: its index, id, ``@timestamp``, ``audit.stream`` and ``audit.seq`` when the caller has them
            (the pass-through's decode); ``None``: read them from the entry.

    Raises:
        ValueError: when the entry is not an action line and a document (a bug upstream).
    """
    nl = entry.index(b"\n")
    if stamp is not None:  # the agent's usual case: built without Record's Python-level __new__ (~3x cheaper)
        index, event_id, timestamp, stream, seq = stamp
        return _new(Record, (index, event_id, _sha256(memoryview(entry)[nl + 1:-1]).digest(), timestamp, stream, seq))
    cut = entry.find(_ID, 21, nl)
    if entry.startswith(_HEAD) and cut > 0 and entry.find(b"\\", 0, nl) < 0:  # the enricher's plain form
        index, event_id = entry[21:cut].decode(), entry[cut + 9:nl - 3].decode()
    else:  # escapes in the index or id: decode properly
        action = _decode_action(entry[:nl]).create
        index, event_id = action._index, action._id
    doc = memoryview(entry)[nl + 1:-1]
    try:
        read = _decode_stamp(doc)
    except (msgspec.DecodeError, ValueError):  # a type the contract allows but this struct does not
        return Record(index, event_id, event_hash(doc), "")
    audit = read.audit
    if audit is None:
        return Record(index, event_id, event_hash(doc), read.timestamp)
    return Record(index, event_id, event_hash(doc), read.timestamp, audit.stream, audit.seq)


def pack(records: Iterable[Record]) -> bytes:
    """Serialise records for ``digest_pending`` (MessagePack rows)."""
    return _encode_rows(list(records))


def unpack(blob: bytes) -> list[Record]:
    """Read records written by :func:`pack`."""
    return _decode_rows(blob)


def store_pending(db: sqlite3.Connection, records: list[Record]) -> None:
    """Add delivered events' records to the registry's pending table (the next seal signs them)."""
    db.execute(PENDING_SCHEMA)
    if records:
        db.execute("INSERT INTO digest_pending (records) VALUES (?)", (pack(records),))


class _Pending:
    __slots__ = ("acked", "by_key", "remaining")

    def __init__(self, keys: int) -> None:
        self.remaining = keys
        self.acked = False
        self.by_key: dict[str, list[Record]] = {}


class DigestFeed:
    """Tracks batches in seal order per file; releases a batch's records of a file when that file's checkpoint
    passes the batch (exactly when :class:`~agent.acks.AckTracker` advances it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._order: dict[str, deque[int]] = {}
        self._batches: dict[int, _Pending] = {}

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
        skip, stored_before = set(dead), set(duplicates)
        by_key: dict[str, list[Record]] = {}
        stamps = batch.stamps if len(batch.stamps) == len(batch.entries) else [None] * len(batch.entries)
        for i, (entry, origin) in enumerate(zip(batch.entries, batch.origins, strict=True)):
            if i not in skip:
                record = record_of(entry, stamps[i])
                if i in stored_before:
                    record = record._replace(hash=UNKNOWN_HASH)
                by_key.setdefault(origin[0], []).append(record)
        out: list[Record] = []
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
                    out += p.by_key.pop(key, ())
                    p.remaining -= 1
                    if p.remaining <= 0:
                        del self._batches[seq]
                if q is not None and not q:
                    del self._order[key]
            if mine.remaining <= 0:
                self._batches.pop(batch.seq, None)
        if not out:
            return advanced, None
        blob = pack(out)

        def store(db: sqlite3.Connection) -> None:
            db.execute("INSERT INTO digest_pending (records) VALUES (?)", (blob,))

        return advanced, store
