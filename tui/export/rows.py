"""One event -> one spreadsheet row: the export's columns and how each is filled (pure, no I/O).

Columns follow the seed's fields: time (in the export's zone, named in the header), organization,
worker, type, source, summary, changed fields, old and new values, IP, URL, login type, message and
event id, plus the ids and user agent support staff ask for next. Old/new values are one line per
changed field (``field: value``), in the Raw view's order, so a row stays one event and the sheet's row
count equals the number of events.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any

from auditlog.core.contract import CONTRACT, Contract, F, Field
from auditlog.indexer.query.hits import undecodable_reason
from auditlog.tui.diff import ChangeKind, ChangeRow, diff_changes
from auditlog.tui.eventview import event_worker, field, field_getter, local_time
from auditlog.tui.rowview import undecodable_label
from auditlog.tui.sanitize import CellValue, cell_value, sanitize_text
from auditlog.tui.summaries import Summarizer
from auditlog.tui.values import display_value

#: (header, width) of every column after the time column.
COLUMNS: tuple[tuple[str, int], ...] = (
    ("Organization", 28),
    ("Organization ID", 14),
    ("Worker", 22),
    ("Worker ID", 16),
    ("Type", 9),
    ("Source", 16),
    ("Outcome", 9),
    ("Summary", 60),
    ("Changed fields", 24),
    ("Old values", 36),
    ("New values", 36),
    ("IP", 18),
    ("URL", 48),
    ("Login type", 10),
    ("User agent", 40),
    ("Message", 48),
    ("Event ID", 38),
)
#: labelled contract fields the sheet shows in a column above (or through the Worker column), or leaves out:
#: the tier and categories say nothing a support reader filters the sheet by; roles are the worker's, not the event's.
_COVERED: frozenset[str] = frozenset({
    F.tenant_name, F.tenant, F.worker_name, F.worker_email, F.worker_id, F.outcome, F.ip, F.url, F.login_type,
    F.user_agent, F.message, F.id, F.tier, F.category, F.worker_roles,
})
EXTRA_WIDTH = 24


def extra_fields(contract: Contract = CONTRACT) -> tuple[Field, ...]:
    """Return the labelled fields of ``contract`` the fixed columns do not cover: each gets a column at the end."""
    return tuple(f for f in contract.labelled() if f.path not in _COVERED)


#: the contract's other labelled fields, one column each after ``Event ID`` (none in contract v1).
EXTRA_FIELDS: tuple[Field, ...] = extra_fields()
COLUMNS += tuple((f.label or f.path, EXTRA_WIDTH) for f in EXTRA_FIELDS)
TIME_WIDTH = 20


def time_header(zone_name: str) -> str:
    """Return the time column's header, naming the zone (``Time (Europe/Zurich)``)."""
    return f"Time ({zone_name})"


def _values(rows: list[ChangeRow], side: str) -> str:
    lines = []
    for row in rows:
        value = row.old if side == "old" else row.new
        if (side == "old" and row.kind is ChangeKind.ADDED) or (side == "new" and row.kind is ChangeKind.REMOVED):
            continue
        lines.append(f"{row.field}: {display_value(value)}")
    return "\n".join(lines)


# Readers of the paths every row reads (field_getter: the same answers as ``field``, fewer calls).
_TIMESTAMP, _TENANT_NAME, _TENANT, _WORKER_ID, _ACTION, _SOURCE, _OUTCOME = map(field_getter, (
    F.timestamp, F.tenant_name, F.tenant, F.worker_id, F.action, F.source, F.outcome))
_CHANGES, _CHANGED_FIELDS, _IP, _URL, _LOGIN_TYPE, _USER_AGENT, _MESSAGE, _ID = map(field_getter, (
    F.changes, F.changed_fields, F.ip, F.url, F.login_type, F.user_agent, F.message, F.id))
_EXTRA_READERS = tuple(field_getter(f.path) for f in EXTRA_FIELDS)


def event_row(event: Mapping[str, Any], tz: tzinfo, summarizer: Summarizer) -> list[CellValue]:
    """Return the cells of one event: the time as a naive datetime in ``tz``, then ``COLUMNS``.

    Args:
        event: a nested contract-v1 event.
        tz: the export's time zone (Excel dates carry no zone; the header names it).
        summarizer: renders the summary column.

    Returns:
        Sanitised cell values, one per column.
    """
    moment = local_time(event, tz)
    local: datetime | None = moment.replace(tzinfo=None) if moment else None
    rows = diff_changes(_CHANGES(event))
    changed = _CHANGED_FIELDS(event)
    if not isinstance(changed, list):
        changed = [row.field for row in rows]
    raw: list[Any] = [
        local if local is not None else _TIMESTAMP(event),
        _TENANT_NAME(event),
        _TENANT(event),
        event_worker(event),
        _WORKER_ID(event),
        _ACTION(event),
        _SOURCE(event),
        _OUTCOME(event),
        summarizer.summarize(event, rows),
        ", ".join(map(str, changed)),
        _values(rows, "old"),
        _values(rows, "new"),
        _IP(event),
        _URL(event),
        _LOGIN_TYPE(event),
        _USER_AGENT(event),
        _MESSAGE(event),
        _ID(event),
        *[read(event) for read in _EXTRA_READERS],
    ]
    # Empty text becomes an absent cell: openpyxl would otherwise write an empty <c> element for it.
    # Text is most cells: sanitise it directly rather than through cell_value's type dispatch.
    return [(sanitize_text(v) if v else None) if type(v) is str else cell_value(v) for v in raw]


_SUMMARY_CELL = [name for name, _ in COLUMNS].index("Summary") + 1


def undecodable_row(event: Mapping[str, Any]) -> list[CellValue]:
    """Return the marked row of an event that could not be read: ``undecodable event <id>`` and its id."""
    event_id = str(field(event, F.id) or "")
    cells: list[CellValue] = [None] * (len(COLUMNS) + 1)
    cells[_SUMMARY_CELL] = sanitize_text(undecodable_label(event_id))
    cells[-1] = sanitize_text(event_id) or None
    return cells


def checked_row(event: Mapping[str, Any], tz: tzinfo, summarizer: Summarizer) -> tuple[list[CellValue], bool]:
    """Return the cells of ``event`` and whether it was readable; an unreadable one gets ``undecodable_row``.

    Args:
        event: a nested contract-v1 event, or a placeholder for a hit that could not be decoded.
        tz: the export's time zone.
        summarizer: renders the summary column.

    Returns:
        (cells, True) for a readable event; (the marked row, False) otherwise.
    """
    if undecodable_reason(event) is None:
        try:
            return event_row(event, tz, summarizer), True
        except Exception:  # one odd event must not abort an export: it becomes a marked, counted row
            pass
    return undecodable_row(event), False
