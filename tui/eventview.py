"""Read the fields the UI and the export show from a nested contract-v1 event (pure, no I/O).

One place that knows where "date and time", "worker", "object id" etc. live in an event, so the list,
the detail view, the summaries and the Excel export always show the same thing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime, tzinfo
from functools import lru_cache
from typing import Any

from auditlog.core.contract import F

_ID_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


def field(event: Mapping[str, Any], path: str) -> Any:
    """Return the value at dotted ``path`` (``"user.name"``), or ``None`` when any part is absent.

    A literal dotted key (``{"user.name": ...}``, as some producers write) is found too.
    """
    if path in event:
        return event[path]
    node: Any = event
    for part in _parts(path):
        # Decoded JSON is plain dicts: test that first (an ABC isinstance costs more than the lookup).
        if type(node) is not dict and not isinstance(node, Mapping):
            return None
        node = node.get(part, _ABSENT)
        if node is _ABSENT:
            return None
    return node


_ABSENT = object()


def field_getter(path: str) -> Callable[[Mapping[str, Any]], Any]:
    """Return a reader of dotted ``path`` that answers exactly as ``field(event, path)`` does.

    For the export's row loop, which reads the same paths from every event: a one- or two-part path
    on plain dicts is read without the general walk; anything else takes ``field`` itself.

    Args:
        path: a dotted field path (``"organization.name"``).

    Returns:
        A function of one event.
    """
    parts = _parts(path)
    if len(parts) == 1:
        return lambda event: event.get(path) if type(event) is dict else field(event, path)
    if len(parts) > 2:
        return lambda event: field(event, path)
    group, key = parts

    def read(event: Mapping[str, Any]) -> Any:
        if type(event) is dict and path not in event:
            node = event.get(group)
            if type(node) is dict:
                return node.get(key)
            if node is None:
                return None
        return field(event, path)

    return read


@lru_cache(maxsize=512)
def _parts(path: str) -> tuple[str, ...]:
    return tuple(path.split("."))


def event_time(event: Mapping[str, Any]) -> datetime | None:
    """Return the event's ``@timestamp`` as an aware datetime (``None`` when absent or unparseable)."""
    raw = event.get(F.timestamp)
    if isinstance(raw, datetime):
        return raw
    if not isinstance(raw, str):
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00") if raw.endswith("Z") else raw)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def local_time(event: Mapping[str, Any], tz: tzinfo) -> datetime | None:
    """Return the event's time in ``tz``; ``None`` when absent, unparseable or not representable there.

    A timestamp at the edge of the calendar (``9999-12-31T23:59:59Z`` shown east of UTC) has no local
    time; the caller then shows the stored text instead of failing.
    """
    moment = event_time(event)
    if moment is None:
        return None
    try:
        return moment.astimezone(tz)
    except (OverflowError, ValueError):
        return None


def event_worker(event: Mapping[str, Any]) -> str:
    """Return the acting worker as people know them: name, else email, else id, else ``""``."""
    for path in (F.worker_name, F.worker_email, F.worker_id):
        value = field(event, path)
        if value:
            return str(value)
    return ""


def object_id(event: Mapping[str, Any]) -> str | None:
    """Return the id of the object acted on: ``audit.object_id`` or the last segment of ``url.full``.

    The contract has no object id field; the product's URLs end in it (``.../appointments/4711``).
    Only segments that look like an id (mostly digits, or word characters containing a digit) count.
    """
    explicit = field(event, "audit.object_id")
    if explicit not in (None, ""):
        return str(explicit)
    url = field(event, F.url)
    if not isinstance(url, str):
        return None
    segment = url.split("?", 1)[0].split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    if _ID_SEGMENT.match(segment) and any(ch.isdigit() for ch in segment):
        return segment
    return None
