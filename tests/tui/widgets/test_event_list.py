"""Tests for tui.widgets.event_list: the windowed list loads only what is shown and bounds its memory."""

from __future__ import annotations

from typing import Any

from textual.app import App, ComposeResult
from textual.screen import Screen

from auditlog.tui.rowview import EventRow
from auditlog.tui.widgets.event_list import MAX_CACHED_ROWS, EventList, format_line


def _row(index: int) -> EventRow:
    return EventRow(event_id=f"e{index}", time="2026-11-20 10:00:00", source="appointments", action="update",
                    worker="Anna Keller", summary=f"summary {index}", event={})


class ListScreen(Screen[None]):
    """Hosts one EventList and records the rows it asks for (as the main screen does)."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[tuple[int, int]] = []

    def compose(self) -> ComposeResult:
        yield EventList(page_size=100)

    def on_event_list_need_rows(self, message: EventList.NeedRows) -> None:
        self.asked.append((message.start, message.end))


class ListApp(App[None]):
    """Shows the list screen."""

    def on_mount(self) -> None:
        self.push_screen(ListScreen())

    @property
    def asked(self) -> list[tuple[int, int]]:
        screen = self.screen
        assert isinstance(screen, ListScreen)
        return screen.asked


def test_format_line_columns_by_width() -> None:
    """Wide screens show the full date; narrow ones drop the year to keep room for the summary."""
    wide, narrow = format_line(_row(1), 140), format_line(_row(1), 80)
    expected = (True, True, True)
    assert expected == ("2026-11-20 10:00:00" in wide, " 11-20 10:00:00 " in narrow, "summary 1" in narrow)


async def test_only_visible_pages_are_requested() -> None:
    """A million-row list asks for the first page only, then for the last page after End."""
    app = ListApp()
    async with app.run_test(size=(80, 20)) as pilot:
        events = app.screen.query_one(EventList)
        events.focus()
        events.reset(1_000_000)
        await pilot.pause()
        first = list(app.asked)
        await pilot.press("end")
        await pilot.pause()
        expected = ([(0, 100)], (999_900, 1_000_000), 999_999)
        assert expected == (first, app.asked[-1], events.cursor)


async def test_memory_is_bounded() -> None:
    """However many pages are handed to the list, it keeps at most MAX_CACHED_ROWS rows."""
    app = ListApp()
    async with app.run_test(size=(80, 20)):
        events = app.screen.query_one(EventList)
        events.reset(1_000_000)
        for page in range(50):
            events.put_rows(page * 100, [_row(page * 100 + i) for i in range(100)])
        expected: tuple[Any, ...] = (MAX_CACHED_ROWS, None, "e4999")
        row = events.row(4999)
        assert expected == (events.cached_rows, events.row(0), row.event_id if row else None)


async def test_new_rows_on_top_keep_the_selection() -> None:
    """shift() moves the cursor with the selected event when new events arrive above it."""
    app = ListApp()
    async with app.run_test(size=(80, 20)) as pilot:
        events = app.screen.query_one(EventList)
        events.focus()
        events.reset(500)
        await pilot.press("down", "down")
        events.shift(3, 503)
        expected = (5, 503)
        assert expected == (events.cursor, events.total)
