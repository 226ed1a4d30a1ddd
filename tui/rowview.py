"""What one line of the event list shows, computed once per event (pure, no Textual)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from auditlog.tui.eventview import event_time, event_worker, field
from auditlog.tui.summaries import Summarizer
from auditlog.tui.values import printable

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class EventRow:
    """One listed event: the seed's columns (date and time, source, type, worker, summary) and the event."""

    event_id: str
    time: str
    source: str
    action: str
    worker: str
    summary: str
    event: Mapping[str, Any]

    @classmethod
    def from_event(cls, event: Mapping[str, Any], tz: tzinfo, summarizer: Summarizer) -> EventRow:
        """Build the row of ``event`` with its time shown in ``tz``."""
        moment = event_time(event)
        # Every shown string goes through printable(): event data must not drive the terminal.
        return cls(
            event_id=str(field(event, "event.id") or ""),
            time=moment.astimezone(tz).strftime(TIME_FORMAT) if moment else printable(str(event.get("@timestamp")
                                                                                             or "?")),
            source=printable(str(field(event, "audit.source") or "")),
            action=printable(str(field(event, "event.action") or "")),
            worker=printable(event_worker(event)),
            summary=printable(summarizer.summarize(event)),
            event=event,
        )
