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

The file must be a regular file of its own: a symbolic link (whoever planted it would have the agent append
to, and chmod, its target), a FIFO (the open or the read would block for ever) or a device (``/dev/zero``
never ends) in its place is refused by name, by the agent at its start, by ``dlq list`` and ``dlq replay``;
one that appears while the agent runs holds reading like a full disk. No record is longer than
:data:`MAX_RECORD_BYTES` (the writer cuts a longer one down), so a reader holds at most that much of a line:
a longer one is one ``corrupt dead-letter record`` with a preview.

The writer records the bound it writes under (:func:`record_limit` of ``inputs.max_line_bytes``, or the larger
one an earlier start recorded) in ``<state-dir>/deadletter.limit`` (JSON, mode 0600), so ``dlq list --state-dir``
without the configuration reads what the agent wrote (:func:`saved_limit`) instead of the default's 7 MiB.
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

from auditlog.agent.config import MAX_LINE_BYTES, MIN_LINE_BYTES
from auditlog.agent.registry import REGISTRY_FILE, Registry
from auditlog.agent.statelock import make_state_dir
from auditlog.core.errors import CommandError
from auditlog.core.files import NotRegularFileError, file_kind, open_regular, write_all

DEADLETTER_FILE = "deadletter.jsonl"
REPLAYED_FILE = "deadletter.replayed"  # the marks of earlier versions (read, no longer written)
REPLAYED_SCHEMA = "CREATE TABLE IF NOT EXISTS dlq_replayed (key TEXT PRIMARY KEY)"
PREVIEW_BYTES = 4096


def record_limit(max_line_bytes: int) -> int:
    """The longest record an agent with ``inputs.max_line_bytes`` = ``max_line_bytes`` writes (7 MiB at 1 MiB).

    Readers that know the configuration read no more of a line than this: at the ceiling of 100 MiB lines it
    is :data:`MAX_RECORD_BYTES` (601 MiB), which ``dlq list`` held whole (2.4 GB of RSS for a 590 MiB line).

    Args:
        max_line_bytes: the longest line the harvester keeps (at most ``MAX_LINE_BYTES``).

    Returns:
        Six times the line (escaped JSON) plus 1 MiB for the other fields.
    """
    return 6 * min(max_line_bytes, MAX_LINE_BYTES) + (1 << 20)


#: the longest record (newline included) written or read: the longest line the agent keeps (MAX_LINE_BYTES),
#: six times over (JSON escapes a control byte as ``\u0001``), plus room for the other fields; a record
#: that would be longer has its reason cut (an Elasticsearch reason has no bound), then its line (to a preview)
MAX_RECORD_BYTES = record_limit(MAX_LINE_BYTES)
#: the bound the agent's records were written under (``{"record_limit": N}``), for readers without its configuration
LIMIT_FILE = "deadletter.limit"
#: the most of LIMIT_FILE read: it holds one small JSON object
_MAX_LIMIT_FILE_BYTES = 256
#: the most of a reason a record over MAX_RECORD_BYTES keeps
_REASON_KEPT = 4096
#: the longest line read from deadletter.replayed (a key is an identity and an offset); longer ones match nothing
_MAX_KEY_BYTES = 4096


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

    def to_json(self, now: datetime | None = None, limit: int | None = None) -> bytes:
        """Render the dead-letter record as one JSON line (with the trailing newline), at most MAX_RECORD_BYTES.

        A longer one keeps the first ``_REASON_KEPT`` characters of its reason; one still too long keeps the
        first ``PREVIEW_BYTES`` of its line (``truncated``), as an overlong line would: readers then never
        take a record the agent wrote for a corrupt one.
        """
        limit = MAX_RECORD_BYTES if limit is None else limit  # the configuration's (record_limit), or the ceiling
        data = self._render(now)
        if len(data) > limit and len(self.reason) > _REASON_KEPT:
            data = replace(self, reason=self.reason[:_REASON_KEPT] + "...")._render(now)
        if len(data) > limit:
            data = replace(self, reason=self.reason[:_REASON_KEPT], line=self.line[:PREVIEW_BYTES],
                           line_bytes=self.line_bytes if self.line_bytes >= 0 else len(self.line),
                           truncated=True)._render(now)
        return data

    def _render(self, now: datetime | None) -> bytes:
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
        if not sound_key(rec):  # "05", 5.0, true or no offset: int() made "id:5" of it, which the reader's key
            # ("id:05") never matched, so the replay mark was never seen and the record was replayed on every run
            raise ValueError("identity must be a string and offset a non-negative integer, got "
                             f"{type(rec.get('identity')).__name__} and {type(rec.get('offset')).__name__}")
        b64 = rec.get("line_b64")
        text = rec.get("line", "")
        if b64 is None and not isinstance(text, str):
            raise ValueError(f"line must be a string, got {type(text).__name__}")
        line = base64.b64decode(b64, validate=True) if b64 is not None else text.encode("utf-8")
        return cls(
            reason=str(rec.get("reason", "")),
            line=line,
            offset=rec["offset"],
            file=os.fsdecode(base64.b64decode(rec["file_b64"], validate=True)) if "file_b64" in rec
            else str(rec.get("file", "")),
            identity=str(rec.get("identity", "")),
            stage=str(rec.get("stage", "")),
            line_bytes=int(rec.get("line_bytes", len(line))),
            truncated=bool(rec.get("truncated", False)),
        )


def sound_key(rec: dict[str, Any]) -> bool:
    """Whether a record's ``identity`` (absent or a string) and ``offset`` (an integer >= 0) are as the agent writes
    them: only then is ``identity:offset`` the same key for the reader's de-duplication and the replay mark."""
    offset = rec.get("offset")
    return isinstance(rec.get("identity", ""), str) and type(offset) is int and offset >= 0


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

    def __init__(self, state_dir: str | Path, redact: Callable[[bytes], bytes] | None = None,
                 limit: int | None = None) -> None:
        """Open (or create) the file, readable by the agent's user only.

        Args:
            state_dir: the agent's state directory.
            redact: applied to every line before it is written (e.g. :meth:`agent.redact.Redactor.line`);
                ``None`` keeps lines as read (``redact.raw_dead_letters``).
            limit: the longest record written (:func:`record_limit` of the configuration, what ``dlq`` reads);
                ``None``: :data:`MAX_RECORD_BYTES`.
        """
        self.limit = limit
        self.path = Path(state_dir) / DEADLETTER_FILE
        make_state_dir(self.path.parent)
        self._fd = self._open()
        if limit is not None:
            try:
                save_limit(state_dir, limit)
            except BaseException:
                os.close(self._fd)
                raise
        self._redact = redact
        self._lock = threading.Lock()
        self._unsynced: list[bytes] = []  # records since the last sync (the next sync's work); written again
        # to a recreated file
        self._unsynced_bytes = 0
        self.count = 0

    def _open(self) -> int:
        # a regular file only: through a planted link the agent would append to (and chmod) another file, and
        # the open of a FIFO would block the agent's start past SIGTERM
        fd = open_regular(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
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
            st = os.lstat(self.path)  # a link put in its place is "moved away" too: _open then refuses it
            if (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino):
                return
        except FileNotFoundError:
            pass
        fd = self._open()  # the state directory gone, or a link in its place: raises, and the caller holds the line
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
        # A redactor that raises (a bug, a line it cannot read) must neither stop the record nor let the raw text
        # out: the reader would meet the same line again and again (held for good), and the raw line may hold a
        # secret. What could not be redacted is not kept; the line stays in its file at the record's offset.
        try:  # a reason may quote a value (e.g. a malformed field), so it gets the same rules as the line
            reason = self._redact(dl.reason.encode("utf-8", "surrogateescape")).decode("utf-8", "surrogateescape")
        except Exception as exc:
            reason = f"(reason not kept: redacting it failed: {exc.__class__.__name__})"
        try:
            line = self._redact(dl.line)
        except Exception as exc:
            size = dl.line_bytes if dl.line_bytes >= 0 else len(dl.line)
            return replace(dl, line=b"", line_bytes=size, truncated=True,
                           reason=f"{reason}; the line ({size} bytes) is not kept: redacting it failed "
                                  f"({exc.__class__.__name__}); it is in its file at this offset")
        return replace(dl, line=line, reason=reason)

    def write(self, dl: DeadLetter) -> None:
        """Append one dead letter (:meth:`prepare` d); it is in the kernel's hands on return."""
        self.append(self.prepare(dl))

    def append(self, dl: DeadLetter) -> None:
        """Append one dead letter exactly as given; it is in the kernel's hands (survives a killed agent) on return."""
        data = dl.to_json(limit=self.limit)
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
            try:
                os.fsync(self._fd)
            except OSError as exc:  # whoever says it (the daemon's last line) must be able to name the file
                exc.filename = exc.filename or str(self.path)
                raise
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


def save_limit(state_dir: str | Path, limit: int) -> None:
    """Record ``limit`` (the longest record the agent writes) in ``LIMIT_FILE``, mode 0600, replaced whole.

    A larger bound recorded before is kept: the file may still hold records an agent configured with a longer
    ``inputs.max_line_bytes`` wrote.

    Raises:
        OSError: when the file cannot be written (a link or a folder where its temporary file goes included).
    """
    path = Path(state_dir) / LIMIT_FILE
    if path.is_symlink() or (path.exists() and not path.is_file()):  # named, not the temporary file: and not
        raise NotRegularFileError(path, file_kind(os.lstat(path).st_mode))  # replaced by rename (a folder stays)
    recorded, _problem = saved_limit(state_dir)
    data = orjson.dumps({"record_limit": max(limit, recorded or 0)})
    temporary = path.with_name(f"{LIMIT_FILE}.tmp")
    fd = open_regular(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # a temporary file left wider by another tool
        write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.replace(temporary, path)
    except OSError:
        temporary.unlink(missing_ok=True)
        raise


def saved_limit(state_dir: str | Path) -> tuple[int | None, str | None]:
    """The bound the agent recorded in ``LIMIT_FILE`` (:func:`save_limit`), or why there is none to use.

    Whoever may write the state directory may write this file: a value that is no record limit an agent writes
    (not an integer, below :func:`record_limit` of the smallest ``inputs.max_line_bytes``, above
    :data:`MAX_RECORD_BYTES`) is refused, never followed.

    Returns:
        ``(limit, None)``; ``(None, None)`` when there is no file (an agent of an earlier version);
        ``(None, problem)`` with one line naming the file when it cannot be read or holds no sound limit.
    """
    path = Path(state_dir) / LIMIT_FILE
    try:
        fd = open_regular(path, os.O_RDONLY)
    except FileNotFoundError:
        return None, None
    except NotRegularFileError as exc:  # its message names the file
        return None, str(exc)
    except OSError as exc:
        return None, f"{path}: {exc.strerror or exc}"
    try:
        with os.fdopen(fd, "rb") as fh:
            raw = fh.read(_MAX_LIMIT_FILE_BYTES + 1)
    except OSError as exc:
        return None, f"{path}: {exc.strerror or exc}"
    try:
        value = orjson.loads(raw).get("record_limit") if len(raw) <= _MAX_LIMIT_FILE_BYTES else None
    except (orjson.JSONDecodeError, AttributeError):
        value = None
    low = record_limit(MIN_LINE_BYTES)
    if type(value) is not int or not low <= value <= MAX_RECORD_BYTES:
        return None, f"{path} holds no record limit (an integer from {low} to {MAX_RECORD_BYTES})"
    return value, None


def read_records(state_dir: str | Path, *, include_replayed: bool = False,
                 limit: int | None = None) -> Iterator[dict[str, Any]]:
    """Yield the dead-letter records of a state directory, once per ``identity:offset``.

    Args:
        state_dir: the agent's state directory.
        include_replayed: also yield records that ``dlq replay`` already delivered.
        limit: the longest record read (:func:`record_limit` of the configuration); ``None``:
            :data:`MAX_RECORD_BYTES`. A longer line is ``over-long dead-letter record`` with its byte offset in
            the file (``record_offset``), its length and a preview, and is never held whole.

    Yields:
        The JSON records, in the order they were written; unreadable lines are yielded as
        ``{"reason": "corrupt dead-letter record", "raw": ...}`` rather than dropped (a line longer than
        :data:`MAX_RECORD_BYTES` with only its first ``PREVIEW_BYTES`` in ``raw`` and its length in ``raw_bytes``).

    Raises:
        auditlog.core.files.NotRegularFileError: when the file is a link, a FIFO, a device or a folder.
        CommandError: when the registry's replay marks cannot be read.
        OSError: when the file cannot be read.
    """
    path = Path(state_dir) / DEADLETTER_FILE
    try:
        fd = open_regular(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    with os.fdopen(fd, "rb") as fh:
        done = set() if include_replayed else replayed_keys(state_dir)
        seen: set[str] = set()
        limit = MAX_RECORD_BYTES if limit is None else limit  # looked up per call: tests lower it
        at = 0  # the byte offset of the next line in the file
        while raw := fh.readline(limit + 1):
            if len(raw) > limit:  # no record is this long: say so once, with a preview, and skip to its end
                size, ended = len(raw), raw.endswith(b"\n")  # one byte over with its newline: already whole
                preview, raw = raw[:PREVIEW_BYTES], b""
                while not ended and (more := fh.readline(1 << 20)):
                    size, ended = size + len(more), more.endswith(b"\n")
                yield {"reason": "over-long dead-letter record", "raw": preview.decode("utf-8", "replace"),
                       "raw_bytes": size, "record_offset": at, "limit": limit}
                at += size
                continue
            at += len(raw)
            try:
                rec = orjson.loads(raw)
            except orjson.JSONDecodeError:
                rec = None
            if not isinstance(rec, dict):
                yield {"reason": "corrupt dead-letter record", "raw": raw.decode("utf-8", "replace")}
                continue
            if not sound_key(rec):  # no key to de-duplicate on: each such record is its own (replay rejects it)
                yield rec
                continue
            key = f"{rec.get('identity', '')}:{rec['offset']}"
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
    try:
        fd = open_regular(Path(state_dir) / REPLAYED_FILE, os.O_RDONLY)  # a link to /dev/zero, a FIFO: refused
    except FileNotFoundError:
        pass
    else:
        with os.fdopen(fd, "rb") as fh:
            # keys are ASCII; a damaged byte spoils only its own line (it matches no record), never the listing;
            # a line longer than any key is read a piece at a time, and its pieces match nothing either
            while raw := fh.readline(_MAX_KEY_BYTES):
                if key := raw.rstrip(b"\n").decode("utf-8", "replace"):
                    keys.add(key)
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
