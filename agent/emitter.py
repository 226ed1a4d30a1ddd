"""The app-facing audit emitter: ``configure()`` once, then ``get_audit_logger()`` and one call per audit event.

Example::

    from auditlog.agent.emitter import audit_context, configure, get_audit_logger

    configure(path="/var/log/app/audit.jsonl")
    audit = get_audit_logger(source="appointments")

    with audit_context(tenant="org-4711", tier="enterprise", worker_id="w-17", worker_name="Anna"):
        audit.update("moved appointment 4711", changes={"start": ("10:00", "11:00")})

writes one contract v1 line (docs/schema/audit-event-v1.json) to the file. ``get_audit_logger()`` may
run before ``configure()`` (module level): it returns a lazy proxy that finds the configured emitter at
its first call and again after each re-configuration. The logger behind it is a structlog bound
logger (:class:`AuditLogger`) whose methods are the verbs (``auth``, ``logout``, ``create``,
``update``, ``delete``; ``action("export", ...)`` for any other verb; ``emit(event)`` for a ready
nested event). ``bind(...)`` works as in structlog. See docs/app-developer-guide.md.

Writing: the file is opened ``O_WRONLY | O_APPEND | O_CREAT`` and every event is exactly one
``os.write`` of one complete line, so several threads and processes can append to the same file
without interleaving (the kernel appends each write atomically at the end of a local regular file).
After ``logrotate``'s rename+create the writer notices within ``reopen_interval`` seconds and opens
the new file; lines written meanwhile go to the renamed file, which the agent reads to its end.

Bad events: *strict* mode raises :class:`agent.contract.ContractError` at the call; *lenient* mode
reports the problems (callback, or one line on stderr) and writes nothing. Either way a bad line is
never written. The default is strict while pytest is imported or ``AUDITLOG_STRICT=1``, lenient
otherwise (``AUDITLOG_STRICT=0`` forces lenient): app tests fail loudly, production never crashes
because of a malformed audit call. I/O errors (disk full, closed writer) raise ``OSError`` in both
modes: an event that cannot be recorded must not vanish silently.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
import threading
import time
import types
import weakref
from collections.abc import Iterable, Iterator, Mapping
from contextvars import Token
from pathlib import Path
from typing import Any, Literal, Protocol

import structlog.contextvars
from structlog import BoundLoggerBase, DropEvent
from structlog.processors import EventRenamer

from auditlog.agent.contract import ContractError, Problem
from auditlog.agent.processors import (
    ALIASES,
    CONTEXT_KEYS,
    NO_MESSAGE,
    AuditContext,
    Categorizer,
    ChangeRecorder,
    ContractValidator,
    EventIdentifier,
    FieldMapper,
    OrjsonRenderer,
    UtcTimestamper,
)
from auditlog.agent.redact import DEFAULT_SECRET_KEYS, DEFAULT_SECRET_WORDS, Redactor
from auditlog.agent.sequence import StreamSequencer
from auditlog.agent.typing import ProblemReporter, Processor
from auditlog.core.files import write_all
from auditlog.core.terminal import shown

__all__ = [
    "AppendWriter",
    "AuditEmitter",
    "AuditLogger",
    "AuditLoggerProxy",
    "EmitterNotConfiguredError",
    "LineWriter",
    "audit_context",
    "bind_audit_context",
    "build_processors",
    "clear_audit_context",
    "configure",
    "current_emitter",
    "get_audit_logger",
    "shutdown",
]


class LineWriter(Protocol):
    """Where rendered lines go: ``write`` takes one complete line (bytes ending in ``\\n``)."""

    def write(self, line: bytes) -> None: ...

    def close(self) -> None: ...


class EmitterNotConfiguredError(RuntimeError):
    """An audit logger was used while no emitter was configured (call ``configure()`` first)."""


class AppendWriter:
    """Append whole lines to a file with one ``os.write`` each (O_APPEND), reopening after rotation."""

    def __init__(self, path: str | os.PathLike[str], *, mode: int = 0o640, reopen_interval: float = 1.0) -> None:
        """Open the file for appending (created if missing).

        Args:
            path: the log file; its folder must exist.
            mode: permission bits for a new file.
            reopen_interval: seconds between checks that ``path`` is still the open file (rotation);
                0 checks before every write.

        Raises:
            ValueError: when the folder does not exist, ``path`` is a folder, or ``reopen_interval`` < 0.
            OSError: when the file cannot be opened (the message names the path).
        """
        self.path = Path(path)
        if not self.path.parent.is_dir():
            raise ValueError(f"audit log folder does not exist: {self.path.parent}")
        if self.path.is_dir():
            raise ValueError(f"audit log path is a folder, not a file: {self.path}")
        if reopen_interval < 0:
            raise ValueError(f"reopen_interval must be >= 0 seconds, got {reopen_interval}")
        self._mode = mode
        self._interval = reopen_interval
        self._lock = threading.Lock()
        self._fd = -1
        self._identity = (0, 0)
        self._next_check = 0.0
        self._open()
        _WRITERS.add(self)

    def _after_fork(self) -> None:
        self._lock = threading.Lock()

    def _open(self) -> None:
        # O_NONBLOCK: opening a FIFO for writing would wait for a reader, and hang the app, for ever
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(self.path, flags, self._mode)
        except OSError as exc:
            reason = "it is a FIFO, not a file" if exc.errno == errno.ENXIO and _is_fifo(self.path) else exc.strerror
            raise OSError(exc.errno, f"cannot open audit log {self.path} for appending: {reason}") from None
        st = os.fstat(fd)
        if stat.S_ISFIFO(st.st_mode) or stat.S_ISSOCK(st.st_mode):  # a FIFO someone reads: its writes block too
            os.close(fd)
            raise OSError(errno.EINVAL, f"cannot open audit log {self.path} for appending: it is "
                          f"{'a FIFO' if stat.S_ISFIFO(st.st_mode) else 'a socket'}, not a file")
        os.set_blocking(fd, True)  # a file or device: writes wait as they always did (a full disk raises)
        old, self._fd = self._fd, fd
        self._identity = (st.st_dev, st.st_ino)
        self._next_check = time.monotonic() + self._interval
        if old >= 0:
            os.close(old)

    def _rotated(self) -> bool:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return True
        return (st.st_dev, st.st_ino) != self._identity

    def write(self, line: bytes) -> None:
        """Append one complete line with a single write (looping only on a short write, e.g. a full disk).

        Raises:
            OSError: when writing fails (e.g. ENOSPC) or the writer is closed (EBADF).
        """
        lock = self._lock
        lock.acquire()  # not ``with``: the context-manager protocol costs more per line
        try:
            if time.monotonic() >= self._next_check:
                self._check_rotation()
            written = os.write(self._fd, line)
            if written != len(line):
                self._write_rest(line, written)
        finally:
            lock.release()

    def _check_rotation(self) -> None:
        if self._fd < 0:
            raise OSError(errno.EBADF, f"audit log writer for {self.path} is closed")
        if self._rotated():
            self._open()
        else:
            self._next_check = time.monotonic() + self._interval

    def _write_rest(self, line: bytes, written: int) -> None:
        write_all(self._fd, memoryview(line)[written:])

    def close(self) -> None:
        """Close the file; idempotent."""
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1


# A lock held by another thread at fork() would stay locked forever in the child: every live writer
# gets a fresh one there. (One registration for all writers; the weak set lets closed writers go.)
_WRITERS: weakref.WeakSet[AppendWriter] = weakref.WeakSet()


def _writers_after_fork() -> None:
    for writer in list(_WRITERS):
        writer._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_writers_after_fork)


def _is_fifo(path: Path) -> bool:
    try:
        return stat.S_ISFIFO(os.stat(path).st_mode)
    except OSError:
        return False


class _Policy:
    """What one emitter shares with all its loggers: the bad-event policy, counters, the call targets."""

    __slots__ = ("calls", "on_problem", "rejected", "strict")

    def __init__(self, strict: bool, on_problem: ProblemReporter | None, processors: Iterable[Processor]) -> None:
        self.strict = strict
        self.on_problem = on_problem or _report_to_stderr
        self.rejected = 0
        # Calling a bound __call__ skips the slot lookup an instance call pays for every processor and
        # event; the chain is fixed at construction, like structlog's cached loggers.
        self.calls: tuple[Processor, ...] = tuple(
            p if isinstance(p, types.FunctionType | types.BuiltinFunctionType | types.MethodType) else p.__call__  # type: ignore[operator]
            for p in processors
        )


def _safe_text(value: Any, limit: int = 200) -> str:
    """``repr``-free text of an app's value for a report: a value whose ``str`` raises must not raise here."""
    try:
        text = str(value)
    except Exception:  # an object whose __str__ fails (an ORM object after its session closed)
        text = f"<{type(value).__name__} that cannot be shown>"
    return text[:limit]


def _report_to_stderr(event: Mapping[str, Any], problems: list[Any]) -> None:
    ev = event.get("event") if isinstance(event, Mapping) else None
    action = ev.get("action") if isinstance(ev, Mapping) else None
    reasons = "; ".join(_safe_text(p, 1000) for p in problems)
    # the reasons quote the app's field names and values: escaped, so a name with a line break or an escape
    # sequence can neither forge a line in the app's log nor drive the terminal that shows it
    report = shown(f"auditlog: audit event not written (action={_safe_text(action, 80)!r}): {reasons}",
                   line_breaks=False)
    sys.stderr.write(report + "\n")


class AuditLogger(BoundLoggerBase):
    """A structlog bound logger whose methods are audit verbs; each call writes one event or none."""

    _policy: _Policy

    def __init__(self, logger: Any, processors: Iterable[Processor], context: dict[str, Any], policy: _Policy) -> None:
        super().__init__(logger, processors, context)
        self._policy = policy

    def bind(self, **new_values: Any) -> AuditLogger:
        """Return a logger with ``new_values`` added to every event (friendly names or contract paths)."""
        return AuditLogger(self._logger, self._processors, {**self._context, **new_values}, self._policy)

    def new(self, **new_values: Any) -> AuditLogger:
        """Return a logger with only ``new_values`` bound."""
        return AuditLogger(self._logger, self._processors, dict(new_values), self._policy)

    def _proxy_to_logger(self, method_name: str, event: str | None = None, **event_kw: Any) -> Any:
        return self._emit(method_name, event, event_kw)

    def _emit(self, method_name: str, message: str | None, fields: dict[str, Any]) -> None:
        """Run the processors on one event and write the line (structlog's ``_process_event`` inlined).

        ``fields`` must be a dict the caller owns (the verbs pass their own ``**fields``): it becomes
        the event dict without another copy when nothing is bound.
        """
        event_dict: Any = {**self._context, **fields} if self._context else fields
        event_dict["event"] = NO_MESSAGE if message is None else message
        logger = self._logger
        try:
            for proc in self._policy.calls:
                event_dict = proc(logger, method_name, event_dict)
        except DropEvent:
            return
        except ContractError as exc:
            self._reject(exc, fields)
            return
        except OSError:
            raise  # an event that cannot be recorded must not vanish silently (module doc)
        except Exception as exc:  # a value that cannot be turned into text: circular, or its repr raises
            problem = Problem("(event)", f"cannot be written: {type(exc).__name__}: {_safe_text(exc)}")
            self._reject(ContractError([problem]), fields)
            return
        if type(event_dict) is bytes:  # the renderer's output: skip the general checks below
            logger.write(event_dict)
            return
        if not isinstance(event_dict, bytes | bytearray | str):
            raise TypeError(f"the last audit processor must render bytes or str, got {type(event_dict).__name__}")
        logger.write(event_dict if not isinstance(event_dict, str) else event_dict.encode())

    def _reject(self, exc: ContractError, fields: Mapping[str, Any]) -> None:
        """Apply the policy to a refused event: raise (strict) or report and drop (lenient)."""
        policy = self._policy
        policy.rejected += 1
        if policy.strict:
            raise exc
        policy.on_problem(exc.event if exc.event is not None else fields, exc.problems)

    # -- the verbs -------------------------------------------------------------------------------
    # Keyword names: source, tier, changes, outcome, tenant, tenant_name, worker_id, worker_name,
    # worker_email, worker_roles, ip, url, user_agent, login_type, timestamp, event_id (see
    # agent.processors.ALIASES), any dotted contract path, and extra fields (kept as they are).

    def auth(self, message: str | None = None, **fields: Any) -> None:
        """Record a login (``event.action = "auth"``), e.g. ``audit.auth("signed in", outcome="success")``."""
        self._emit("auth", message, fields)

    def logout(self, message: str | None = None, **fields: Any) -> None:
        """Record a logout (``event.action = "logout"``)."""
        self._emit("logout", message, fields)

    def create(self, message: str | None = None, **fields: Any) -> None:
        """Record a creation; ``changes=`` maps field -> ``(old, new)`` or ``{"old", "new"}`` (old = None)."""
        self._emit("create", message, fields)

    def update(self, message: str | None = None, **fields: Any) -> None:
        """Record a change, e.g. ``audit.update("moved", changes={"start": ("10:00", "11:00")})``."""
        self._emit("update", message, fields)

    def delete(self, message: str | None = None, **fields: Any) -> None:
        """Record a deletion; ``changes=`` may hold the removed values (new = None)."""
        self._emit("delete", message, fields)

    def action(self, verb: str, message: str | None = None, **fields: Any) -> None:
        """Record any other verb, e.g. ``audit.action("export", "exported 120 rows", source="reports")``."""
        fields["event.action"] = verb
        self._emit("action", message, fields)

    def emit(self, event: Mapping[str, Any]) -> None:
        """Write a ready event (nested or dotted contract JSON); missing id/timestamp/categories are added.

        Bound and context values fill only what ``event`` lacks. Used by the demo generator and by
        code that builds events itself.
        """
        try:
            fields = dict(event)
        except (TypeError, ValueError):  # not a mapping (None, a list...): a bad call like any other, per the policy
            problem = Problem("$", f"expected an object (a mapping) holding the event, got {type(event).__name__}")
            self._reject(ContractError([problem]), {})
            return
        message = fields.pop("message", None)
        ev = fields.pop("event", None)
        if isinstance(ev, Mapping):
            for key, value in ev.items():
                fields[f"event.{key}"] = value
        elif ev is not None:
            problem = Problem("event", f"expected an object holding event.action, got {type(ev).__name__}")
            self._reject(ContractError([problem], event), fields)
            return
        self._emit("emit", message, fields)


def build_processors(redactor: Redactor | None = None, *, categorize: bool = True) -> list[Processor]:
    """Return the emitter's processor chain (ending in the orjson renderer).

    Args:
        redactor: secret redaction for ``audit.changes`` (``None``: off).
        categorize: add ECS ``event.kind/category/type``.

    Returns:
        The processors in order; apps embedding them elsewhere may swap the last one.
    """
    # The validator checks what the caller supplied (mapped, timestamped, changes normalised). Values
    # the chain generates are valid by construction and not re-checked: the id and
    # the ECS categories are added after the validator (a given event.id / category was checked), and
    # the validator trusts the timestamp its own stamper just made (a given one is checked in full).
    stamper = UtcTimestamper()
    chain: list[Processor] = [
        EventRenamer("message"),
        FieldMapper(),
        AuditContext(),
        stamper,
        ChangeRecorder(redactor),
        ContractValidator(stamper),
        EventIdentifier(),
    ]
    if categorize:
        chain.append(Categorizer())
    chain.append(StreamSequencer())  # last before rendering: a refused event never takes a number
    chain.append(OrjsonRenderer())
    return chain


def _default_strict() -> bool:
    flag = os.environ.get("AUDITLOG_STRICT", "").strip().lower()
    if flag in ("1", "true", "yes", "on"):
        return True
    if flag in ("0", "false", "no", "off"):
        return False
    return "pytest" in sys.modules


class AuditEmitter:
    """A configured emitter: the writer, the processor chain and the bad-event policy."""

    def __init__(
        self,
        writer: LineWriter,
        processors: list[Processor],
        *,
        strict: bool,
        on_problem: ProblemReporter | None = None,
    ) -> None:
        self.writer = writer
        self.processors = processors
        self._policy = _Policy(strict, on_problem, processors)

    @property
    def strict(self) -> bool:
        """Whether a bad event raises (True) or is reported and dropped (False)."""
        return self._policy.strict

    @property
    def rejected(self) -> int:
        """How many events were refused since configuration."""
        return self._policy.rejected

    def logger(self, **bindings: Any) -> AuditLogger:
        """Return an audit logger with ``bindings`` added to every event."""
        return AuditLogger(self.writer, self.processors, dict(bindings), self._policy)

    def close(self) -> None:
        """Close the writer."""
        self.writer.close()


_emitter: AuditEmitter | None = None
_emitter_lock = threading.Lock()


def configure(
    path: str | os.PathLike[str] | None = None,
    *,
    writer: LineWriter | None = None,
    strict: bool | None = None,
    on_problem: ProblemReporter | None = None,
    redact_keys: Iterable[str] | None = DEFAULT_SECRET_KEYS,
    redact_mode: Literal["substring", "exact"] = "substring",
    redact_words: Iterable[str] = DEFAULT_SECRET_WORDS,
    categorize: bool = True,
    file_mode: int = 0o640,
    reopen_interval: float = 1.0,
) -> AuditEmitter:
    """Configure the process-wide audit emitter (replacing and closing a previous one).

    Args:
        path: the JSON-lines file to append to (its folder must exist). Exactly one of ``path``/``writer``.
        writer: any object with ``write(line: bytes)`` and ``close()`` instead of a file.
        strict: raise on a bad event (True) or report and drop it (False); ``None``: see the module doc.
        on_problem: lenient-mode reporter ``(event, problems)``; default one line on stderr.
        redact_keys: secret field names (in ``audit.changes`` and fields the contract does not define);
            ``None`` or empty turns redaction off, value shapes (bearer tokens, JWTs, ...) included.
        redact_mode: ``"substring"`` (default) or ``"exact"`` (see agent.redact).
        redact_words: short secret names matched as whole words of a field name (``pass``, ``sid``, ``pin``).
        categorize: add ECS ``event.kind/category/type`` from the action.
        file_mode: permission bits of a new log file.
        reopen_interval: seconds between rotation checks of ``path``.

    Returns:
        The emitter (also used by :func:`get_audit_logger`).

    Raises:
        ValueError: on a bad option (the message names it) or a missing log folder.
        OSError: when the file cannot be opened.
    """
    global _emitter
    if (path is None) == (writer is None):
        raise ValueError("configure() needs exactly one of path= or writer=")
    if on_problem is not None and not callable(on_problem):
        raise ValueError(f"on_problem must be callable(event, problems), got {on_problem!r}")
    if strict is not None and not isinstance(strict, bool):
        raise ValueError(f"strict must be True, False or None, got {strict!r}")
    keys = [] if redact_keys is None else list(redact_keys)
    redactor = Redactor(keys, words=redact_words, mode=redact_mode) if keys else None
    processors = build_processors(redactor, categorize=categorize)
    sink: LineWriter = (
        writer if writer is not None else AppendWriter(path, mode=file_mode, reopen_interval=reopen_interval)  # type: ignore[arg-type]
    )
    emitter = AuditEmitter(
        sink, processors, strict=_default_strict() if strict is None else strict, on_problem=on_problem
    )
    with _emitter_lock:
        previous, _emitter = _emitter, emitter
    if previous is not None and previous.writer is not sink:
        previous.close()
    return emitter


class AuditLoggerProxy:
    """A lazy audit logger: bound to the configured emitter at first use, re-bound after ``configure()``.

    What :func:`get_audit_logger` returns, so ``audit = get_audit_logger(...)`` works at module level
    (before ``configure()``), keeps working after a re-configuration (tests pointing the emitter at a
    temporary file) and in forked workers. Its methods are :class:`AuditLogger`'s.
    """

    __slots__ = ("_bindings", "_cache")

    def __init__(self, bindings: dict[str, Any]) -> None:
        self._bindings = bindings
        # (emitter, its logger) in one tuple: threads re-binding at once can never pair them wrongly
        self._cache: tuple[AuditEmitter, AuditLogger] | None = None

    def bound(self) -> AuditLogger:
        """Return the real logger of the emitter configured now (cached until the next ``configure()``).

        Raises:
            EmitterNotConfiguredError: when no emitter is configured.
        """
        emitter, cache = _emitter, self._cache
        if cache is not None and cache[0] is emitter:
            return cache[1]
        if emitter is None:
            raise EmitterNotConfiguredError(
                "the audit emitter is not configured: call auditlog.agent.emitter.configure(path=...) first")
        logger = emitter.logger(**self._bindings)
        self._cache = (emitter, logger)
        return logger

    def bind(self, **new_values: Any) -> AuditLoggerProxy:
        """Return a lazy logger with ``new_values`` added to every event."""
        return AuditLoggerProxy({**self._bindings, **new_values})

    def new(self, **new_values: Any) -> AuditLoggerProxy:
        """Return a lazy logger with only ``new_values`` bound."""
        return AuditLoggerProxy(dict(new_values))

    def unbind(self, *keys: str) -> AuditLoggerProxy:
        """Return a lazy logger without ``keys``.

        Raises:
            KeyError: when a key is not bound.
        """
        missing = [key for key in keys if key not in self._bindings]
        if missing:
            raise KeyError(missing[0])
        return self.try_unbind(*keys)

    def try_unbind(self, *keys: str) -> AuditLoggerProxy:
        """Return a lazy logger without ``keys`` (missing ones are ignored)."""
        return AuditLoggerProxy({k: v for k, v in self._bindings.items() if k not in keys})

    # The verbs call the bound logger's _emit with their own **fields dict (no second copy).
    def auth(self, message: str | None = None, **fields: Any) -> None:
        """See :meth:`AuditLogger.auth`."""
        self.bound()._emit("auth", message, fields)

    def logout(self, message: str | None = None, **fields: Any) -> None:
        """See :meth:`AuditLogger.logout`."""
        self.bound()._emit("logout", message, fields)

    def create(self, message: str | None = None, **fields: Any) -> None:
        """See :meth:`AuditLogger.create`."""
        self.bound()._emit("create", message, fields)

    def update(self, message: str | None = None, **fields: Any) -> None:
        """See :meth:`AuditLogger.update`."""
        self.bound()._emit("update", message, fields)

    def delete(self, message: str | None = None, **fields: Any) -> None:
        """See :meth:`AuditLogger.delete`."""
        self.bound()._emit("delete", message, fields)

    def action(self, verb: str, message: str | None = None, **fields: Any) -> None:
        """See :meth:`AuditLogger.action`."""
        fields["event.action"] = verb
        self.bound()._emit("action", message, fields)

    def emit(self, event: Mapping[str, Any]) -> None:
        """See :meth:`AuditLogger.emit`."""
        self.bound().emit(event)

    def __repr__(self) -> str:
        return f"<AuditLoggerProxy bindings={self._bindings!r}>"


def get_audit_logger(**bindings: Any) -> AuditLoggerProxy:
    """Return a lazy audit logger with ``bindings`` on every event; safe to call before :func:`configure`.

    The logger finds the configured emitter at its first call and again after every ``configure()``;
    calling a verb while nothing is configured raises :class:`EmitterNotConfiguredError`.
    """
    return AuditLoggerProxy(dict(bindings))


def _swap_emitter(emitter: AuditEmitter | None) -> AuditEmitter | None:
    """Install ``emitter`` as the process-wide one without closing the previous; return the previous."""
    global _emitter
    with _emitter_lock:
        previous, _emitter = _emitter, emitter
    return previous


def current_emitter() -> AuditEmitter | None:
    """Return the configured emitter, or None."""
    return _emitter


def shutdown() -> None:
    """Close the configured emitter's file and forget it; idempotent."""
    global _emitter
    with _emitter_lock:
        previous, _emitter = _emitter, None
    if previous is not None:
        previous.close()


# -- request/task context (structlog.contextvars) ----------------------------------------------

#: friendly context names -> contract paths: the logger's keyword names, restricted to bindable paths.
_CONTEXT_ARGS: dict[str, str] = {name: path for name, path in ALIASES.items() if path in CONTEXT_KEYS}


def _context_values(fields: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(fields) - set(_CONTEXT_ARGS))
    if unknown:
        raise TypeError(f"unknown audit context field(s) {', '.join(unknown)}; known: {', '.join(_CONTEXT_ARGS)}")
    return {_CONTEXT_ARGS[name]: value for name, value in fields.items() if value is not None}


def bind_audit_context(**fields: Any) -> Mapping[str, Token[Any]]:
    """Bind tenant / tier / worker (and other per-request fields) for every audit event in this context.

    Args:
        fields: any of tenant, tenant_name, tier, source, login_type, worker_id, worker_name,
            worker_email, worker_roles, ip, url, user_agent (``None`` values are skipped).

    Returns:
        structlog's tokens, for ``structlog.contextvars.reset_contextvars(**tokens)``.

    Raises:
        TypeError: on an unknown field name.
    """
    return structlog.contextvars.bind_contextvars(**_context_values(fields))


@contextlib.contextmanager
def audit_context(**fields: Any) -> Iterator[None]:
    """Bind audit context for a ``with`` block (restored afterwards); same fields as :func:`bind_audit_context`."""
    with structlog.contextvars.bound_contextvars(**_context_values(fields)):
        yield


def clear_audit_context() -> None:
    """Remove every audit context field bound in this context (other structlog context stays)."""
    structlog.contextvars.unbind_contextvars(*CONTEXT_KEYS)

