"""Id record: which content the agent sent under each ``event.id``, so a 409 can tell a re-send from a conflict.

Bulk ``create`` answers 409 whenever the ``_id`` exists, for an identical re-send (after a crash, a
copytruncate copy, a replay: delivered, silent) and for a *different* event that reuses the id alike.
Telling them apart by reading the stored document would need read privileges the writer key must not
have, so the agent remembers what it sent: before a batch goes out, every entry's id and a checksum of
its original line (CRC-32 and length) are stored in ``<state-dir>/ids.sqlite`` (SQLite WAL; the first
content stored for an id wins). On a 409 the line's checksum is compared with the stored one: equal
(or unknown) is delivered, different is a conflict.

Bounded: ids live in two generations of ``ids.window`` entries each; when the current one is full the
older one is dropped, so an id is remembered for at least ``window`` and at most ``2 * window`` later
events. Keys are the id's JSON bytes (exact, no hash collisions); the emitter's UUIDv7 ids are time
ordered, so inserts land at the end of the B-tree. A conflict with an id sent longer ago than the
window, or never sent by this state directory, is not detected (it counts as delivered); a different
line with the same CRC-32 and length (about 1 in 4 billion) neither.
"""

from __future__ import annotations

import sqlite3
import threading
import zlib
from collections.abc import Sequence
from pathlib import Path

IDS_FILE = "ids.sqlite"

#: the generations' table names; ``meta.current`` says which one takes new ids.
_TABLES = ("ids_a", "ids_b")


def entry_id(entry: bytes) -> bytes:
    """Return the JSON-encoded ``_id`` of a bulk entry (``{"create":{"_index":..,"_id":<id>}}\\n<doc>\\n``)."""
    start = entry.index(b'"_id":') + 6
    return entry[start:entry.index(b"}}\n", start)]


def checksum(line: bytes) -> int:
    """The content checksum of a line: CRC-32 in the high bits, length in the low 32 bits (a signed 64-bit int)."""
    return ((zlib.crc32(line) << 32) | (len(line) & 0xFFFFFFFF)) - (1 << 63)


class IdRecord:
    """The bounded, persistent map event id -> content checksum of what this agent sent."""

    def __init__(self, state_dir: str | Path, window: int = 1_000_000) -> None:
        """Open (or create) ``ids.sqlite`` in ``state_dir``.

        Args:
            state_dir: the agent's state directory.
            window: ids per generation (an id is remembered for at least this many later ids).

        Raises:
            ValueError: when ``window`` is below 1.
        """
        if window < 1:
            raise ValueError("window must be >= 1")
        self.window = window
        path = Path(state_dir) / IDS_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA cache_size=-16000")  # KiB: the current generation's hot pages
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for table in _TABLES:
                    self._db.execute(f"CREATE TABLE IF NOT EXISTS {table} "
                                     "(id BLOB PRIMARY KEY, sum INTEGER NOT NULL) WITHOUT ROWID")
                self._db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
                self._db.execute("INSERT OR IGNORE INTO meta VALUES ('current', ?)", (_TABLES[0],))
                self._db.execute("INSERT OR IGNORE INTO meta VALUES ('count', '0')")
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _load(self) -> tuple[str, int]:
        meta = dict(self._db.execute("SELECT name, value FROM meta").fetchall())
        return str(meta["current"]), int(meta["count"])

    def remember(self, entries: Sequence[bytes], lines: Sequence[bytes]) -> None:
        """Store each entry's id with its line's checksum, unless the id is already in the current generation.

        Args:
            entries: bulk entries about to be sent.
            lines: the original line of each entry (same order).
        """
        rows = [(entry_id(e), checksum(ln)) for e, ln in zip(entries, lines, strict=True)]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                current, count = self._load()  # another process (dlq replay) may have rotated
                if count >= self.window:  # the older generation goes; the full one becomes the older
                    other = _TABLES[1 - _TABLES.index(current)]
                    self._db.execute(f"DROP TABLE {other}")
                    self._db.execute(f"CREATE TABLE {other} (id BLOB PRIMARY KEY, sum INTEGER NOT NULL) WITHOUT ROWID")
                    self._db.execute("UPDATE meta SET value = ? WHERE name = 'current'", (other,))
                    current, count = other, 0
                count += self._db.executemany(f"INSERT OR IGNORE INTO {current} VALUES (?, ?)", rows).rowcount
                self._db.execute("UPDATE meta SET value = ? WHERE name = 'count'", (str(count),))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def conflicts(self, entries: Sequence[bytes], lines: Sequence[bytes]) -> list[bool]:
        """For entries answered 409: True where the id was sent before with other content.

        The older generation is asked first: it holds what was sent first.

        Args:
            entries: bulk entries Elasticsearch answered 409.
            lines: their original lines.

        Returns:
            One flag per entry; an id not remembered is not a conflict.
        """
        out: list[bool] = []
        with self._lock:
            current = self._load()[0]
            tables = (_TABLES[1 - _TABLES.index(current)], current)
            for e, ln in zip(entries, lines, strict=True):
                key = entry_id(e)
                stored = None
                for table in tables:
                    row = self._db.execute(f"SELECT sum FROM {table} WHERE id = ?", (key,)).fetchone()
                    if row is not None:
                        stored = row[0]
                        break
                out.append(stored is not None and stored != checksum(ln))
        return out

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()
