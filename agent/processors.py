"""The emitter's structlog processors: tiny callables ``(logger, method_name, event_dict) -> event_dict``.

Each checks its options once in ``__init__`` and does only its one job per event. The emitter
(:mod:`agent.emitter`) chains them in this order::

    EventRenamer("message")   structlog's own: frees the "event" key for the ECS event object
    FieldMapper()             verb -> event.action, friendly names -> contract paths, nesting
    AuditContext()            tenant / tier / worker bound with structlog.contextvars fill gaps
    UtcTimestamper()          "@timestamp" (UTC, RFC 3339, microseconds, "Z") unless given
    ChangeRecorder(redactor)  (old, new) pairs -> {"old", "new"}, secrets redacted, audit.changed_fields
    ContractValidator(stamper) raises ContractError when the event breaks the contract
    EventIdentifier()         event.id = UUIDv7 unless given
    Categorizer()             ECS event.kind / category / type from event.action
    OrjsonRenderer()          one bytes line, newline included; NaN/infinity refused

The validator sees everything the caller supplied; what comes after it (a new UUIDv7, ECS categories
from a validated action) is valid by construction, and it trusts the timestamp the chain's own
stamper just generated, so generated values are not re-checked on every event.

Processors mutate only dicts the chain itself created (structlog hands each call a fresh copy of
the bound context, and FieldMapper rebuilds every contract object), never the caller's values.
"""

from __future__ import annotations

import contextvars
import dataclasses
import math
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from enum import Enum
from typing import Any

import orjson
import structlog.contextvars

from auditlog.agent.contract import ContractError, Problem, expand_dotted, format_timestamp, validate
from auditlog.agent.enrichment import ActionCategories, changed_fields_of
from auditlog.agent.ids import uuid7
from auditlog.agent.redact import Redactor, json_default
from auditlog.agent.typing import EventDict, WrappedLogger
from auditlog.core.cache import BoundedCache
from auditlog.core.contract import CONTRACT

__all__ = [
    "ALIASES",
    "CONTEXT_KEYS",
    "CONTRACT_OBJECTS",
    "NO_MESSAGE",
    "VERBS",
    "AuditContext",
    "Categorizer",
    "ChangeRecorder",
    "ContractValidator",
    "EventIdentifier",
    "FieldMapper",
    "OrjsonRenderer",
    "UtcTimestamper",
]

#: logger methods whose name is the event.action (others pass ``action=`` explicitly).
VERBS: frozenset[str] = frozenset({"auth", "logout", "create", "update", "delete"})

#: friendly keyword arguments apps may use -> contract paths (each field's ``alias`` in the contract
#: definition). Dotted contract paths work as-is too.
ALIASES: dict[str, str] = CONTRACT.aliases()

#: contract paths that may be bound per request/task with :mod:`structlog.contextvars` (``context`` fields).
CONTEXT_KEYS: tuple[str, ...] = CONTRACT.context_keys()

#: top-level contract objects; a nested value given for one is flattened and rebuilt (never mutated).
CONTRACT_OBJECTS: frozenset[str] = frozenset(CONTRACT.object_names())


class _NoMessage:
    """Placeholder for "no message": structlog's EventRenamer needs an "event" key to rename."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NO_MESSAGE"


#: pass as the log call's event when there is no message; FieldMapper removes it.
NO_MESSAGE: Any = _NoMessage()


_COMPLEX: Any = False  # _path_of's answer for a key with more than one dot (handled by expand_dotted)
_CACHE_LIMIT = 1024  # distinct keys (FieldMapper) and actions (Categorizer) remembered


class FieldMapper:
    """Set event.action from the verb method, map friendly names to contract paths and nest them.

    Keys are resolved once into ``(top, leaf, special)`` triples and cached, so the per-event work is
    one dict lookup per key (and none for the object when the previous key filled the same one).
    Every contract object in the result is a dict created here (a nested object the
    caller passed is copied one level), so later processors may fill it in without touching caller data.
    When the same path is given twice (a bound value and a call argument), the later one wins.
    """

    __slots__ = ("_aliases", "_paths", "_verbs")

    def __init__(self, aliases: Mapping[str, str] = ALIASES, verbs: Iterable[str] = VERBS) -> None:
        """Check the alias table once.

        Raises:
            ValueError: when an alias target is not a dotted contract path or ``@timestamp``.
        """
        for name, path in aliases.items():
            if path != "@timestamp" and ("." not in path or path.startswith(".") or path.endswith(".")):
                raise ValueError(f"alias {name!r} must map to a dotted contract path, got {path!r}")
        self._aliases = dict(aliases)
        self._verbs = frozenset(verbs)
        self._paths: BoundedCache[str, Any] = BoundedCache(_CACHE_LIMIT)

    def _path_of(self, key: str) -> Any:
        """Resolve ``key`` into ``(top, leaf, special)``: ``leaf`` None is a top-level key; ``special`` marks
        a top-level key or one that may also name a whole contract object (the per-key fast path skips both).
        """
        target = self._aliases.get(key, key)
        dots = target.count(".")
        if dots == 0:
            path: Any = (sys.intern(target), None, True)
        elif dots == 1 and not target.startswith(".") and not target.endswith("."):
            top, leaf = target.split(".")
            # interned: the mapper recognises "same object as the previous key" with ``is``
            path = (sys.intern(top), leaf, key in CONTRACT_OBJECTS)
        else:
            return _COMPLEX  # not cached: the cache holds only unpackable (top, leaf, special) triples
        return self._paths.put(key, path)

    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
        out: dict[str, Any] = {"@timestamp": None}  # first key of every line; UtcTimestamper fills it
        path_of = self._paths.get
        # the object the previous key went into: apps pass fields of one object together (worker_id,
        # worker_name, ...), and reusing it skips the lookup and checks for each such key
        last_top: str | None = None
        last_obj: dict[str, Any] = out
        for key, value in event_dict.items():
            if value is None:
                continue  # an optional field not given (None means absent: keeps lines short)
            path = path_of(key)
            if path is None:
                path = self._path_of(key)
                if path is _COMPLEX:
                    return self._nest_generally(method_name, event_dict)
            top, leaf, special = path
            if special:
                last_top = None  # the value may replace an object the fast path would still fill
                if type(value) is dict:
                    if key not in CONTRACT_OBJECTS:  # an extra object, e.g. labels={...}: a copy, so a
                        out[top] = dict(value)  # later "labels.team" fills ours, not the caller's
                        continue
                    # a whole contract object, e.g. source={"ip": ...} next to the alias source="appointments"
                    obj = out.get(key)
                    if type(obj) is dict:
                        obj.update(value)
                    else:
                        out[key] = dict(value)
                    continue
                if leaf is None:
                    if value is not NO_MESSAGE:
                        out[top] = value
                    continue
            elif top is last_top:
                last_obj[leaf] = value
                continue
            obj = out.get(top)
            if obj is None:
                out[top] = obj = {leaf: value}
            elif type(obj) is dict:
                obj[leaf] = value
            else:
                raise ContractError([Problem(key, f"conflicts with the non-object value given for {top!r}")], out)
            last_top, last_obj = top, obj
        if method_name in self._verbs:
            ev = out.get("event")
            if ev is None:
                out["event"] = {"action": method_name}
            elif type(ev) is dict:
                ev.setdefault("action", method_name)
        return out

    def _nest_generally(self, method_name: str, event_dict: EventDict) -> EventDict:
        """Slow path for keys with several dots (``labels.team.name``): flatten, then expand_dotted."""
        flat: dict[str, Any] = {"@timestamp": None}
        for key, value in event_dict.items():
            if key in CONTRACT_OBJECTS and type(value) is dict:
                for inner, item in value.items():
                    flat[f"{key}.{inner}"] = item
            elif value is not None and value is not NO_MESSAGE:
                flat[self._aliases.get(key, key)] = value
        if method_name in self._verbs:
            flat.setdefault("event.action", method_name)
        try:
            return expand_dotted(flat)
        except ContractError as exc:
            raise ContractError(exc.problems, flat) from None


class AuditContext:
    """Fill contract fields the call did not give from values bound with ``structlog.contextvars``.

    The keys are contract paths (``organization.id``, ``audit.tier``, ``user.id``...), bound with
    :func:`agent.emitter.bind_audit_context` or directly with ``structlog.contextvars.bind_contextvars``.
    Only these keys are read, so other context an app binds for its own logs stays out of audit events.
    """

    __slots__ = ("_index", "_vars")

    def __init__(self, keys: Iterable[str] = CONTEXT_KEYS) -> None:
        """Look the context variables up once (through structlog's public API).

        Raises:
            ValueError: when a key is not a dotted contract path.
        """
        keys = tuple(keys)
        for key in keys:
            if "." not in key:
                raise ValueError(f"context key must be a dotted contract path, got {key!r}")
        # bind_contextvars returns tokens whose .var is structlog's ContextVar for each key; resetting
        # right away leaves the context as it was.
        tokens = structlog.contextvars.bind_contextvars(**dict.fromkeys(keys, Ellipsis))
        structlog.contextvars.reset_contextvars(**tokens)
        self._vars: tuple[tuple[str, str, contextvars.ContextVar[Any]], ...] = tuple(
            (*key.split(".", 1), tokens[key].var) for key in keys  # type: ignore[misc]
        )
        self._index: dict[contextvars.ContextVar[Any], int] = {var: i for i, (_, _, var) in enumerate(self._vars)}

    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
        # Usually few context variables are set: walking those beats one lookup per bindable audit key
        # and costs next to nothing when none is set. When an app sets many, look ours up.
        ctx = contextvars.copy_context()  # O(1): shares the current mapping
        if len(ctx) <= _CONTEXT_SCAN_LIMIT:
            index = self._index
            hits: list[int] | None = None
            for var in ctx:
                if var in index:
                    if hits is None:
                        hits = [index[var]]
                    else:
                        hits.append(index[var])
            if hits is None:
                return event_dict
            hits.sort()  # the documented key order, whatever order the context holds them in
            variables: Sequence[tuple[str, str, contextvars.ContextVar[Any]]] = [self._vars[i] for i in hits]
        else:
            variables = self._vars
        for top, leaf, var in variables:
            value = ctx.get(var, Ellipsis)
            if value is Ellipsis or value is None:
                continue  # unbound (structlog marks unbound keys with Ellipsis) or given as None
            obj = event_dict.get(top)
            if obj is None:
                event_dict[top] = {leaf: value}
            elif type(obj) is dict:
                obj.setdefault(leaf, value)
        return event_dict


#: up to this many set context variables AuditContext scans the context instead of looking its keys up.
_CONTEXT_SCAN_LIMIT = 24


class UtcTimestamper:
    """Set ``@timestamp`` to now (UTC, microseconds, ``Z``) unless given; format a given datetime."""

    __slots__ = ("_cache", "last")

    def __init__(self) -> None:
        self._cache: tuple[int, str] = (-1, "")
        #: the last timestamp this stamper generated (not a given one): ContractValidator trusts that
        #: very object. Threads may overwrite it meanwhile; a mismatch only means a full check.
        self.last: str | None = None

    def now(self) -> str:
        """Return the current time as a contract timestamp (what a missing ``@timestamp`` becomes)."""
        stamp: str = self(None, "now", {"@timestamp": None})["@timestamp"]
        return stamp

    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
        ts = event_dict.get("@timestamp")
        if ts is None:
            # formatted here, not in now(): one method call fewer per event; the second's text is kept
            # until the second changes
            us = time.time_ns() // 1000
            cache = self._cache
            if cache[0] != us // 1_000_000:
                sec = us // 1_000_000
                cache = (sec, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)))
                self._cache = cache  # one tuple swap: threads never see a torn (second, text) pair
            # zero-padded microseconds as str(1xxxxxx)[1:]: cheaper than a ":06d" format spec
            event_dict["@timestamp"] = self.last = f"{cache[1]}.{str(us % 1_000_000 + 1_000_000)[1:]}Z"
        elif isinstance(ts, datetime):
            try:
                event_dict["@timestamp"] = format_timestamp(ts)
            except ValueError as exc:
                raise ContractError([Problem("@timestamp", str(exc))], event_dict) from None
        return event_dict


class EventIdentifier:
    """Set ``event.id`` to a new UUIDv7 unless the event has one."""

    __slots__ = ()

    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
        ev = event_dict.get("event")
        if type(ev) is dict:
            if ev.get("id") is None:
                ev["id"] = uuid7()
        elif ev is None:
            event_dict["event"] = {"id": uuid7()}
        return event_dict


class Categorizer:
    """Add ECS ``event.kind`` / ``event.category`` / ``event.type`` from ``event.action`` (given values win)."""

    __slots__ = ("_categories",)

    def __init__(self) -> None:
        self._categories = ActionCategories()  # the contract's enrichment rules, as the agent's Enricher applies them

    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
        ev = event_dict.get("event")
        if type(ev) is dict:
            action = ev.get("action")
            if type(action) is str and action:
                self._categories.fill(ev)
        return event_dict


class ChangeRecorder:
    """Turn ``(old, new)`` pairs into ``{"old", "new"}``, redact secret names, set sorted ``audit.changed_fields``."""

    __slots__ = ("_redactor",)

    def __init__(self, redactor: Redactor | None = None) -> None:
        """Keep the redactor (``None`` turns redaction off).

        Raises:
            TypeError: when ``redactor`` is not a Redactor.
        """
        if redactor is not None and not isinstance(redactor, Redactor):
            raise TypeError(f"redactor must be an agent.redact.Redactor or None, got {type(redactor).__name__}")
        self._redactor = redactor

    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
        audit = event_dict.get("audit")
        changes = audit.get("changes") if type(audit) is dict else None
        if type(changes) is not dict:
            if changes is None or not isinstance(changes, Mapping):
                changes = None  # absent, or wrong: the validator names it
            else:  # an OrderedDict, a mapping proxy...: a dict of its own, which the redactor reads as the agent would
                changes = audit["changes"] = dict(changes)  # type: ignore[index]
        if changes is not None:
            pairs = None
            for name, change in changes.items():
                kind = type(change)
                if kind is tuple or kind is list:
                    if len(change) != 2:
                        raise ContractError(
                            [Problem(f"audit.changes.{name}",
                                     f"a change pair needs (old, new), got {len(change)} items")],
                            event_dict,
                        )
                    if pairs is None:
                        pairs = dict(changes)
                    pairs[name] = {"old": change[0], "new": change[1]}
            if pairs is not None:
                changes = pairs
            audit["changes"] = changes  # type: ignore[index]
        redactor = self._redactor
        if redactor is not None:
            # names in changes and in fields the contract does not define, value shapes in texts
            event_dict = redactor.event(event_dict)
            if changes is not None:
                audit = event_dict["audit"]
                changes = audit["changes"]
        if changes is not None:
            audit["changed_fields"] = changed_fields_of(changes)  # type: ignore[index]
        return event_dict


class ContractValidator:
    """Raise :class:`agent.contract.ContractError` (with the event) when the event breaks the contract."""

    __slots__ = ("_stamper",)

    def __init__(self, timestamper: UtcTimestamper | None = None) -> None:
        """Remember the chain's timestamper, whose own output needs no format check.

        Args:
            timestamper: the UtcTimestamper earlier in the same chain, or ``None`` to check every timestamp.
        """
        self._stamper = timestamper

    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
        stamper = self._stamper
        problems = validate(event_dict, trusted_timestamp=None if stamper is None else stamper.last)
        if problems:
            raise ContractError(problems, event_dict)
        return event_dict


def _non_finite(value: Any, path: str) -> str | None:
    """Return the dotted path of the first NaN or infinity inside ``value``, or ``None``."""
    kind = type(value)
    if kind is float:
        return None if math.isfinite(value) else path
    if kind is dict:
        for key, item in value.items():
            found = _non_finite(item, f"{path}.{key}" if path else str(key))
            if found is not None:
                return found
    elif kind is list or kind is tuple:
        for i, item in enumerate(value):
            found = _non_finite(item, f"{path}[{i}]")
            if found is not None:
                return found
    elif isinstance(value, float):
        return None if math.isfinite(value) else path
    elif isinstance(value, dict):  # an OrderedDict...: orjson writes its NaN as null as well
        return _non_finite(dict(value), path)
    elif isinstance(value, list | tuple | set | frozenset):
        return _non_finite(list(value), path)
    elif isinstance(value, Enum):
        return _non_finite(value.value, path)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _non_finite({f.name: getattr(value, f.name) for f in dataclasses.fields(value)}, path)
    return None


class OrjsonRenderer:
    """Render the event as one UTF-8 JSON line (bytes, ``\\n`` included), the last processor."""

    __slots__ = ("_option",)

    def __init__(self, *, sort_keys: bool = False) -> None:
        """Choose orjson options once.

        Args:
            sort_keys: write keys sorted (stable diffs, a little slower).
        """
        option = orjson.OPT_APPEND_NEWLINE
        if sort_keys:
            option |= orjson.OPT_SORT_KEYS
        self._option = option

    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> bytes:
        try:
            line = orjson.dumps(event_dict, default=json_default, option=self._option)
        except orjson.JSONEncodeError as exc:  # e.g. an integer beyond 64 bits, which readers cannot decode
            raise ContractError([Problem("$", f"not JSON-serialisable: {exc}")], event_dict) from None
        # orjson writes NaN and infinities as null, silently; only a line with a null can hide one
        if b"null" in line:
            path = _non_finite(event_dict, "")
            if path is not None:
                raise ContractError(
                    [Problem(path or "$", "NaN or infinity cannot be stored (JSON has no such number)")], event_dict
                )
        return line
