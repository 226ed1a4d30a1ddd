"""One list line per event (tui.rowview): odd events become marked rows, never errors."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from auditlog.indexer.query.hits import undecodable_event
from auditlog.tui.rowview import EventRow
from auditlog.tui.summaries import Summarizer

EAST = ZoneInfo("Pacific/Kiritimati")


def test_a_time_at_the_end_of_the_calendar_is_shown_as_stored() -> None:
    """9999-12-31T23:59:59Z has no time in UTC+14: the row shows the stored text instead of failing."""
    event = {"@timestamp": "9999-12-31T23:59:59Z", "event": {"id": "e1", "action": "create"}}
    row = EventRow.from_event(event, EAST, Summarizer("en"))
    assert ("9999-12-31T23:59:59Z", None) == (row.time, row.problem)


def test_a_placeholder_becomes_a_marked_row() -> None:
    """A hit that could not be decoded is listed as "undecodable event <id>" with the reason kept."""
    row = EventRow.from_event(undecodable_event("abc", "_source is a list"), EAST, Summarizer("en"))
    assert ("undecodable event abc", "_source is a list") == (row.summary, row.problem)


def test_an_event_that_breaks_the_summary_becomes_a_marked_row() -> None:
    """Whatever fails while building a row marks that row instead of raising."""
    class Broken(Summarizer):
        def summarize(self, *args: object, **kwargs: object) -> str:
            raise KeyError("boom")

    row = EventRow.from_event({"event": {"id": "x1"}}, EAST, Broken("en"))
    assert ("undecodable event x1", True) == (row.summary, "boom" in (row.problem or ""))
