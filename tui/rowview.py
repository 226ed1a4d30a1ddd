"""What one line of the event list shows, computed once per event (pure, no Textual)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from auditlog.core.contract import F
from auditlog.indexer.query.hits import undecodable_reason
from auditlog.tui.eventview import event_worker, field, local_time
from auditlog.tui.summaries import Summarizer
from auditlog.tui.values import printable

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def undecodable_label(event_id: str) -> str:
    """Return the text that marks an event which could not be read: ``undecodable event <id>``."""
    return f"undecodable event {event_id}"


@dataclass(frozen=True)
class EventRow:
    """One listed event: the seed's columns (date and time, source, type, worker, summary) and the event.

    ``problem`` is set (and the summary says ``undecodable event <id>``) when the event could not be
    read or shown; such a row is counted, never dropped.
    """

    event_id: str
    time: str
    source: str
    action: str
    worker: str
    summary: str
    event: Mapping[str, Any]
    problem: str | None = None

    @classmethod
    def from_event(cls, event: Mapping[str, Any], tz: tzinfo, summarizer: Summarizer) -> EventRow:
        """Build the row of ``event`` with its time shown in ``tz``; a marked row when it cannot be read."""
        event_id = str(field(event, F.id) or "")
        reason = undecodable_reason(event)
        if reason is None:
            try:
                return cls._build(event_id, event, tz, summarizer)
            except Exception as exc:  # one odd event must not take the list down: mark it instead
                reason = f"{type(exc).__name__}: {exc}"
        return cls(event_id=event_id, time="", source="", action="", worker="",
                   summary=printable(undecodable_label(event_id)), event=event, problem=printable(reason[:300]))

    @classmethod
    def _build(cls, event_id: str, event: Mapping[str, Any], tz: tzinfo, summarizer: Summarizer) -> EventRow:
        moment = local_time(event, tz)
        # Every shown string goes through printable(): event data must not drive the terminal.
        return cls(
            event_id=event_id,
            time=moment.strftime(TIME_FORMAT) if moment else printable(str(event.get(F.timestamp) or "?")),
            source=printable(str(field(event, F.source) or "")),
            action=printable(str(field(event, F.action) or "")),
            worker=printable(event_worker(event)),
            summary=printable(summarizer.summarize(event)),
            event=event,
        )
