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

Bounded: the oldest batches are dropped as soon as the rows after them hold more than ``ids.window``
ids, so an id is remembered for at least ``window`` later ids. Ids are the id's JSON bytes (exact, no
hash collisions); an upgrade from the earlier per-id tables starts the record afresh. A conflict with
an id sent longer ago than the window, or never sent by this state directory, is not detected (it
counts as delivered); a different line with the same CRC-32 and length (about 1 in 4 billion) neither.
"""

from __future__ import annotations

import sqlite3
import threading
import zlib
from array import array
from collections.abc import Sequence
from pathlib import Path

from auditlog.agent.registry import check_pages, damaged_database
from auditlog.agent.statelock import make_state_dir
from auditlog.core.errors import CommandError

try:  # built by pip install where OpenSSL's and zlib's headers are (optional: the install goes on without)
    from auditlog.agent._entries import sent as _native_sent
except ImportError:  # pragma: no cover - only where the extension could not be built
    _native_sent = None
#: whether :func:`sent` runs in C in this installation
NATIVE_SENT = _native_sent is not None

IDS_FILE = "ids.sqlite"
_SCHEMA = "CREATE TABLE IF NOT EXISTS sent (batch INTEGER PRIMARY KEY AUTOINCREMENT, n INTEGER NOT NULL," \
          " ids BLOB NOT NULL, crcs BLOB NOT NULL, lens BLOB NOT NULL)"


def entry_id(entry: bytes) -> bytes:
    """Return the JSON-encoded ``_id`` of a bulk entry (``{"create":{"_index":..,"_id":<id>}}\\n<doc>\\n``)."""
    start = entry.index(b'"_id":') + 6
    return entry[start:entry.index(b"}}\n", start)]


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
        """
        if window < 1:
            raise ValueError("window must be >= 1")
        self.window = window
        path = Path(state_dir) / IDS_FILE
        make_state_dir(path.parent)
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
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise CommandError(damaged_database(path, exc, "a conflict with an id sent before then goes "
                                                           "undetected (409s count as delivered)")) from None

    def remember(self, entries: Sequence[bytes], lines: Sequence[bytes]) -> None:
        """Store the entries' ids with their lines' checksums (one row), then drop batches beyond the window.

        Args:
            entries: bulk entries about to be sent.
            lines: the original line of each entry (same order).

        Raises:
            ValueError: when the counts differ or an entry has no ``_id`` (bugs upstream).
        """
        ids, crcs, lens = sent(entries, lines)
        if not entries:
            return
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("INSERT INTO sent (n, ids, crcs, lens) VALUES (?, ?, ?, ?)",
                                 (len(entries), ids, crcs, lens))
                self._trim()
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _trim(self) -> None:
        """Drop the oldest batches while the batches after them hold more than ``window`` ids."""
        rows = self._db.execute("SELECT batch, n FROM sent ORDER BY batch DESC").fetchall()
        later = 0
        for batch, n in rows:
            if later > self.window:
                self._db.execute("DELETE FROM sent WHERE batch <= ?", (batch,))
                return
            later += n

    def conflicts(self, entries: Sequence[bytes], lines: Sequence[bytes]) -> list[bool]:
        """For entries answered 409: True where the id was first sent with other content.

        Args:
            entries: bulk entries Elasticsearch answered 409.
            lines: their original lines.

        Returns:
            One flag per entry; an id not remembered is not a conflict.
        """
        keys = [entry_id(e) for e in entries]
        first: dict[bytes, int] = {}
        wanted = set(keys)
        with self._lock:
            rows = self._db.execute("SELECT ids, crcs, lens FROM sent ORDER BY batch").fetchall()
        for blob, crcs, lens in rows:  # oldest first: the first content sent for an id is the one kept
            ids = blob.split(b"\n")
            hits = wanted.intersection(ids)
            if not hits:
                continue
            crc, size = array("I", crcs), array("I", lens)
            for i, key in enumerate(ids):
                if key in hits and key not in first:
                    first[key] = (crc[i] << 32) | size[i]
            wanted -= hits
            if not wanted:
                break
        return [k in first and first[k] != checksum(ln) for k, ln in zip(keys, lines, strict=True)]

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()
