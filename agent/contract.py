"""The audit event contract v1 as code: a validator with precise reasons, generated from the one definition.

The fields, their types, limits and enums are declared once in :mod:`auditlog.core.contract`; this
module turns that definition into checks. One event is one JSON object per line (UTF-8,
``\\n``-terminated), ECS-aligned and *nested* (``{"event": {"action": "update"}}``, never
``{"event.action": ...}``; see :func:`expand_dotted`). ``docs/schema/audit-event-v1.json`` is generated
from the same definition (``python -m auditlog.core.schema``); ``tests/agent/test_contract.py``
proves the two agree.

Rules the definition's field types carry (see :class:`auditlog.core.contract.Field`):

* ``@timestamp`` is RFC 3339 in the profile Elasticsearch's ``strict_date_optional_time`` parses:
  uppercase ``T`` and ``Z``, an explicit offset (``Z`` or ``+hh:mm``), 1-9 fraction digits, seconds
  00-59 (no leap second ``60``), year 0001-9999, and a day that exists in its month.
* Required strings are non-empty; a field's ``pattern`` (``event.action``'s lowercase verb, ``event.id``'s
  1-512 printable ASCII characters: it becomes Elasticsearch's ``_id``) and ``enum`` (``event.outcome``)
  hold where the field is present.
* ``audit.tier`` is any non-empty string here: whether the tier is *known* depends on the deployment's
  tier table, so the agent's router (not the contract) dead-letters unknown tiers.
* Optional fields may be absent or ``null`` (other languages' serialisers often write nulls).
* ``audit.changes`` maps a field name to exactly ``{"old": v, "new": v}`` (any JSON values, ``null``
  for "did not exist"); field names are kept verbatim, dots included.
* ``source.ip`` is an IPv4 or IPv6 address (Elasticsearch's ``ip`` type rejects anything else).
* Unknown extra fields are allowed everywhere and kept.

:func:`make_validator` builds two checks from a :class:`~auditlog.core.contract.Contract`: a straight-line
check of plain dicts, generated as Python source once at import (the agent's per-line budget: no loop
over fields, no schema engine, no exceptions on the happy path), and a walk that explains every problem,
run only when the straight-line check is unsure.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, NamedTuple, Protocol

from auditlog.core.cache import BoundedCache
from auditlog.core.contract import CONTRACT, SCHEMA_ID, Contract, Field

__all__ = [
    "ACTIONS_KNOWN",
    "IP_KNOWN",
    "SCHEMA_ID",
    "ContractError",
    "Problem",
    "Validate",
    "action_ok",
    "expand_dotted",
    "format_timestamp",
    "id_ok",
    "is_ip",
    "make_validator",
    "parse_timestamp",
    "timestamp_ok",
    "validate",
]

_ID_FIELD = CONTRACT["event.id"]
_ACTION_FIELD = CONTRACT["event.action"]
MAX_ID_LENGTH: int = _ID_FIELD.max_length or 0
# The definition's pattern for @timestamp; day-of-month validity is checked separately (the schema
# says "format": "date-time" for that).
_TIMESTAMP_PATTERN: str = CONTRACT["@timestamp"].pattern or ""
# re.ASCII: in Python \d also matches other scripts' digits (e.g. Arabic-Indic), which the schema's
# ECMA-262 \d and Elasticsearch's date parser do not accept.
_TIMESTAMP = re.compile(_TIMESTAMP_PATTERN + r"\Z", re.ASCII)
# Loose shape used only to explain *why* a timestamp failed.
_TIMESTAMP_LOOSE = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})(.)(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d*))?(.*)\Z", re.DOTALL
)
_OFFSET_LOOSE = re.compile(r"[+-](\d{2}):?(\d{2})\Z")
_ACTION = re.compile(f"{_ACTION_FIELD.pattern}\\Z", re.ASCII)

_DAYS_IN_MONTH = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

_MISSING: Any = object()


class Problem(NamedTuple):
    """One reason an event breaks the contract: the dotted field and why."""

    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


class ContractError(ValueError):
    """An event (or a request to build one) breaks the contract; ``problems`` says where and why."""

    def __init__(self, problems: list[Problem], event: Mapping[str, Any] | None = None) -> None:
        self.problems = problems
        #: the offending event as far as it was built, when known.
        self.event = event
        super().__init__("; ".join(str(p) for p in problems))


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def _shown(value: Any) -> str:
    """``value`` for a message, at most 60 characters: never raises, never renders a huge value whole."""
    if type(value) is int and value.bit_length() > 192:  # repr of an int past 4,300 digits raises (and is slow)
        return f"<an integer of about {int(value.bit_length() * 0.30103) + 1} digits>"
    if isinstance(value, str | bytes) and len(value) > 64:  # a 100 MB text is not copied to show 57 characters
        value = value[:64]
    try:
        text = repr(value)
    except Exception as exc:  # an app's object whose __repr__ raises: the message still says what it is
        return f"<a {type(value).__name__} that cannot be shown: {exc.__class__.__name__}>"[:60]
    return text if len(text) <= 60 else text[:57] + "..."


def _expected(what: str, value: Any) -> str:
    got = _json_type(value)
    if got in ("object", "array"):
        return f"expected {what}, got {got}"
    return f"expected {what}, got {got} {_shown(value)}"


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _days_in(year: int, month: int) -> int:
    return 29 if month == 2 and _is_leap(year) else _DAYS_IN_MONTH[month]


def _timestamp_reason(text: str) -> str | None:
    """Return why ``text`` is not a contract timestamp, or ``None`` when it is one."""
    m = _TIMESTAMP.match(text)
    if m is not None:
        day = int(m.group(3))
        if day <= 28:
            return None
        year, month = int(m.group(1)), int(m.group(2))
        if day <= _days_in(year, month):
            return None
        return f"day {day} does not exist in {year:04d}-{month:02d}: {text!r}"
    return _diagnose_timestamp(text)


def _diagnose_timestamp(text: str) -> str:
    generic = (
        f"not an RFC 3339 date-time like '2024-05-01T10:00:00Z' or '2024-05-01T12:00:00.123+02:00': {_shown(text)}"
    )
    m = _TIMESTAMP_LOOSE.match(text)
    if m is None:
        return generic
    year, month, day, sep, hour, minute, second, fraction, zone = m.groups()
    if sep != "T":
        return f"date and time must be separated by an uppercase 'T', got {sep!r}: {_shown(text)}"
    if not zone:
        return f"has no UTC offset; append 'Z' or '+hh:mm': {_shown(text)}"
    if zone == "z":
        return f"use an uppercase 'Z' for UTC: {_shown(text)}"
    if zone != "Z":
        off = _OFFSET_LOOSE.match(zone)
        if off is None:
            return f"bad UTC offset {zone!r} (use 'Z' or '+hh:mm'): {_shown(text)}"
        if ":" not in zone:
            return f"UTC offset needs a colon, '+hh:mm', got {zone!r}: {_shown(text)}"
        if int(off.group(1)) > 23 or int(off.group(2)) > 59:
            return f"UTC offset {zone!r} is out of range: {_shown(text)}"
    if fraction is not None and not 1 <= len(fraction) <= 9:
        return f"fraction of a second needs 1-9 digits, got {len(fraction)}: {_shown(text)}"
    if len(year) != 4 or len(month) != 2 or len(day) != 2 or len(hour) != 2 or len(minute) != 2 or len(second) != 2:
        return f"use zero-padded fields YYYY-MM-DDTHH:MM:SS: {_shown(text)}"
    if year == "0000":
        return f"year 0000 is not supported: {_shown(text)}"
    if not 1 <= int(month) <= 12:
        return f"month {month} is out of range: {_shown(text)}"
    if not 1 <= int(day) <= _days_in(int(year), int(month)):
        return f"day {int(day)} does not exist in {year}-{month}: {_shown(text)}"
    if int(hour) > 23:
        return f"hour {hour} is out of range: {_shown(text)}"
    if int(minute) > 59:
        return f"minute {minute} is out of range: {_shown(text)}"
    if second == "60":
        return f"leap second 60 is not accepted (Elasticsearch cannot store it): {_shown(text)}"
    if int(second) > 59:
        return f"second {second} is out of range: {_shown(text)}"
    return generic


@lru_cache(maxsize=64)
def _offset(zone: str) -> timezone:
    if zone == "Z":
        return UTC
    sign = -1 if zone[0] == "-" else 1
    return timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))


def parse_timestamp(text: str) -> datetime:
    """Parse a contract ``@timestamp`` into an aware datetime (fraction truncated to microseconds).

    Args:
        text: the timestamp string.

    Returns:
        The moment, with the offset the text carries.

    Raises:
        ValueError: when ``text`` is not a contract timestamp; the message says why.
    """
    m = _TIMESTAMP.match(text) if isinstance(text, str) else None
    if m is None:
        raise ValueError(_diagnose_timestamp(text) if isinstance(text, str) else _expected("a string", text))
    year, month, day, hour, minute, second, fraction, zone = m.groups()
    micro = int((fraction + "00000")[:6]) if fraction else 0
    try:
        return datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tzinfo=_offset(zone)
        )
    except ValueError:
        raise ValueError(_diagnose_timestamp(text)) from None


def format_timestamp(moment: datetime) -> str:
    """Format an aware datetime as the contract's canonical UTC timestamp, e.g. ``2024-05-01T10:00:00.123456Z``.

    Raises:
        ValueError: when ``moment`` is naive (its zone would be a guess).
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"timestamp must carry a time zone, got naive {moment.isoformat()}")
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond:06d}Z"


# ---------------------------------------------------------------------------------------------
# single-field checks (shared with the pass-through)


_IP_CACHE_LIMIT = 4096
_IP_CACHE: BoundedCache[str, bool] = BoundedCache(_IP_CACHE_LIMIT)
#: :func:`is_ip`'s remembered answers (address -> bool), for callers that look up before calling.
IP_KNOWN = _IP_CACHE
_IPV4 = re.compile(
    r"(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\Z", re.ASCII  # see _TIMESTAMP
)
_HEX_GROUPS = re.compile(r"(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4})*)?\Z")


def _parse_ip(text: str) -> bool:
    """Whether ``text`` is an address ``ipaddress.ip_address`` accepts (the schema's ipv4/ipv6 formats).

    Plain dotted quads and hex-colon IPv6 are checked with two regexes; the rare forms (embedded IPv4
    ``::ffff:1.2.3.4``, zone ids ``fe80::1%eth0``) go to :mod:`ipaddress`, about ten times slower.
    """
    if ":" not in text:
        return _IPV4.match(text) is not None
    if "." in text or "%" in text:
        try:
            ipaddress.ip_address(text)
        except ValueError:
            return False
        return True
    head, double, tail = text.partition("::")
    if not double:
        return text.count(":") == 7 and _HEX_GROUPS.match(text) is not None
    if "::" in tail or _HEX_GROUPS.match(head) is None or _HEX_GROUPS.match(tail) is None:
        return False
    groups = (head.count(":") + 1 if head else 0) + (tail.count(":") + 1 if tail else 0)
    return groups <= 7


def is_ip(text: str) -> bool:
    """Whether ``text`` is an IPv4/IPv6 address; answers are cached (client addresses repeat a lot)."""
    known = _IP_CACHE.get(text)
    if known is not None:
        return known
    return _IP_CACHE.put(text, _parse_ip(text))


# The straight-line check remembers valid verbs (apps use a handful) and dates, bounded.
_CACHE_LIMIT = 1024
_ACTIONS_SEEN: BoundedCache[str, bool] = BoundedCache(_CACHE_LIMIT)
#: :func:`action_ok`'s remembered valid verbs (verb -> True), for callers that look up before calling.
ACTIONS_KNOWN = _ACTIONS_SEEN
_DAYS_SEEN: BoundedCache[str, bool] = BoundedCache(_CACHE_LIMIT)
# _TIMESTAMP_PATTERN from the 12th character on (after "YYYY-MM-DDT"), without groups
_TIME_OF_DAY = re.compile(
    r"(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,9})?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)\Z", re.ASCII
)


def timestamp_ok(text: str) -> bool:
    """Whether ``text`` (a str) is a contract ``@timestamp``.

    The date part (``YYYY-MM-DDT``, always 11 characters) repeats for a whole day's events, so its
    answer (regex and calendar) is remembered; only the time of day is matched per call.
    """
    day = text[:11]
    ok = _DAYS_SEEN.get(day)
    if ok is None:
        probe = day + "00:00:00Z"
        m = _TIMESTAMP.match(probe)
        ok = _DAYS_SEEN.put(day, m is not None and (m.group(3) <= "28" or _timestamp_reason(probe) is None))
    return ok and _TIME_OF_DAY.match(text, 11) is not None


def action_ok(action: str) -> bool:
    """Whether ``action`` (a str) is a contract ``event.action``; valid verbs are remembered."""
    return _ACTIONS_SEEN.get(action) or _action_ok(action)


def id_ok(event_id: str) -> bool:
    """Whether ``event_id`` (a str) is a contract ``event.id`` (usable as Elasticsearch's ``_id``)."""
    # the pattern [!-~]{1,512} as three C string checks instead of a regex call (about half the cost)
    return 0 < len(event_id) <= MAX_ID_LENGTH and event_id.isascii() and event_id.isprintable() \
        and " " not in event_id


def _action_ok(action: str) -> bool:
    if _ACTION.match(action) is None:
        return False
    return _ACTIONS_SEEN.put(action, True)


def _str_items(value: Any) -> bool:
    if type(value) is not list:
        return False
    for item in value:  # noqa: SIM110 - a plain loop: a generator in all() costs more than the check
        if type(item) is not str:
            return False
    return True


# Patterns with a faster equivalent than a regex call; tests/agent/test_contract.py proves each agrees
# with the walk, which always matches the definition's pattern itself.
_FAST_PATTERNS: dict[str, str] = {
    _ID_FIELD.pattern or "": "id_ok(v)",
    _ACTION_FIELD.pattern or "": "(_ACTIONS_SEEN.get(v) or _action_ok(v))",
}


# ---------------------------------------------------------------------------------------------
# the straight-line check, generated from the definition


def _fast_test(f: Field, names: dict[str, Any]) -> str:
    """Return a Python expression true when ``v`` (not None) is a valid value of ``f`` (plain types only).

    Raises:
        ValueError: for a type or format this module has no check for.
    """
    if f.type == "integer":
        low, high = f.bounds
        return f"type(v) is int and {low} <= v <= {high}"
    if f.type == "string_list":
        return "_str_items(v)"
    if f.type == "string_or_list":
        return "(type(v) is str or _str_items(v))"
    if f.type != "string" or f.format not in (None, "date-time", "ip"):
        raise ValueError(f"{f.path}: the validator has no check for type {f.type!r} with format {f.format!r}")
    parts = ["type(v) is str"]
    if f.format == "date-time":
        parts.append("timestamp_ok(v)")
    elif f.format == "ip":
        parts.append("(_IP_CACHE.get(v) or is_ip(v))")
    if f.enum:
        parts.append(f"v in {_bind(names, frozenset(f.enum))}")
    fast = _FAST_PATTERNS.get(f.pattern or "") if f.format != "date-time" else None
    if fast is not None:  # the equivalent embodies the pattern and its limits
        parts.append(fast)
    else:
        if f.pattern is not None and f.format != "date-time":
            match = _bind(names, re.compile(f.pattern + r"\Z", re.ASCII).match)
            parts.append(f"{match}(v) is not None")
        if f.min_length:
            parts.append("v" if f.min_length == 1 else f"len(v) >= {f.min_length}")
        if f.max_length is not None:
            parts.append(f"len(v) <= {f.max_length}")
    return " and ".join(parts)


def _bind(names: dict[str, Any], value: Any) -> str:
    """Give ``value`` a name in the generated code's namespace and return the name."""
    name = f"_C{len(names)}"
    names[name] = value
    return name


def _check_lines(f: Field, indent: str, names: dict[str, Any]) -> list[str]:
    """Source lines returning False unless ``v`` (the field's value, ``None`` when absent) is valid for ``f``."""
    fail = f"{indent}    return False"
    if f.type == "changes":  # inline: a call per event costs more than the loop
        guard = [] if f.required else [f"{indent}if v is not None:"]
        inner = indent if f.required else indent + "    "
        return [*guard, f"{inner}if type(v) is not dict:", f"{inner}    return False", f"{inner}for c in v.values():",
                f"{inner}    if type(c) is not dict or len(c) != 2 or 'old' not in c or 'new' not in c:",
                f"{inner}        return False"]
    test = _fast_test(f, names)
    if f.format == "date-time":  # a producer's own freshly made timestamp object needs no check
        if f.required:
            return [f"{indent}if v is not trusted or v is None:", f"{indent}    if not ({test}):",
                    f"{indent}        return False"]
        return [f"{indent}if v is not None and v is not trusted and not ({test}):", fail]
    if f.required:
        return [f"{indent}if not ({test}):", fail]
    return [f"{indent}if v is not None and not ({test}):", fail]


def _fast_source(contract: Contract, names: dict[str, Any]) -> str:
    """Python source of ``plainly_valid(e, trusted)``: one straight line of checks, in field order."""
    lines = [
        "def plainly_valid(e, trusted=None):",
        "    if type(e) is not dict:",
        "        return False",
    ]
    for top in contract.tops():
        members = contract.members(top)
        if not members:  # a top-level field
            lines.append(f"    v = e.get({top!r})")
            lines += _check_lines(contract[top], "    ", names)
            continue
        required = [f for f in members if f.required]
        optional = [f for f in members if not f.required]
        lines.append(f"    obj = e.get({top!r})")
        indent = "    "
        if required:
            lines += ["    if type(obj) is not dict:", "        return False"]
        else:
            lines += ["    if obj is not None:", "        if type(obj) is not dict:", "            return False"]
            indent = "        "
        for f in required:
            lines += [f"{indent}v = obj.get({f.leaf!r})", *_check_lines(f, indent, names)]
        if optional:
            if required:  # an object holding only its required fields (the usual event) skips the rest
                lines.append(f"{indent}if len(obj) > {len(required)}:")
                indent += "    "
            for f in optional:
                lines += [f"{indent}v = obj.get({f.leaf!r})", *_check_lines(f, indent, names)]
    lines.append("    return True")
    return "\n".join(lines) + "\n"


def _compile_fast(contract: Contract) -> Callable[[Any, str | None], bool]:
    """Compile the straight-line check (True only for a valid event; False may mean "ask the walk")."""
    names: dict[str, Any] = {}
    source = _fast_source(contract, names)
    namespace: dict[str, Any] = {
        "_str_items": _str_items, "timestamp_ok": timestamp_ok, "id_ok": id_ok,
        "_ACTIONS_SEEN": _ACTIONS_SEEN, "_action_ok": _action_ok, "_IP_CACHE": _IP_CACHE, "is_ip": is_ip, **names,
    }
    exec(compile(source, f"<contract checks: {len(contract.fields)} fields>", "exec"), namespace)
    check: Callable[[Any, str | None], bool] = namespace["plainly_valid"]
    check.__doc__ = source  # what was generated, for a reader in a debugger
    return check


# ---------------------------------------------------------------------------------------------
# the walk that explains


def _missing(event: Mapping[str, Any], path: str) -> Problem:
    if path in event:
        return Problem(path, f"missing; found a top-level dotted key {path!r}: nest it (see expand_dotted)")
    return Problem(path, "missing")


def _what(f: Field) -> str:
    """What a value of ``f`` must be, for "expected ..." reasons."""
    if f.type == "integer":
        low, high = f.bounds
        return f"an integer from {low} to {high}"
    if f.type == "string_list":
        return "an array of strings"
    if f.type == "string_or_list":
        return "a string or an array of strings"
    if f.type == "changes":
        return 'an object {field: {"old": v, "new": v}}'
    if f.format == "date-time":
        return "an RFC 3339 date-time string"
    if f.format == "ip":
        return "an IPv4 or IPv6 address string"
    if f.enum:
        return "one of " + ", ".join(sorted(f.enum))
    return "a non-empty string" if f.min_length else "a string"


def _str_list_problems(problems: list[Problem], f: Field, value: Any) -> None:
    if f.type == "string_or_list" and isinstance(value, str):
        return
    if not isinstance(value, list):
        problems.append(Problem(f.path, _expected(_what(f), value)))
        return
    for i, item in enumerate(value):
        if not isinstance(item, str):
            problems.append(Problem(f"{f.path}[{i}]", _expected("a string", item)))


def _changes_problems(problems: list[Problem], f: Field, changes: Any) -> None:
    if not isinstance(changes, dict) and not isinstance(changes, Mapping):
        problems.append(Problem(f.path, _expected(_what(f), changes)))
        return
    for name, change in changes.items():
        path = f"{f.path}.{name}"
        if not isinstance(change, dict) and not isinstance(change, Mapping):
            problems.append(Problem(path, _expected('an object {"old": v, "new": v}', change)))
            continue
        if len(change) == 2 and "old" in change and "new" in change:
            continue
        absent = [k for k in ("old", "new") if k not in change]
        extra = sorted(str(k) for k in change if k not in ("old", "new"))
        parts = []
        if absent:
            parts.append("lacks " + " and ".join(repr(k) for k in absent))
        if extra:
            parts.append("has unexpected keys " + ", ".join(repr(k) for k in extra))
        problems.append(Problem(path, 'must be exactly {"old": v, "new": v}: ' + "; ".join(parts)))


def _string_problem(f: Field, value: str, pattern: re.Pattern[str] | None) -> str | None:
    if f.format == "date-time":
        return _timestamp_reason(value)
    if f.min_length and len(value) < f.min_length:
        return "must not be empty" if f.min_length == 1 else f"must have at least {f.min_length} characters"
    if f.enum and value not in f.enum:
        return f"unknown {f.path.rsplit('.', 1)[-1]} {_shown(value)}; use one of {', '.join(sorted(f.enum))}"
    if pattern is not None and pattern.match(value) is None:
        return f"must be {f.rule or 'like ' + repr(f.pattern)}, got {_shown(value)}"
    if f.max_length is not None and len(value) > f.max_length:
        return f"must have at most {f.max_length} characters, got {len(value)}"
    if f.format == "ip" and not is_ip(value):
        return f"not an IPv4 or IPv6 address: {_shown(value)}"
    return None


def _field_problems(
    problems: list[Problem], f: Field, value: Any, event: Mapping[str, Any], pattern: re.Pattern[str] | None
) -> None:
    if value is _MISSING or value is None:
        if f.required:
            missing = value is _MISSING
            problems.append(_missing(event, f.path) if missing else Problem(f.path, _expected(_what(f), None)))
        return
    if f.type in ("string_list", "string_or_list"):
        _str_list_problems(problems, f, value)
    elif f.type == "changes":
        _changes_problems(problems, f, value)
    elif f.type == "integer":
        low, high = f.bounds
        if type(value) is not int or not low <= value <= high:
            problems.append(Problem(f.path, _expected(_what(f), value)))
    elif not isinstance(value, str):
        problems.append(Problem(f.path, _expected(_what(f), value)))
    else:
        reason = _string_problem(f, value, pattern)
        if reason is not None:
            problems.append(Problem(f.path, reason))


def _object(problems: list[Problem], event: Mapping[str, Any], key: str, required: tuple[str, ...]) -> Any:
    """Return the nested object ``event[key]`` or ``None``, recording why it is unusable."""
    value = event.get(key, _MISSING)
    if value is _MISSING or value is None:
        if required:
            holding = " and ".join(required)
            if value is None:
                problems.append(Problem(key, f"expected an object holding {holding}, got null"))
            elif any(leaf in event for leaf in required):
                problems.extend(_missing(event, leaf) for leaf in required)
            else:
                problems.append(Problem(key, f"missing (required object holding {holding})"))
        return None
    if not isinstance(value, dict) and not isinstance(value, Mapping):
        problems.append(Problem(key, _expected("an object", value)))
        return None
    return value


_Walk = Callable[[Any], list[Problem]]


def _compile_walk(contract: Contract) -> _Walk:
    """Return the walk over every field of ``contract`` that names each problem with its reason."""
    patterns = {f.path: re.compile(f.pattern + r"\Z", re.ASCII) for f in contract if f.pattern}
    plan: list[tuple[str, tuple[Field, ...], tuple[str, ...]]] = []
    for top in contract.tops():
        members = contract.members(top)
        plan.append((top, members, tuple(f.path for f in members if f.required)))

    def problems_of(event: Any) -> list[Problem]:
        if not isinstance(event, dict) and not isinstance(event, Mapping):
            return [Problem("$", _expected("a JSON object", event))]
        problems: list[Problem] = []
        for top, members, required in plan:
            if not members:
                f = contract[top]
                _field_problems(problems, f, event.get(top, _MISSING), event, patterns.get(f.path))
                continue
            obj = _object(problems, event, top, required)
            if obj is not None:
                for f in members:
                    _field_problems(problems, f, obj.get(f.leaf, _MISSING), event, patterns.get(f.path))
        return problems

    return problems_of


class Validate(Protocol):
    """The signature of :func:`validate` (and of every validator :func:`make_validator` builds)."""

    def __call__(self, event: Mapping[str, Any], *, trusted_timestamp: str | None = None) -> list[Problem]: ...


def make_validator(contract: Contract) -> Validate:
    """Build the validator of one contract: a generated straight-line check, and the walk for reasons.

    Args:
        contract: the definition (:data:`auditlog.core.contract.CONTRACT` for v1).

    Returns:
        ``validate(event, *, trusted_timestamp=None) -> list[Problem]``, as :func:`validate` documents.
    """
    plainly_valid = _compile_fast(contract)
    walk = _compile_walk(contract)

    def validate(event: Mapping[str, Any], *, trusted_timestamp: str | None = None) -> list[Problem]:
        """Check one nested event against the contract.

        Args:
            event: the decoded JSON object (nested, not dotted; see :func:`expand_dotted`).
            trusted_timestamp: a producer's own freshly formatted ``@timestamp`` (the emitter's); when the
                event's ``@timestamp`` *is* this object, its format check is skipped. Any other value,
                equal or not, is checked in full.

        Returns:
            Every problem found, in field order; an empty list means the event is valid.
        """
        # The common case (a valid event of plain dicts) takes the straight-line check; anything it is
        # unsure about goes to the walk, which alone decides and explains.
        if plainly_valid(event, trusted_timestamp):
            return []
        return walk(event)

    return validate


#: The validator of event contract v1: ``validate(event, *, trusted_timestamp=None) -> list[Problem]``.
validate: Validate = make_validator(CONTRACT)


# ---------------------------------------------------------------------------------------------
# dotted keys


def expand_dotted(obj: Mapping[str, Any]) -> dict[str, Any]:
    """Turn top-level dotted keys (``"event.action": "x"``) into nested objects (``{"event": {"action": "x"}}``).

    Only top-level keys are split: keys inside values (e.g. ``audit.changes`` field names such as
    ``"address.street"``) are kept verbatim. ``"@timestamp"`` has no dot and is untouched. Nested
    objects that a dotted key merges into are copied, never mutated.

    Args:
        obj: a decoded JSON object, dotted, nested or mixed.

    Returns:
        The nested object; ``obj`` itself (no copy) when it has no dotted key.

    Raises:
        ContractError: when a dotted key collides with a non-object value, e.g. ``"event": "x"``
            next to ``"event.action"``, or the same path appears twice.
    """
    for key in obj:
        if "." in key:
            break
    else:
        return obj if isinstance(obj, dict) else dict(obj)

    result: dict[str, Any] = {}
    copied: set[int] = set()  # ids of nested dicts this call created/copied (safe to mutate)
    for key, value in obj.items():
        if "." not in key:
            if key in result:
                existing = result[key]
                if isinstance(existing, dict) and isinstance(value, Mapping):
                    _merge_into(existing, value, key, copied)
                    continue
                raise ContractError([Problem(key, "given both nested and as dotted keys with conflicting values")])
            result[key] = value
            continue
        parts = key.split(".")
        if any(not p for p in parts):
            raise ContractError([Problem(key, "dotted key has an empty segment")])
        node = result
        path = ""
        for part in parts[:-1]:
            path = f"{path}.{part}" if path else part
            child = node.get(part, _MISSING)
            if child is _MISSING:
                child = {}
                copied.add(id(child))
                node[part] = child
            elif isinstance(child, Mapping):
                if id(child) not in copied:
                    child = dict(child)
                    copied.add(id(child))
                    node[part] = child
            else:
                raise ContractError([Problem(key, f"conflicts with non-object value at {path!r}")])
            node = child
        leaf = parts[-1]
        if leaf in node:
            existing = node[leaf]
            if isinstance(existing, dict) and isinstance(value, Mapping):
                _merge_into(existing if id(existing) in copied else _own(node, leaf, copied), value, key, copied)
                continue
            raise ContractError([Problem(key, "given twice (dotted and nested)")])
        node[leaf] = value
    return result


def _own(node: dict[str, Any], key: str, copied: set[int]) -> dict[str, Any]:
    child = dict(node[key])
    copied.add(id(child))
    node[key] = child
    return child


def _merge_into(target: dict[str, Any], source: Mapping[str, Any], path: str, copied: set[int]) -> None:
    for key, value in source.items():
        if key in target:
            existing = target[key]
            if isinstance(existing, Mapping) and isinstance(value, Mapping):
                mine: dict[str, Any] = existing if id(existing) in copied else _own(target, key, copied)  # type: ignore[assignment]
                _merge_into(mine, value, f"{path}.{key}", copied)
                continue
            raise ContractError([Problem(f"{path}.{key}", "given twice (dotted and nested)")])
        target[key] = value
