"""The audit event contract v1 as code: a validator with precise reasons, a typed model, dotted-key expansion.

One event is one JSON object per line (UTF-8, ``\\n``-terminated), ECS-aligned and *nested*
(``{"event": {"action": "update"}}``, never ``{"event.action": ...}``; see :func:`expand_dotted`).
``docs/schema/audit-event-v1.json`` publishes the same rules as JSON Schema 2020-12 for other
languages; ``tests/agent/test_contract.py`` proves the two agree.

Rules beyond ARCHITECTURE.md's table (decided here, mirrored in the schema):

* ``@timestamp`` is RFC 3339 in the profile Elasticsearch's ``strict_date_optional_time`` parses:
  uppercase ``T`` and ``Z``, an explicit offset (``Z`` or ``+hh:mm``), 1-9 fraction digits, seconds
  00-59 (no leap second ``60``), year 0001-9999, and a day that exists in its month.
* Required strings (``event.action``, ``audit.source``, ``audit.tier``, ``organization.id``) are
  non-empty. ``event.action`` is a lowercase ASCII verb (``[a-z0-9][a-z0-9_.:-]*``, at most 128 chars);
  verbs other than auth/create/update/delete are allowed.
* ``audit.tier`` is any non-empty string here: whether the tier is *known* depends on the deployment's
  tier table, so the agent's router (not the contract) dead-letters unknown tiers.
* ``event.id`` is 1-512 printable ASCII characters without spaces (it becomes Elasticsearch's ``_id``,
  which is limited to 512 bytes).
* Optional fields may be absent or ``null`` (other languages' serialisers often write nulls).
* ``audit.changes`` maps a field name to exactly ``{"old": v, "new": v}`` (any JSON values, ``null``
  for "did not exist"); field names are kept verbatim, dots included.
* ``event.category`` / ``event.type`` are a string or an array of strings (ECS keywords).
* ``source.ip`` is an IPv4 or IPv6 address (Elasticsearch's ``ip`` type rejects anything else).
* Unknown extra fields are allowed everywhere and kept.

:func:`validate` is hand-written for the agent's per-line budget (about 1-2 us for a valid event):
no schema engine, no exceptions on the happy path.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, NamedTuple

__all__ = [
    "IP_KNOWN",
    "OUTCOMES",
    "REQUIRED_FIELDS",
    "SCHEMA_ID",
    "AuditEvent",
    "Change",
    "ContractError",
    "Problem",
    "action_ok",
    "expand_dotted",
    "format_timestamp",
    "id_ok",
    "is_ip",
    "parse_timestamp",
    "timestamp_ok",
    "validate",
]

#: ``$id`` of the published JSON Schema (docs/schema/audit-event-v1.json).
SCHEMA_ID = "urn:auditlog:schema:audit-event:v1"

#: values allowed in ``event.outcome`` (ECS).
OUTCOMES: frozenset[str] = frozenset({"success", "failure", "unknown"})

#: fields every event must carry (dotted paths into the nested object).
REQUIRED_FIELDS: tuple[str, ...] = ("@timestamp", "event.action", "audit.source", "audit.tier", "organization.id")

MAX_ID_LENGTH = 512
MAX_ACTION_LENGTH = 128

# The schema's "pattern" for @timestamp, character for character (minus anchors); day-of-month
# validity is checked separately (the schema uses "format": "date-time" for that).
_TIMESTAMP_PATTERN = (
    r"(?!0000)(\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):([0-5]\d):([0-5]\d)"
    r"(?:\.(\d{1,9}))?(Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)"
)
# re.ASCII: in Python \d also matches other scripts' digits (e.g. Arabic-Indic), which the schema's
# ECMA-262 \d and Elasticsearch's date parser do not accept.
_TIMESTAMP = re.compile(_TIMESTAMP_PATTERN + r"\Z", re.ASCII)
# Loose shape used only to explain *why* a timestamp failed.
_TIMESTAMP_LOOSE = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})(.)(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d*))?(.*)\Z", re.DOTALL
)
_OFFSET_LOOSE = re.compile(r"[+-](\d{2}):?(\d{2})\Z")
_ACTION = re.compile(r"[a-z0-9][a-z0-9_.:-]{0,127}\Z")
_ID = re.compile(r"[!-~]{1,512}\Z")

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
    text = repr(value)
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
# validation


def _missing(event: Mapping[str, Any], path: str, hint: str = "") -> Problem:
    if path in event:
        return Problem(path, f"missing; found a top-level dotted key {path!r}: nest it (see expand_dotted)")
    return Problem(path, "missing" + hint)


def _required_str(
    problems: list[Problem], obj: Mapping[str, Any], key: str, path: str, event: Mapping[str, Any]
) -> Any:
    value = obj.get(key, _MISSING)
    if value is _MISSING:
        problems.append(_missing(event, path))
    elif not isinstance(value, str):
        problems.append(Problem(path, _expected("a non-empty string", value)))
    elif not value:
        problems.append(Problem(path, "must not be empty"))
    else:
        return value
    return None


def _optional_str(problems: list[Problem], obj: Mapping[str, Any], key: str, path: str) -> None:
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        problems.append(Problem(path, _expected("a string", value)))


def _str_list(problems: list[Problem], value: Any, path: str, allow_str: bool) -> None:
    if value is None or (allow_str and isinstance(value, str)):
        return
    if not isinstance(value, list):
        what = "a string or an array of strings" if allow_str else "an array of strings"
        problems.append(Problem(path, _expected(what, value)))
        return
    for i, item in enumerate(value):
        if not isinstance(item, str):
            problems.append(Problem(f"{path}[{i}]", _expected("a string", item)))


def _object(problems: list[Problem], event: Mapping[str, Any], key: str, required: tuple[str, ...] = ()) -> Any:
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


def _check_event(problems: list[Problem], ev: Mapping[str, Any], event: Mapping[str, Any]) -> None:
    action = _required_str(problems, ev, "action", "event.action", event)
    if action is not None and _ACTION.match(action) is None:
        problems.append(
            Problem(
                "event.action",
                f"must be a lowercase verb like 'update' (a-z 0-9 _ . : -, at most {MAX_ACTION_LENGTH} chars), "
                f"got {_shown(action)}",
            )
        )
    event_id = ev.get("id")
    if event_id is not None:
        if not isinstance(event_id, str):
            problems.append(Problem("event.id", _expected("a string", event_id)))
        elif _ID.match(event_id) is None:
            problems.append(
                Problem("event.id", f"must be 1-{MAX_ID_LENGTH} printable ASCII characters without spaces")
            )
    outcome = ev.get("outcome")
    if outcome is not None and (type(outcome) is not str or outcome not in OUTCOMES):  # a list is unhashable
        if isinstance(outcome, str):
            problems.append(
                Problem("event.outcome", f"unknown outcome {_shown(outcome)}; use one of failure, success, unknown")
            )
        else:
            problems.append(Problem("event.outcome", _expected("one of failure, success, unknown", outcome)))
    _optional_str(problems, ev, "kind", "event.kind")
    _str_list(problems, ev.get("category"), "event.category", allow_str=True)
    _str_list(problems, ev.get("type"), "event.type", allow_str=True)


def _check_changes(problems: list[Problem], changes: Any) -> None:
    if not isinstance(changes, dict) and not isinstance(changes, Mapping):
        problems.append(Problem("audit.changes", _expected('an object {field: {"old": v, "new": v}}', changes)))
        return
    for name, change in changes.items():
        path = f"audit.changes.{name}"
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


def _check_audit(problems: list[Problem], audit: Mapping[str, Any], event: Mapping[str, Any]) -> None:
    _required_str(problems, audit, "source", "audit.source", event)
    _required_str(problems, audit, "tier", "audit.tier", event)
    changes = audit.get("changes")
    if changes is not None:
        _check_changes(problems, changes)
    _str_list(problems, audit.get("changed_fields"), "audit.changed_fields", allow_str=False)
    _optional_str(problems, audit, "login_type", "audit.login_type")
    stream = audit.get("stream")
    if stream is not None and (not isinstance(stream, str) or not stream):
        problems.append(Problem("audit.stream", _expected("a non-empty string", stream)))
    seq = audit.get("seq")
    if seq is not None and (type(seq) is not int or seq < 1):
        problems.append(Problem("audit.seq", _expected("an integer >= 1", seq)))


def _check_user(problems: list[Problem], user: Mapping[str, Any]) -> None:
    _optional_str(problems, user, "id", "user.id")
    _optional_str(problems, user, "name", "user.name")
    _optional_str(problems, user, "email", "user.email")
    _str_list(problems, user.get("roles"), "user.roles", allow_str=False)


_IP_CACHE: dict[str, bool] = {}
#: :func:`is_ip`'s remembered answers (address -> bool), for callers that look up before calling.
IP_KNOWN = _IP_CACHE
_IP_CACHE_LIMIT = 4096
_IPV4 = re.compile(
    r"(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\Z", re.ASCII  # see _TIMESTAMP
)
_HEX_GROUPS = re.compile(r"(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4})*)?\Z")


def _parse_ip(text: str) -> bool:
    """Whether ``text`` is an address ``ipaddress.ip_address`` accepts (the schema's ipv4/ipv6 formats).

    Plain dotted quads and hex-colon IPv6 are checked with two regexes (~0.3 us); the rare forms
    (embedded IPv4 ``::ffff:1.2.3.4``, zone ids ``fe80::1%eth0``) go to :mod:`ipaddress` (~3 us).
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
    ok = _parse_ip(text)
    if len(_IP_CACHE) >= _IP_CACHE_LIMIT:
        _IP_CACHE.clear()  # bounded; a burst of new addresses only costs the re-check
    _IP_CACHE[text] = ok
    return ok


def _check_ip(problems: list[Problem], source: Mapping[str, Any]) -> None:
    ip = source.get("ip")
    if ip is None:
        return
    if not isinstance(ip, str):
        problems.append(Problem("source.ip", _expected("an IPv4 or IPv6 address string", ip)))
        return
    if not is_ip(ip):
        problems.append(Problem("source.ip", f"not an IPv4 or IPv6 address: {_shown(ip)}"))


def validate(event: Mapping[str, Any], *, trusted_timestamp: str | None = None) -> list[Problem]:
    """Check one nested event against the contract v1.

    Args:
        event: the decoded JSON object (nested, not dotted; see :func:`expand_dotted`).
        trusted_timestamp: a producer's own freshly formatted ``@timestamp`` (the emitter's); when the
            event's ``@timestamp`` *is* this object, its format check is skipped. Any other value,
            equal or not, is checked in full.

    Returns:
        Every problem found, in field order; an empty list means the event is valid.
    """
    # The common case (a valid event of plain dicts) takes the straight-line check; anything it is
    # unsure about goes to the detailed walk, which alone decides and explains.
    if _plainly_valid(event, trusted_timestamp):
        return []
    return _problems(event)


# The fast path remembers valid verbs (apps use a handful) and dates; bounded, cleared when full.
_ACTIONS_SEEN: set[str] = set()
_DAYS_SEEN: dict[str, bool] = {}
_CACHE_LIMIT = 1024
# _TIMESTAMP_PATTERN from the 12th character on (after "YYYY-MM-DDT"), without groups
_TIME_OF_DAY = re.compile(
    r"(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,9})?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)\Z", re.ASCII
)


def timestamp_ok(text: str) -> bool:
    """Whether ``text`` (a str) is a contract ``@timestamp``.

    The date part (``YYYY-MM-DDT``, always 11 characters) repeats for a whole day's events, so its
    answer (regex and calendar) is remembered; only the time of day is matched per call (~2x faster).
    """
    day = text[:11]
    ok = _DAYS_SEEN.get(day)
    if ok is None:
        probe = day + "00:00:00Z"
        m = _TIMESTAMP.match(probe)
        ok = m is not None and (m.group(3) <= "28" or _timestamp_reason(probe) is None)
        if len(_DAYS_SEEN) >= _CACHE_LIMIT:
            _DAYS_SEEN.clear()
        _DAYS_SEEN[day] = ok
    return ok and _TIME_OF_DAY.match(text, 11) is not None


def action_ok(action: str) -> bool:
    """Whether ``action`` (a str) is a contract ``event.action``; valid verbs are remembered."""
    return action in _ACTIONS_SEEN or _action_ok(action)


def id_ok(event_id: str) -> bool:
    """Whether ``event_id`` (a str) is a contract ``event.id`` (usable as Elasticsearch's ``_id``)."""
    # _ID's [!-~]{1,512} with three C string checks instead of a regex call (about half the cost)
    return 0 < len(event_id) <= MAX_ID_LENGTH and event_id.isascii() and event_id.isprintable() \
        and " " not in event_id


def _action_ok(action: str) -> bool:
    if _ACTION.match(action) is None:
        return False
    if len(_ACTIONS_SEEN) >= _CACHE_LIMIT:
        _ACTIONS_SEEN.clear()
    _ACTIONS_SEEN.add(action)
    return True


def _str_items(value: Any) -> bool:
    if type(value) is not list:
        return False
    for item in value:  # noqa: SIM110 - a plain loop: a generator in all() costs more than the check
        if type(item) is not str:
            return False
    return True


def _plainly_valid(e: Any, trusted_timestamp: str | None = None) -> bool:  # one straight line: the hot path
    """Return True only for a valid event (False may also mean "valid but unusual": ask ``_problems``)."""
    if type(e) is not dict:
        return False
    ts = e.get("@timestamp")
    if ts is not trusted_timestamp or ts is None:
        if type(ts) is not str:
            return False
        if not timestamp_ok(ts):
            return False
    ev = e.get("event")
    if type(ev) is not dict:
        return False
    v = ev.get("action")
    if type(v) is not str or (v not in _ACTIONS_SEEN and not _action_ok(v)):
        return False
    if len(ev) > 1:  # only the action (the emitter validates before adding id and categories): nothing else
        v = ev.get("id")
        if v is not None and (type(v) is not str or _ID.match(v) is None):
            return False
        v = ev.get("outcome")
        if v is not None and (type(v) is not str or v not in OUTCOMES):
            return False
        v = ev.get("kind")
        if v is not None and type(v) is not str:
            return False
        v = ev.get("category")
        if v is not None and type(v) is not str and not _str_items(v):
            return False
        v = ev.get("type")
        if v is not None and type(v) is not str and not _str_items(v):
            return False
    audit = e.get("audit")
    if type(audit) is not dict:
        return False
    v = audit.get("source")
    if type(v) is not str or not v:
        return False
    v = audit.get("tier")
    if type(v) is not str or not v:
        return False
    v = audit.get("changes")
    if v is not None:
        if type(v) is not dict:
            return False
        for change in v.values():
            if type(change) is not dict or len(change) != 2 or "old" not in change or "new" not in change:
                return False
    v = audit.get("changed_fields")
    if v is not None and not _str_items(v):
        return False
    v = audit.get("login_type")
    if v is not None and type(v) is not str:
        return False
    v = audit.get("stream")
    if v is not None and (type(v) is not str or not v):
        return False
    v = audit.get("seq")
    if v is not None and (type(v) is not int or v < 1):
        return False
    org = e.get("organization")
    if type(org) is not dict:
        return False
    v = org.get("id")
    if type(v) is not str or not v:
        return False
    v = org.get("name")
    if v is not None and type(v) is not str:
        return False
    user = e.get("user")
    if user is not None:
        if type(user) is not dict:
            return False
        v = user.get("id")  # unrolled: a loop over the three keys costs more than the checks
        if v is not None and type(v) is not str:
            return False
        v = user.get("name")
        if v is not None and type(v) is not str:
            return False
        v = user.get("email")
        if v is not None and type(v) is not str:
            return False
        v = user.get("roles")
        if v is not None and not _str_items(v):
            return False
    obj = e.get("source")
    if obj is not None:
        if type(obj) is not dict:
            return False
        v = obj.get("ip")
        if v is not None and (type(v) is not str or not (_IP_CACHE.get(v) or is_ip(v))):
            return False
    obj = e.get("url")
    if obj is not None and (type(obj) is not dict or ((v := obj.get("full")) is not None and type(v) is not str)):
        return False
    obj = e.get("user_agent")
    if obj is not None and (
        type(obj) is not dict or ((v := obj.get("original")) is not None and type(v) is not str)
    ):
        return False
    v = e.get("message")
    return v is None or type(v) is str


def _problems(event: Any) -> list[Problem]:
    """Walk the whole event and return every problem with its reason."""
    if not isinstance(event, dict) and not isinstance(event, Mapping):
        return [Problem("$", _expected("a JSON object", event))]
    problems: list[Problem] = []

    ts = event.get("@timestamp", _MISSING)
    if ts is _MISSING:
        problems.append(Problem("@timestamp", "missing"))
    elif not isinstance(ts, str):
        problems.append(Problem("@timestamp", _expected("an RFC 3339 date-time string", ts)))
    else:
        reason = _timestamp_reason(ts)
        if reason is not None:
            problems.append(Problem("@timestamp", reason))

    ev = _object(problems, event, "event", ("event.action",))
    if ev is not None:
        _check_event(problems, ev, event)
    audit = _object(problems, event, "audit", ("audit.source", "audit.tier"))
    if audit is not None:
        _check_audit(problems, audit, event)
    org = _object(problems, event, "organization", ("organization.id",))
    if org is not None:
        _required_str(problems, org, "id", "organization.id", event)
        _optional_str(problems, org, "name", "organization.name")

    user = _object(problems, event, "user")
    if user is not None:
        _check_user(problems, user)
    source = _object(problems, event, "source")
    if source is not None:
        _check_ip(problems, source)
    url = _object(problems, event, "url")
    if url is not None:
        _optional_str(problems, url, "full", "url.full")
    agent = _object(problems, event, "user_agent")
    if agent is not None:
        _optional_str(problems, agent, "original", "user_agent.original")
    _optional_str(problems, event, "message", "message")
    return problems


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


# ---------------------------------------------------------------------------------------------
# the typed model


@dataclass(frozen=True, slots=True)
class Change:
    """One changed field's original and new value (``audit.changes[field]``)."""

    old: Any
    new: Any


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """A validated contract v1 event as typed fields; ``raw`` keeps the full object, unknown fields included."""

    timestamp: datetime
    action: str
    source: str
    tier: str
    organization_id: str
    id: str | None = None
    outcome: str | None = None
    organization_name: str | None = None
    user_id: str | None = None
    user_name: str | None = None
    user_email: str | None = None
    user_roles: tuple[str, ...] = ()
    changes: Mapping[str, Change] = field(default_factory=dict)
    source_ip: str | None = None
    url: str | None = None
    user_agent: str | None = None
    login_type: str | None = None
    message: str | None = None
    kind: str | None = None
    category: tuple[str, ...] = ()
    type: tuple[str, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_dict(cls, event: Mapping[str, Any]) -> AuditEvent:
        """Build the model from a decoded event (dotted keys are expanded first).

        Args:
            event: the JSON object.

        Returns:
            The typed event.

        Raises:
            ContractError: when the event breaks the contract; ``problems`` lists every reason.
        """
        nested = expand_dotted(event)
        problems = validate(nested)
        if problems:
            raise ContractError(problems)
        ev: Mapping[str, Any] = nested["event"]
        audit: Mapping[str, Any] = nested["audit"]
        org: Mapping[str, Any] = nested["organization"]
        user: Mapping[str, Any] = nested.get("user") or {}
        changes = audit.get("changes") or {}
        return cls(
            timestamp=parse_timestamp(nested["@timestamp"]),
            action=ev["action"],
            source=audit["source"],
            tier=audit["tier"],
            organization_id=org["id"],
            id=ev.get("id"),
            outcome=ev.get("outcome"),
            organization_name=org.get("name"),
            user_id=user.get("id"),
            user_name=user.get("name"),
            user_email=user.get("email"),
            user_roles=tuple(user.get("roles") or ()),
            changes={name: Change(c["old"], c["new"]) for name, c in changes.items()},
            source_ip=(nested.get("source") or {}).get("ip"),
            url=(nested.get("url") or {}).get("full"),
            user_agent=(nested.get("user_agent") or {}).get("original"),
            login_type=audit.get("login_type"),
            message=nested.get("message"),
            kind=ev.get("kind"),
            category=_as_tuple(ev.get("category")),
            type=_as_tuple(ev.get("type")),
            raw=nested,
        )

    @property
    def changed_fields(self) -> list[str]:
        """Sorted names of the changed fields (what ``audit.changed_fields`` holds)."""
        return sorted(self.changes)

    def to_dict(self) -> dict[str, Any]:
        """Return the nested contract JSON object of the typed fields (``raw``'s unknown fields are not included)."""
        ev: dict[str, Any] = {"action": self.action}
        _put(ev, "id", self.id)
        _put(ev, "outcome", self.outcome)
        _put(ev, "kind", self.kind)
        if self.category:
            ev["category"] = list(self.category)
        if self.type:
            ev["type"] = list(self.type)
        audit: dict[str, Any] = {"source": self.source, "tier": self.tier}
        if self.changes:
            audit["changes"] = {k: {"old": c.old, "new": c.new} for k, c in self.changes.items()}
            audit["changed_fields"] = self.changed_fields
        _put(audit, "login_type", self.login_type)
        org: dict[str, Any] = {"id": self.organization_id}
        _put(org, "name", self.organization_name)
        out: dict[str, Any] = {
            "@timestamp": format_timestamp(self.timestamp),
            "event": ev,
            "audit": audit,
            "organization": org,
        }
        user: dict[str, Any] = {}
        _put(user, "id", self.user_id)
        _put(user, "name", self.user_name)
        _put(user, "email", self.user_email)
        if self.user_roles:
            user["roles"] = list(self.user_roles)
        if user:
            out["user"] = user
        if self.source_ip is not None:
            out["source"] = {"ip": self.source_ip}
        if self.url is not None:
            out["url"] = {"full": self.url}
        if self.user_agent is not None:
            out["user_agent"] = {"original": self.user_agent}
        _put(out, "message", self.message)
        return out


def _put(target: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        target[key] = value


def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)
