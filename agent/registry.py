"""Checkpoint registry: one row per file identity with the offset Elasticsearch acknowledged.

Stored in SQLite (WAL journal) under the state directory. The ``offset`` column only ever holds an
offset up to which every line was acknowledged by Elasticsearch or dead-lettered (the pipeline's
:class:`agent.acks.AckTracker` decides that), so restarting from it re-sends at most the events of
the batches in flight at a crash, which Elasticsearch answers with 409 (already delivered).

``synchronous=NORMAL`` in WAL mode survives a killed process (the kernel has the pages); after a power
loss the last commits may roll back, which only means re-sending more events, still exactly-once
thanks to ``_id = event.id``.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from auditlog.agent.identity import FileIdentity
from auditlog.agent.statelock import make_state_dir, private_database
from auditlog.core.errors import CommandError

REGISTRY_FILE = "registry.sqlite"

#: Row states: ``active`` is harvested (or will be again), ``done`` was drained and closed,
#: ``truncated`` was superseded by copytruncate, ``gone`` vanished before it was fully shipped,
#: ``copy`` is the inode of logrotate's copy of another identity (read under that identity's key).
STATES = ("active", "done", "truncated", "gone", "copy")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    identity TEXT PRIMARY KEY,
    dev INTEGER NOT NULL,
    ino INTEGER NOT NULL,
    fp_len INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    generation INTEGER NOT NULL,
    path TEXT NOT NULL,
    offset INTEGER NOT NULL,
    size INTEGER NOT NULL,
    state TEXT NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS files_dev_ino ON files (dev, ino);
CREATE TABLE IF NOT EXISTS meta (
    name TEXT PRIMARY KEY,
    value REAL NOT NULL
);
"""

#: the columns of ``files``, in the order ``_row_to_state`` reads them
_COLUMNS = ("identity", "dev", "ino", "fp_len", "fingerprint", "generation", "path", "offset", "size", "state",
            "updated")


@dataclass(slots=True)
class FileState:
    """One registry row: a file identity, where it was last seen and its acknowledged offset."""

    ident: FileIdentity
    path: str
    offset: int = 0
    size: int = 0
    state: str = "active"
    updated: float = 0.0

    @property
    def key(self) -> str:
        """The identity string."""
        return self.ident.key

    @property
    def lag(self) -> int:
        """Bytes written but not yet acknowledged."""
        return max(self.size - self.offset, 0)


#: what moving a damaged registry aside means (the message of :func:`damaged_database`)
REREAD = "files are then read again from their start and Elasticsearch answers 409 for what it has (nothing twice)"


#: SQLite's primary result codes of storage that fails under a sound file: SQLITE_IOERR, SQLITE_FULL
_STORAGE_FAILURES = frozenset({10, 13})
#: ... and of a user who may not open it: SQLITE_PERM, SQLITE_READONLY (a read-only open of a WAL database needs
#: its folder's write permission to make the ``-shm`` file), SQLITE_CANTOPEN
_NO_ACCESS = frozenset({3, 8, 14})


def damaged_database(path: Path, exc: sqlite3.DatabaseError, afresh: str = REREAD) -> str:
    """The one line for a state database that SQLite cannot open: which, why, and what to do (pure).

    A full or failing state disk is not a damaged file: the open fails there when SQLite cannot create or grow the
    ``-wal``/``-shm`` files beside it (``disk I/O error``) or the file itself (``database or disk is full``). Moving
    the file aside would not help (a new one cannot be written either) and would lose what it holds: the
    registry's checkpoints and the digest records of events not sealed yet (their proof). That case says to free
    space instead. A user who may read the file but not write its folder (``auditlog agent status`` run by
    someone else than the agent's user, the agent stopped: a read-only open of a WAL database makes a ``-shm``
    file) is not told to move it aside either. (A folder in the file's place fails with an I/O error too: that
    one is moved aside.)

    Args:
        path: the database file.
        exc: what SQLite raised.
        afresh: what moving a damaged file aside means for the agent.

    Returns:
        The message.
    """
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    keep = "keeping the file where it is (it is not known to be damaged, and moving it aside loses what it holds)"
    if code in _STORAGE_FAILURES and os.path.isfile(path):  # a folder in its place fails with an I/O error too
        return f"{path} cannot be opened ({exc}): the state disk is full or failing; free space on it (or check it) " \
               f"and start again, {keep}"
    if code in _NO_ACCESS and os.path.isfile(path):
        return f"{path} cannot be opened ({exc}): this user may not read or write it or its folder (its mode or " \
               f"owner, an immutable flag, a read-only mount); run this as the agent's user or fix that, {keep}"
    return f"{path} cannot be read ({exc}); move it aside to start afresh: {afresh}"


def _stored_path(path: str) -> str | bytes:
    """The path as the ``path`` column holds it: text, or the name's raw bytes when they are not UTF-8.

    A file name may hold any bytes but ``/`` and NUL; Python decodes the others to lone surrogates, which
    SQLite's text cannot take. SQLite keeps a column's values as given, so those rows hold a blob.
    """
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(path)
    return path


def _row_to_state(row: tuple[object, ...]) -> FileState:
    _key, dev, ino, fp_len, fp, gen, path, offset, size, state, updated = row
    ident = FileIdentity(int(dev), int(ino), int(fp_len), str(fp), int(gen))  # type: ignore[call-overload]
    name = os.fsdecode(path) if isinstance(path, bytes) else str(path)
    return FileState(ident, name, int(offset), int(size), str(state), float(updated))  # type: ignore[call-overload, arg-type]


def check_writable(db: sqlite3.Connection) -> None:
    """Make a write fail at the open when SQLite opened the database for reading only (rolled back: nothing changes).

    SQLite opens a file it may not write (mode 444 for the agent's user, an immutable flag) for reading without a
    word and refuses only the first write: the registry's came in the agent's first scan, a traceback that stopped
    the agent; the id record's in the first batch's, whose sender retried it for ever. A full disk does not fail
    here (the page is written only at a commit).

    Raises:
        sqlite3.OperationalError: ``attempt to write a readonly database`` (SQLITE_READONLY).
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute("CREATE TABLE write_check (x)")
    finally:
        db.execute("ROLLBACK")


def check_pages(db: sqlite3.Connection) -> None:
    """Read every page of the database once (``PRAGMA quick_check``): a damaged one fails the open, not a later read.

    A file with a sound header and a damaged page opened fine, then the first read of that page raised at the
    agent's start (a traceback, and again at every restart) or in ``auditlog agent status``; in ``ids.sqlite`` the
    first batch's record failed, and its sender retried it for ever. The registry is small (a row per file, the
    digest rows not sealed yet) and the id record about 47 bytes per id: the check costs milliseconds.

    Raises:
        sqlite3.DatabaseError: naming the first problem SQLite found.
    """
    rows = db.execute("PRAGMA quick_check").fetchall()
    if rows != [("ok",)]:
        raise sqlite3.DatabaseError(f"database disk image is malformed: {str(rows[0][0] if rows else '?')[:200]}")


class Registry:
    """Crash-safe store of per-identity checkpoints (thread-safe)."""

    def __init__(self, state_dir: str | Path, *, readonly: bool = False) -> None:
        """Open (and create unless ``readonly``) the registry in ``state_dir``.

        Raises:
            FileNotFoundError: when ``readonly`` and there is no registry yet.
            OSError: when the file (or a side file of SQLite) cannot be made the agent user's alone: a link,
                a FIFO or a folder in its place (:func:`~auditlog.agent.statelock.private_database`).
        """
        self.path = Path(state_dir) / REGISTRY_FILE
        self._lock = threading.Lock()
        if readonly:
            if not self.path.exists():
                raise FileNotFoundError(str(self.path))
            # the path goes into a URI: '?', '#' or '%' in it must not end it (and drop the mode=ro after it)
            uri = f"file:{urllib.parse.quote(os.fsencode(self.path))}?mode=ro"
            try:
                self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
            except sqlite3.DatabaseError as exc:  # a directory in its place
                raise CommandError(damaged_database(self.path, exc)) from None
        else:
            make_state_dir(self.path.parent)
            private_database(self.path)  # offsets per file name, pending digest rows: 600, not the umask's 644
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        try:
            self._db.execute("SELECT count(*) FROM sqlite_master")  # reads the header: a damaged file fails here
            check_pages(self._db)
            if readonly:  # an empty file or another program's database: nothing to create it with here
                self._db.execute(f"SELECT {', '.join(_COLUMNS)} FROM files LIMIT 0")
                self._db.execute("SELECT name, value FROM meta LIMIT 0")
            else:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.executescript(_SCHEMA)
                check_writable(self._db)
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise CommandError(damaged_database(self.path, exc)) from None

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """BEGIN ... COMMIT, rolled back on error so the connection stays usable (caller holds the lock)."""
        self._db.execute("BEGIN")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def all(self) -> list[FileState]:
        """Return every row, most recently updated last."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM files ORDER BY updated, identity").fetchall()
        return [_row_to_state(r) for r in rows]

    def get(self, key: str) -> FileState | None:
        """Return the row of identity ``key``."""
        with self._lock:
            row = self._db.execute("SELECT * FROM files WHERE identity = ?", (key,)).fetchone()
        return _row_to_state(row) if row else None

    def for_inode(self, dev: int, ino: int) -> list[FileState]:
        """Return every identity recorded for one device+inode, newest generation first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM files WHERE dev = ? AND ino = ? ORDER BY generation DESC", (dev, ino)
            ).fetchall()
        return [_row_to_state(r) for r in rows]

    def add(self, st: FileState) -> None:
        """Insert a new identity (committed before anything of it is shipped, so its id is stable)."""
        i = st.ident
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO files VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (i.key, i.dev, i.ino, i.fp_len, i.fingerprint, i.generation, _stored_path(st.path), st.offset, st.size,
                 st.state, time.time()),
            )

    def commit_offsets(
        self, offsets: Mapping[str, int], also: Callable[[sqlite3.Connection], None] | None = None
    ) -> None:
        """Record acknowledged offsets, all in one transaction (offsets never move backwards).

        Args:
            offsets: identity -> acknowledged offset.
            also: more writes that must land in the same transaction (the digest feed's records).
        """
        if not offsets and also is None:
            return
        now = time.time()
        with self._lock, self._transaction():
            self._db.executemany(
                "UPDATE files SET offset = MAX(offset, ?), updated = ? WHERE identity = ?",
                [(off, now, key) for key, off in offsets.items()],
            )
            if also is not None:
                also(self._db)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Hold the registry for one transaction of another component's tables (e.g. the digest chain)."""
        with self._lock, self._transaction():
            yield self._db

    def update(self, key: str, *, path: str | None = None, size: int | None = None, state: str | None = None) -> None:
        """Update where a file was seen, its size and/or its state."""
        sets, args = [], []
        for col, val in (("path", None if path is None else _stored_path(path)), ("size", size), ("state", state)):
            if val is not None:
                sets.append(f"{col} = ?")
                args.append(val)
        if not sets:
            return
        with self._lock:
            self._db.execute(
                f"UPDATE files SET {', '.join(sets)}, updated = ? WHERE identity = ?", (*args, time.time(), key)
            )

    def prune(self, max_age: float) -> int:
        """Forget closed identities (not ``active``) untouched for ``max_age`` seconds; return how many."""
        with self._lock:
            cur = self._db.execute(
                "DELETE FROM files WHERE state != 'active' AND updated < ?", (time.time() - max_age,)
            )
            return cur.rowcount

    def last_scan(self) -> float | None:
        """Return the wall-clock time the previous run last started matching the globs, if recorded."""
        with self._lock:
            try:
                row = self._db.execute("SELECT value FROM meta WHERE name = 'last_scan'").fetchone()
            except sqlite3.OperationalError:  # a read-only registry written before the meta table existed
                return None
        return float(row[0]) if row else None

    def set_last_scan(self, when: float) -> None:
        """Record the wall-clock time a scan of the globs started (see :meth:`last_scan`)."""
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('last_scan', ?)", (when,))

    def update_sizes(self, sizes: Iterable[tuple[str, int]]) -> None:
        """Record the latest known sizes of several files (for lag reporting)."""
        with self._lock, self._transaction():
            self._db.executemany("UPDATE files SET size = ? WHERE identity = ?", [(s, k) for k, s in sizes])
