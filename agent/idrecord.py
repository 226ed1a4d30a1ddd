"""Id record: which content the agent sent under each ``event.id``, so a 409 can tell a re-send from a conflict.

Bulk ``create`` answers 409 whenever the ``_id`` exists, for an identical re-send (after a crash, a
copytruncate copy, a replay: delivered, silent) and for a *different* event that reuses the id alike.
Telling them apart by reading the stored document would need read privileges the writer key must not
have, so the agent remembers what it sent: before a batch goes out, its entries' ids and a checksum of
each original line (CRC-32 and length) are stored in ``<state-dir>/ids.sqlite`` (SQLite WAL) as **one
row per batch** (the ids newline-joined, the checksums packed), which costs a fraction of a
microsecond per event; on a 409 the line's checksum is compared with the one stored first for its id:
equal (or unknown) is delivered, different is a conflict. Looking ids up reads the rows back (tens of
milliseconds per answer with 409s at the default window); 409s are rare (re-sends after a crash, replays).

A 409 comes only from the index that holds the id: a second event under an id with another timestamp or tier
routes to another daily index, where Elasticsearch stores it beside the first. So :meth:`IdRecord.remember` also
looks every id up in memory (:class:`IdTable`) before the batch goes out, and answers the positions that reuse an
id with other content; the sink dead-letters those as ``id_conflict`` without sending them.

Bounded: the oldest batches are dropped as soon as the rows after them hold more than ``ids.window``
ids, so an id is remembered for at least ``window`` later ids. The rows' sizes are kept in memory (read
once at opening), so trimming costs no query per batch; rows another process (``dlq replay``) adds
meanwhile are not counted, which can only keep rows longer, never drop one early. Ids are the id's JSON
bytes (exact, no hash collisions); an upgrade from the earlier per-id tables starts the record afresh. A conflict with
an id sent longer ago than the window, or never sent by this state directory, is not detected (it
counts as delivered); a different line with the same CRC-32 and length (about 1 in 4 billion) neither.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
import zlib
from array import array
from collections import deque
from collections.abc import Sequence
from pathlib import Path

from auditlog.agent.registry import check_pages, check_writable, damaged_database
from auditlog.agent.statelock import make_state_dir, private_database
from auditlog.core.errors import CommandError

try:  # built by pip install where OpenSSL's and zlib's headers are (optional: the install goes on without)
    from auditlog.agent._entries import seen as _native_seen
    from auditlog.agent._entries import sent as _native_sent
except ImportError:  # pragma: no cover - only where the extension could not be built
    _native_sent = None
    _native_seen = None
#: whether :func:`sent` runs in C in this installation
NATIVE_SENT = _native_sent is not None

IDS_FILE = "ids.sqlite"
#: ids :meth:`IdRecord.conflicts` searches for in a stored row one by one; with more it splits the row once (a search
#: of a row costs about as much as its split: 2,000 ids searched one by one took 37 s at a full window, not 0.1 s)
_SEARCHED_IDS = 2
_SCHEMA = "CREATE TABLE IF NOT EXISTS sent (batch INTEGER PRIMARY KEY AUTOINCREMENT, n INTEGER NOT NULL," \
          " ids BLOB NOT NULL, crcs BLOB NOT NULL, lens BLOB NOT NULL)"


def entry_id(entry: bytes) -> bytes:
    """Return the JSON-encoded ``_id`` of a bulk entry (``{"create":{"_index":..,"_id":<id>}}\\n<doc>\\n``)."""
    start = entry.index(b'"_id":') + 6
    return entry[start:entry.index(b"}}\n", start)]


def id_position(blob: bytes, key: bytes) -> int | None:
    """Return the position of ``key`` among the newline-joined ids of ``blob`` (a stored row), or None.

    Args:
        blob: ids joined with ``\\n``, as :func:`sent` gives them.
        key: one JSON-encoded id.

    Returns:
        Its index among the row's ids (the first where it occurs twice), None when it is not one of them.
    """
    at = blob.find(key)
    while at >= 0:
        end = at + len(key)
        # a whole id only: "b" also occurs inside "ab" or "b\\"c" (JSON escapes a quote inside an id)
        if (at == 0 or blob[at - 1] == 10) and (end == len(blob) or blob[end] == 10):
            return blob.count(b"\n", 0, at)
        at = blob.find(key, at + 1)
    return None


def sent(entries: Sequence[bytes], lines: Sequence[bytes]) -> tuple[bytes, bytes, bytes]:
    """What :meth:`IdRecord.remember` stores for a batch: its ids newline-joined, its lines' CRC-32s and lengths.

    Uses the C extension ``_entries`` where it is built (one call, the GIL released while it reads),
    else :func:`sent_py`; tests/agent/test_entries.py holds the two equal.

    Args:
        entries: bulk entries.
        lines: the original line of each entry (same order).

    Returns:
        ``(ids, crcs, lens)``: the JSON ``_id`` of each entry joined by newlines (JSON strings escape
        newlines: a safe separator), and ``array("I")`` bytes of each line's CRC-32 and length.

    Raises:
        ValueError: when the counts differ or an entry has no ``_id``.
    """
    return _native_sent(entries, lines) if _native_sent is not None else sent_py(entries, lines)


def sent_py(entries: Sequence[bytes], lines: Sequence[bytes]) -> tuple[bytes, bytes, bytes]:
    """The reference for :func:`sent`: one :func:`entry_id` and one ``zlib.crc32`` per event."""
    if len(entries) != len(lines):
        raise ValueError("one line per entry")
    return (b"\n".join([entry_id(e) for e in entries]), array("I", map(zlib.crc32, lines)).tobytes(),
            array("I", map(len, lines)).tobytes())


_M64 = (1 << 64) - 1
_MIX1, _MIX2, _MIX3, _FP_KEY = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB, 0x5851F42D4C957F2D


def _finish64(z: int) -> int:
    z = ((z ^ (z >> 30)) * _MIX2) & _M64
    z = ((z ^ (z >> 27)) * _MIX3) & _M64
    return z ^ (z >> 31)


def _id_hash(data: bytes, seed: int) -> int:
    h = (seed & _M64) ^ ((len(data) * _MIX1) & _M64)  # the C side takes the seed modulo 2**64
    for at in range(0, len(data), 8):
        h = ((h ^ int.from_bytes(data[at:at + 8], "little")) * _MIX2) & _M64
        h ^= h >> 31
    return _finish64(h)


def _probe(table: memoryview, h: int, fp: int) -> int:
    slots = len(table)
    at = ((h & 0xFFFFFFFF) * slots) >> 32
    for _ in range(slots):
        v = table[at]
        if v == 0 or v >> 24 == fp:
            return at
        at = at + 1 if at + 1 < slots else 0
    return -1


def seen_py(current: bytearray, previous: bytearray | None, ids: bytes, crcs: bytes, lens: bytes, start: int,
            fill: int, limit: int, seed: int) -> tuple[int, int, list[int]]:
    """The reference for the C ``seen`` (:class:`IdTable`'s step): the same table, the same answers.

    Args:
        current: the table ids are added to (64-bit slots: a 40-bit fingerprint of the id, a 24-bit check of
            its line; 0 is empty).
        previous: the table before it, only read (``None``: none yet).
        ids: the batch's JSON ids joined by newlines, as :func:`sent` gives them.
        crcs: their lines' CRC-32s (``array("I")`` bytes).
        lens: their lines' lengths (``array("I")`` bytes).
        start: the position to begin at.
        fill: how many ids ``current`` holds.
        limit: how many it may hold (below its slots).
        seed: the process's hash key.

    Returns:
        The position it stopped at (``len`` when done; earlier when ``current`` reached ``limit``), ``current``'s
        new fill, and the positions whose id was found with another check (candidate conflicts).

    Raises:
        ValueError: when the tables, checks or bounds do not fit, or there are fewer ids than checks.
    """
    table = memoryview(current).cast("Q")
    old = None if previous is None else memoryview(previous).cast("Q")
    crc, size = array("I", crcs), array("I", lens)
    count = len(crc)
    if len(size) != count or not 0 <= start <= count or fill < 0 or not 1 <= limit < len(table):
        raise ValueError("seen(): tables, checks or bounds that do not fit")
    keys = ids.split(b"\n")
    if len(keys) < count and count:
        raise ValueError("seen(): fewer ids than checks")
    found: list[int] = []
    i = start
    while i < count:
        if fill >= limit:
            break
        h = _id_hash(keys[i], seed)
        fp = (_finish64(h ^ _FP_KEY) >> 24) or 1
        check = (crc[i] ^ ((size[i] * 0x9E3779B1) & _M64)) & 0xFFFFFF
        slot = _probe(table, h, fp)
        held = kept = table[slot] if slot >= 0 else 0
        if held == 0 and old is not None:
            at = _probe(old, h, fp)
            held = old[at] if at >= 0 else 0
        if held and held & 0xFFFFFF != check:
            found.append(i)
        if kept == 0 and slot >= 0:
            table[slot] = held or (fp << 24) | check
            fill += 1
        i += 1
    return i, fill, found


#: ids the in-memory table answers for at most (``ids.window`` may be far larger: the table takes about 6 bytes
#: per id of its window, 48 MB here; beyond it a reuse in another index is no longer found before sending)
TABLE_WINDOW = 8_000_000


class IdTable:
    """The ids sent lately, in memory: a second event under one of them with other content is found before it is sent.

    A 409 tells only of an id already in the same index; an event reusing an id with another timestamp or tier goes
    to another daily index, where Elasticsearch stores it beside the first without a word. So every id is looked up
    here before its batch goes out. Two tables of ``window // 2`` ids each (64-bit slots: a 40-bit fingerprint of the
    id, a 24-bit check of the line's CRC-32 and length), the older dropped when the newer is full: an id is known for
    at least ``window // 2`` later ids, about 12 MB at the default window of 1,000,000. A fingerprint found with
    another check is only a candidate: :meth:`IdRecord.remember` confirms it against the exact ids. A reuse whose
    24-bit check happens to match (about 1 in 16 million) passes as a re-send.
    """

    def __init__(self, window: int) -> None:
        """An empty table for ``window`` ids (at least 2)."""
        self.limit = max(1, window // 2)
        self.slots = self.limit + self.limit // 2 + 1  # at most two thirds full: short probes
        self.seed = secrets.randbits(64)  # no one can choose ids that collide here
        self._current = bytearray(8 * self.slots)
        self._previous: bytearray | None = None
        self._fill = 0
        self._seen = _native_seen if _native_seen is not None else seen_py

    def check(self, ids: bytes, crcs: bytes, lens: bytes) -> list[int]:
        """Add a batch's ids (as :func:`sent` gives them); return the positions found before with another check.

        Raises:
            ValueError: when the checks and ids do not fit (a bug upstream).
        """
        found: list[int] = []
        count, at = len(crcs) // 4, 0
        while True:
            at, self._fill, more = self._seen(self._current, self._previous, ids, crcs, lens, at, self._fill,
                                              self.limit, self.seed)
            found += more
            if at >= count:
                return found
            self._previous, self._current, self._fill = self._current, bytearray(8 * self.slots), 0


def checksum(line: bytes) -> int:
    """The content checksum of a line: CRC-32 in the high bits, length in the low 32 bits."""
    return (zlib.crc32(line) << 32) | (len(line) & 0xFFFFFFFF)


class IdRecord:
    """The bounded, persistent map event id -> content checksum of what this agent sent."""

    def __init__(self, state_dir: str | Path, window: int = 1_000_000) -> None:
        """Open (or create) ``ids.sqlite`` in ``state_dir``.

        Args:
            state_dir: the agent's state directory.
            window: ids kept at least (an id is remembered for at least this many later ids).

        Raises:
            ValueError: when ``window`` is below 1.
            OSError: when the file (or a side file of SQLite) cannot be made the agent user's alone: a link,
                a FIFO or a folder in its place (:func:`~auditlog.agent.statelock.private_database`).
        """
        if window < 1:
            raise ValueError("window must be >= 1")
        self.window = window
        path = Path(state_dir) / IDS_FILE
        make_state_dir(path.parent)
        private_database(path)  # the ids of the events shipped: 600, not the umask's 644
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30)
        self._lock = threading.Lock()
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            # a damaged page held every batch at its sender for ever (each retry a traceback naming no file); the
            # check reads every page once: 19 ms for the default window's 47 MB (1,000,000 ids, warm cache); it grows
            # with the file, so the largest window (ids.window = 100,000,000, some GB) pays seconds at each start
            check_pages(self._db)
            with self._lock:
                self._db.execute(_SCHEMA)
                for old in ("ids_a", "ids_b", "meta"):  # the per-id tables of earlier versions (ids dropped)
                    self._db.execute(f"DROP TABLE IF EXISTS {old}")
                check_writable(self._db)  # a file SQLite may only read: one line now, not every batch held for ever
                # (batch, ids) of the rows, oldest first, and their ids in total: what _trim reads
                self._rows: deque[tuple[int, int]] = deque(
                    self._db.execute("SELECT batch, n FROM sent ORDER BY batch").fetchall())
                self._total = sum(n for _, n in self._rows)
                # the ids in memory as they were sent, oldest first (the first content sent under an id is kept)
                self._table = IdTable(min(window, TABLE_WINDOW))
                for ids, crcs, lens in self._db.execute("SELECT ids, crcs, lens FROM sent ORDER BY batch"):
                    self._table.check(ids, crcs, lens)
        except (sqlite3.DatabaseError, ValueError, TypeError) as exc:  # also a row whose columns do not fit
            self._db.close()
            if not isinstance(exc, sqlite3.DatabaseError):
                exc = sqlite3.DatabaseError(f"a stored row does not fit: {exc}")
            raise CommandError(damaged_database(path, exc, "a conflict with an id sent before then goes "
                                                           "undetected (409s count as delivered)")) from None

    def remember(self, entries: Sequence[bytes], lines: Sequence[bytes]) -> list[int]:
        """Store the entries' ids with their lines' checksums (one row), then drop batches beyond the window.

        Args:
            entries: bulk entries about to be sent.
            lines: the original line of each entry (same order).

        Returns:
            The positions of entries whose id was sent before (within the window, this batch included) with other
            content: conflicts, which must not be sent. Found in memory (:class:`IdTable`), confirmed against the
            stored ids, so also where the first event went to another daily index (no 409 would come).

        Raises:
            ValueError: when the counts differ or an entry has no ``_id`` (bugs upstream).
        """
        ids, crcs, lens = sent(entries, lines)
        if not entries:
            return []
        with self._lock:
            kept = self._rows.copy(), self._total  # a few hundred pairs: restored if the transaction fails
            self._db.execute("BEGIN IMMEDIATE")
            try:
                batch = self._db.execute("INSERT INTO sent (n, ids, crcs, lens) VALUES (?, ?, ?, ?)",
                                         (len(entries), ids, crcs, lens)).lastrowid
                self._rows.append((batch, len(entries)))  # type: ignore[arg-type]  # an INSERT always has a rowid
                self._total += len(entries)
                self._trim()
                self._db.execute("COMMIT")
            except BaseException:
                self._rows, self._total = kept  # what the rolled-back transaction added or dropped is back
                self._db.execute("ROLLBACK")
                raise
            # only once the row is stored: a table changed by a transaction that then failed could not be put back
            # (a batch of window/2 ids or more turns its tables over), and the retry would miss a conflict
            candidates = self._table.check(ids, crcs, lens)
        if not candidates:
            return []
        # rare (a reuse, or two ids sharing a 40-bit fingerprint): the stored rows say which is a conflict
        flags = self.conflicts([entries[i] for i in candidates], [lines[i] for i in candidates])
        return [i for i, conflict in zip(candidates, flags, strict=True) if conflict]

    def _trim(self) -> None:
        """Drop the oldest batches while the batches after them hold more than ``window`` ids (one DELETE)."""
        rows = self._rows
        last = None
        while rows and self._total - rows[0][1] > self.window:
            last, n = rows.popleft()
            self._total -= n
        if last is not None:
            self._db.execute("DELETE FROM sent WHERE batch <= ?", (last,))

    def conflicts(self, entries: Sequence[bytes], lines: Sequence[bytes]) -> list[bool]:
        """For entries answered 409: True where the id was first sent with other content.

        Args:
            entries: bulk entries Elasticsearch answered 409.
            lines: their original lines.

        Returns:
            One flag per entry; an id not remembered is not a conflict.
        """
        keys = [entry_id(e) for e in entries]
        wanted = dict.fromkeys(keys)  # each distinct id once, in order
        places: dict[bytes, tuple[int, int]] = {}  # id -> (batch, position) of its first row
        with self._lock:
            # the ids only, searched in place: splitting every row into its ids cost three times the reading
            rows = self._db.execute("SELECT batch, ids FROM sent ORDER BY batch").fetchall()
        for batch, blob in rows:  # oldest first: the first content sent for an id is the one kept
            left = [k for k in wanted if k not in places]
            if len(left) <= _SEARCHED_IDS:  # a reuse candidate or two: each searched in place
                for key in left:
                    at = id_position(blob, key)
                    if at is not None:
                        places[key] = (batch, at)
            else:  # a batch of 409s (a re-send after a crash): one split of the row, not one search of it per id
                ids = blob.split(b"\n")
                if hits := set(left).intersection(ids):
                    for at, key in enumerate(ids):
                        if key in hits and key not in places:  # its first place in the row
                            places[key] = (batch, at)
            if len(places) == len(wanted):
                break
        first: dict[bytes, int] = {}
        batches = sorted({batch for batch, _ in places.values()})
        if batches:
            with self._lock:
                marks = ",".join("?" * len(batches))
                stored = {batch: (array("I", crcs), array("I", lens)) for batch, crcs, lens in self._db.execute(
                    f"SELECT batch, crcs, lens FROM sent WHERE batch IN ({marks})", batches)}
            for key, (batch, at) in places.items():
                if batch in stored:  # else dropped beyond the window meanwhile: not remembered
                    crc, size = stored[batch]
                    first[key] = (crc[at] << 32) | size[at]
        return [k in first and first[k] != checksum(ln) for k, ln in zip(keys, lines, strict=True)]

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()
