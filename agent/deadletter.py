"""Dead letters: lines the agent could not deliver, kept with the reason so nothing is lost.

``<state-dir>/deadletter.jsonl`` holds one JSON object per line: ``time`` (RFC 3339 UTC), ``reason``,
``stage`` (``parse``, ``enrich``, ``route`` or ``index``), ``file``, ``identity``, ``offset`` (byte offset
of the line in the file), ``line`` (the line's text) or ``line_b64`` (base64, when it is not UTF-8), and
``line_bytes`` (its full length). Secrets in the line and in the reason (which may quote a value) are
redacted before the record is written (the redactor's rules, :meth:`agent.redact.Redactor.line`)
unless ``redact.raw_dead_letters`` is set; the file is created with mode 0600 either way. A line longer
than ``inputs.max_line_bytes`` arrives here as its first ``PREVIEW_BYTES`` (the harvester never holds
the rest) and is kept with ``truncated: true``.

``auditlog dlq replay`` records every replayed entry's ``identity:offset`` in the registry (table
``dlq_replayed``, in the same SQLite transaction as the entry's pending digest record, so a replay
cut short never leaves an event recorded for digests but still listed, nor the reverse); marks in
``deadletter.replayed`` (where earlier versions kept them) still count. ``dlq list`` hides those, so
replay is idempotent and never rewrites the file the running agent appends to. After a crash a line may be
dead-lettered twice (it is re-read from the last checkpoint); readers de-duplicate on ``identity:offset``.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import fcntl
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import structlog

from auditlog.agent.registry import REGISTRY_FILE, Registry
from auditlog.agent.statelock import make_state_dir
from auditlog.core.errors import CommandError
from auditlog.core.files import write_all

DEADLETTER_FILE = "deadletter.jsonl"
REPLAYED_FILE = "deadletter.replayed"  # the marks of earlier versions (read, no longer written)
REPLAYED_SCHEMA = "CREATE TABLE IF NOT EXISTS dlq_replayed (key TEXT PRIMARY KEY)"
PREVIEW_BYTES = 4096


@dataclass(slots=True)
class DeadLetter:
    """A line that will not reach Elasticsearch as it is, and why."""

    reason: str
    line: bytes
    offset: int
    file: str = ""
    identity: str = ""
    stage: str = "parse"
    line_bytes: int = -1
    truncated: bool = False

    @property
    def key(self) -> str:
        """``identity:offset``: what makes a dead letter unique."""
        return f"{self.identity}:{self.offset}"

    def to_json(self, now: datetime | None = None) -> bytes:
        """Render the dead-letter record as one JSON line (with the trailing newline)."""
        rec: dict[str, Any] = {
            "time": (now or datetime.now(UTC)).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "reason": self.reason,
            "stage": self.stage,
            "file": self.file,
            "identity": self.identity,
            "offset": self.offset,
        }
        try:
            self.file.encode("utf-8")
        except UnicodeEncodeError:  # a file name that is not UTF-8: readable with escapes, exact in base64
            raw = os.fsencode(self.file)
            rec["file"] = raw.decode("utf-8", "backslashreplace")
            rec["file_b64"] = base64.b64encode(raw).decode("ascii")
        try:
            rec["line"] = self.line.decode("utf-8")
        except UnicodeDecodeError:
            rec["line_b64"] = base64.b64encode(self.line).decode("ascii")
        rec["line_bytes"] = self.line_bytes if self.line_bytes >= 0 else len(self.line)
        if self.truncated:
            rec["truncated"] = True
        return orjson.dumps(rec) + b"\n"

    @classmethod
    def from_json(cls, rec: dict[str, Any]) -> DeadLetter:
        """Rebuild a dead letter from its JSON record.

        Raises:
            ValueError: for a record that cannot be one (bad base64, an offset that is not a number).
        """
        b64 = rec.get("line_b64")
        line = base64.b64decode(b64, validate=True) if b64 is not None else str(rec.get("line", "")).encode("utf-8")
        return cls(
            reason=str(rec.get("reason", "")),
            line=line,
            offset=int(rec.get("offset", -1)),
            file=os.fsdecode(base64.b64decode(rec["file_b64"], validate=True)) if "file_b64" in rec
            else str(rec.get("file", "")),
            identity=str(rec.get("identity", "")),
            stage=str(rec.get("stage", "")),
            line_bytes=int(rec.get("line_bytes", len(line))),
            truncated=bool(rec.get("truncated", False)),
        )


log = structlog.get_logger("auditlog.agent.deadletter")

#: bytes of records written since the last sync that are kept to be written again (see DeadLetterWriter)
_UNSYNCED_KEPT = 16 << 20


def _append_whole(fd: int, records: list[bytes]) -> None:
    """Append ``records`` under the file's lock, all or none: a write that fails is cut back off and raised.

    Without the cut a half record (a full disk) would stay, and the next record would be glued onto it.
    """
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        start = os.fstat(fd).st_size
        try:
            for record in records:
                write_all(fd, record)
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)
            raise
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


class DeadLetterWriter:
    """Appends dead letters to the state directory's file (thread- and process-safe), mode 0600.

    A record is written whole or not at all: a write that fails (a full disk) is cut back off the file and
    raised, so the caller holds the line instead of a checkpoint passing it. The file is looked up before every
    write and sync: one removed or rotated away while the agent runs is created again at its path, and the
    records written since the last sync (which the checkpoint does not cover yet) are written to it again.
    """

    def __init__(self, state_dir: str | Path, redact: Callable[[bytes], bytes] | None = None) -> None:
        """Open (or create) the file, readable by the agent's user only.

        Args:
            state_dir: the agent's state directory.
            redact: applied to every line before it is written (e.g. :meth:`agent.redact.Redactor.line`);
                ``None`` keeps lines as read (``redact.raw_dead_letters``).
        """
        self.path = Path(state_dir) / DEADLETTER_FILE
        make_state_dir(self.path.parent)
        self._fd = self._open()
        self._redact = redact
        self._lock = threading.Lock()
        self._unsynced: list[bytes] = []  # records since the last sync (the next sync's work); written again
        # to a recreated file
        self._unsynced_bytes = 0
        self.count = 0

    def _open(self) -> int:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        os.fchmod(fd, 0o600)  # a file created earlier (or by another tool) may be wider
        return fd

    def _still_there(self) -> None:
        """Make sure the descriptor is the file at :attr:`path`; open a new one there when it was removed or moved.

        Raises:
            OSError: EBADF once :meth:`close` ran. A sender that outlived the shutdown deadline may still write;
                the closed descriptor's number may be another file's by then (a reload opens the next pipeline's
                registry), which a write, or a "moved away" check closing it, would damage.
        """
        if self._fd < 0:
            raise OSError(errno.EBADF, "the dead-letter file is closed (the agent is stopping)")
        own = os.fstat(self._fd)
        try:
            st = os.stat(self.path)
            if (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino):
                return
        except FileNotFoundError:
            pass
        fd = self._open()  # the state directory itself gone: raises, and the caller holds the line
        try:
            _append_whole(fd, self._unsynced)  # all or nothing here too: the retry writes them again
        except OSError:
            os.close(fd)
            raise
        old, self._fd = self._fd, fd
        with contextlib.suppress(OSError):
            os.close(old)
        log.warning("dead-letter file was removed or moved away; writing a new one", path=str(self.path),
                    rewritten=len(self._unsynced))

    def prepare(self, dl: DeadLetter) -> DeadLetter:
        """Return the record as it will be written: line and reason redacted (unless raw lines were asked for)."""
        if self._redact is None:
            return dl
        # a reason may quote a value (e.g. a malformed field), so it gets the same rules as the line
        reason = self._redact(dl.reason.encode("utf-8", "surrogateescape")).decode("utf-8", "surrogateescape")
        return replace(dl, line=self._redact(dl.line), reason=reason)

    def write(self, dl: DeadLetter) -> None:
        """Append one dead letter (:meth:`prepare` d); it is in the kernel's hands on return."""
        self.append(self.prepare(dl))

    def append(self, dl: DeadLetter) -> None:
        """Append one dead letter exactly as given; it is in the kernel's hands (survives a killed agent) on return."""
        data = dl.to_json()
        with self._lock:
            self._still_there()
            _append_whole(self._fd, [data])
            self.count += 1
            self._unsynced.append(data)
            self._unsynced_bytes += len(data)
            if self._unsynced_bytes > _UNSYNCED_KEPT:  # a flood while no checkpoint commits: bound the memory
                with contextlib.suppress(OSError):  # the record is written: the checkpoint's own sync raises it
                    self._sync()

    def sync(self) -> None:
        """fsync the file if anything was written since the last sync (before a checkpoint covers it)."""
        with self._lock:
            self._sync()

    def _sync(self) -> None:
        if self._unsynced:
            self._still_there()
            os.fsync(self._fd)
            self._unsynced.clear()
            self._unsynced_bytes = 0

    def close(self) -> None:
        """Sync and close the file; later writes raise ``OSError`` (EBADF) and touch no descriptor."""
        with self._lock:
            if self._fd < 0:
                return
            try:
                self._sync()
            finally:
                fd, self._fd = self._fd, -1
                os.close(fd)


def read_records(state_dir: str | Path, *, include_replayed: bool = False) -> Iterator[dict[str, Any]]:
    """Yield the dead-letter records of a state directory, once per ``identity:offset``.

    Args:
        state_dir: the agent's state directory.
        include_replayed: also yield records that ``dlq replay`` already delivered.

    Yields:
        The JSON records, in the order they were written; unreadable lines are yielded as
        ``{"reason": "corrupt dead-letter record", "raw": ...}`` rather than dropped.
    """
    path = Path(state_dir) / DEADLETTER_FILE
    if not path.exists():
        return
    done = set() if include_replayed else replayed_keys(state_dir)
    seen: set[str] = set()
    with path.open("rb") as fh:
        for raw in fh:
            try:
                rec = orjson.loads(raw)
            except orjson.JSONDecodeError:
                rec = None
            if not isinstance(rec, dict):
                yield {"reason": "corrupt dead-letter record", "raw": raw.decode("utf-8", "replace")}
                continue
            key = f"{rec.get('identity', '')}:{rec.get('offset', '')}"
            if key in seen or key in done:
                continue
            seen.add(key)
            yield rec


def replayed_keys(state_dir: str | Path) -> set[str]:
    """Return the ``identity:offset`` keys that ``dlq replay`` delivered (registry and earlier versions' file).

    Raises:
        CommandError: when the registry is damaged.
    """
    keys: set[str] = set()
    path = Path(state_dir) / REPLAYED_FILE
    if path.exists():
        # keys are ASCII; a damaged byte spoils only its own line (it matches no record), never the listing
        keys.update(ln for ln in path.read_text("utf-8", errors="replace").splitlines() if ln)
    if not (Path(state_dir) / REGISTRY_FILE).exists():
        return keys
    registry = Registry(state_dir, readonly=True)  # dlq list must not create or change the agent's state
    try:
        with registry.transaction() as db:
            # only a missing table means "nothing marked yet": a locked or damaged database must not read as
            # "no marks", or a replay would send them all again
            if db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'dlq_replayed'").fetchone():
                keys.update(k for (k,) in db.execute("SELECT key FROM dlq_replayed"))
    except sqlite3.Error as exc:  # locked past its timeout, or damaged: one line, never "nothing was replayed"
        raise CommandError(f"cannot read the replay marks in {Path(state_dir) / REGISTRY_FILE}: {exc}") from None
    finally:
        registry.close()
    return keys


def record_replayed(db: sqlite3.Connection, keys: list[str]) -> None:
    """Mark delivered dead letters inside the caller's registry transaction (with their digest records).

    Args:
        db: the registry connection holding an open transaction (:meth:`agent.registry.Registry.transaction`).
        keys: ``identity:offset`` of each delivered dead letter.
    """
    db.execute(REPLAYED_SCHEMA)
    db.executemany("INSERT OR IGNORE INTO dlq_replayed (key) VALUES (?)", [(k,) for k in keys])


def mark_replayed(state_dir: str | Path, keys: list[str]) -> None:
    """Mark delivered dead letters in the registry, in a transaction of their own.

    Args:
        state_dir: the agent's state directory.
        keys: ``identity:offset`` of each delivered dead letter.
    """
    if not keys:
        return
    registry = Registry(state_dir)
    try:
        with registry.transaction() as db:
            record_replayed(db, keys)
    finally:
        registry.close()
