"""A virtual, windowed list of events: only the rows on screen (plus a bounded cache) are in memory.

The list knows the total number of matching events (its virtual height) but holds at most
``MAX_CACHED_ROWS`` rows. When a line without data scrolls into view it posts ``NeedRows`` for that
row's page; the screen fetches the page in a worker (point-in-time paging) and hands the rows back
with ``put_rows``. Rendering uses Textual's line API, so the cost per frame depends on the terminal's
height, not on the number of events (a DataTable with every row slows down past ~100k rows).
"""

from __future__ import annotations

from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Static

from auditlog.core.cache import BoundedCache
from auditlog.tui.rowview import EventRow

MAX_CACHED_ROWS = 2_000
#: Widths of the fixed columns (time, source, type, worker); the summary takes the rest.
WIDE_COLUMNS = (19, 13, 6, 16)
#: Below ``WIDE_FROM`` cells the date loses its year and names are cut shorter, so the summary stays readable.
NARROW_COLUMNS = (14, 12, 6, 12)
WIDE_FROM = 110
HEADERS = ("Date and time", "Source", "Type", "Worker", "Summary")


def format_line(row: EventRow | None, width: int, *, header: bool = False) -> str:
    """Return one list line (or the header line) laid out in columns, cut to ``width`` cells."""
    sizes = WIDE_COLUMNS if width >= WIDE_FROM else NARROW_COLUMNS
    if header:
        cells, rest = list(HEADERS[:4]), HEADERS[4]
    elif row is None:
        return " loading…"
    else:
        # The time column is right-aligned text cut from the left: "2026-11-20 12:59:57" -> "11-20 12:59:57".
        cells = [row.time[-sizes[0]:], row.source, row.action, row.worker]
        rest = row.summary
    parts = [f"{text[:size]:<{size}}" for text, size in zip(cells, sizes, strict=True)]
    return (" " + " ".join(parts) + " " + rest)[:width]


class ListHeader(Static):
    """The column titles above the list, laid out like its lines at the current width."""

    def render(self) -> str:
        return format_line(None, self.size.width, header=True)


class EventList(ScrollView, can_focus=True):
    """The chronological event list (newest first) with a cursor; rows are loaded on demand."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home,g", "jump(0)", "First", show=False),
        Binding("end,G", "jump(-1)", "Last", show=False),
        Binding("enter", "open", "Open", show=True),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {"event-list--cursor", "event-list--loading", "event-list--empty"}
    DEFAULT_CSS = """
    EventList { height: 1fr; }
    EventList > .event-list--cursor { background: $accent 40%; text-style: bold; }
    EventList:focus > .event-list--cursor { background: $accent; color: $text; }
    EventList > .event-list--loading { color: $text-muted; }
    EventList > .event-list--empty { color: $text-muted; text-style: italic; }
    """

    cursor: reactive[int] = reactive(0, always_update=True)

    class NeedRows(Message):
        """Rows ``start``..``end`` (exclusive) are on screen but not loaded."""

        def __init__(self, start: int, end: int) -> None:
            super().__init__()
            self.start = start
            self.end = end

    class Opened(Message):
        """The user opened the row at ``index`` (Enter)."""

        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    def __init__(self, page_size: int = 100, *, name: str | None = None, id: str | None = None) -> None:
        super().__init__(name=name, id=id)
        self.page_size = page_size
        self.total = 0
        self.empty_message = "No events match the filter."
        self._rows: BoundedCache[int, EventRow] = BoundedCache(MAX_CACHED_ROWS)
        self._pending: set[int] = set()

    # -- data ---------------------------------------------------------------------------------

    def reset(self, total: int, *, keep_place: bool = False) -> None:
        """Forget every row and show ``total`` events (cursor back to the top unless ``keep_place``)."""
        self._rows.clear()
        self._pending.clear()
        self.total = total
        self.virtual_size = Size(self.size.width, total)
        if not keep_place:
            self.scroll_to(0, 0, animate=False, immediate=True)
            self.cursor = 0
        self.refresh()

    def put_rows(self, start: int, rows: list[EventRow]) -> None:
        """Store loaded rows beginning at index ``start`` (older rows are evicted past the cache bound)."""
        self._pending.discard(start // self.page_size)
        for offset, row in enumerate(rows):
            self._rows.put(start + offset, row)
        self.refresh()

    def forget_pending(self) -> None:
        """Allow rows that failed to load to be asked for again."""
        self._pending.clear()
        self.refresh()

    def shift(self, delta: int, total: int) -> None:
        """``delta`` new events arrived on top: keep the selected event selected and the view in place.

        When the view is at the very top the new events scroll into view (a live tail); otherwise the
        viewport moves down with the rows the user was reading.
        """
        at_top = self.scroll_offset.y == 0
        old_y = self.scroll_offset.y
        self.reset(total, keep_place=True)
        self.cursor = min(self.cursor + delta, max(total - 1, 0))
        if not at_top:
            self.scroll_to(0, old_y + delta, animate=False, immediate=True)

    def row(self, index: int) -> EventRow | None:
        """Return the loaded row at ``index``, or ``None`` when it is not in memory."""
        return self._rows.get(index)

    @property
    def cached_rows(self) -> int:
        """How many rows are in memory (bounded by ``MAX_CACHED_ROWS``)."""
        return len(self._rows)

    # -- rendering ----------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        index = int(self.scroll_offset.y) + y
        if self.total == 0:
            if y == 0:
                style = self.get_component_rich_style("event-list--empty")
                return Strip([Segment(f" {self.empty_message}"[:width], style)]).adjust_cell_length(width)
            return Strip.blank(width)
        if index >= self.total:
            return Strip.blank(width)
        row = self._rows.get(index)
        if y in (0, self.size.height - 1):
            # Prefetch half a page beyond either edge of the viewport, so scrolling rarely waits.
            ahead = index + (self.page_size // 2 if y else -self.page_size // 2)
            if 0 <= ahead < self.total and ahead not in self._rows:
                self._want(ahead)
        if row is None:
            self._want(index)
            style = self.get_component_rich_style("event-list--loading")
        elif index == self.cursor:
            style = self.get_component_rich_style("event-list--cursor")
        else:
            style = Style()
        if row is not None and index == self.cursor:
            style = self.get_component_rich_style("event-list--cursor")
        return Strip([Segment(format_line(row, width), style)]).adjust_cell_length(width, style)

    def _want(self, index: int) -> None:
        page = index // self.page_size
        if page in self._pending:
            return
        self._pending.add(page)
        start = page * self.page_size
        self.post_message(self.NeedRows(start, min(start + self.page_size, self.total)))

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, self.total)

    # -- cursor -------------------------------------------------------------------------------

    def watch_cursor(self, old: int, new: int) -> None:
        if self.total:
            self.scroll_to_region(Region(0, new, 1, 1), animate=False, immediate=True)
        self.refresh()

    def _move_to(self, index: int) -> None:
        if self.total:
            self.cursor = max(0, min(index, self.total - 1))

    def action_cursor(self, delta: int) -> None:
        self._move_to(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        self._move_to(self.cursor + direction * max(self.size.height - 1, 1))

    def action_jump(self, where: int) -> None:
        self._move_to(self.total - 1 if where < 0 else where)

    def action_open(self) -> None:
        if self.total:
            self.post_message(self.Opened(self.cursor))

    def on_click(self, event: object) -> None:
        y = getattr(event, "y", None)
        if isinstance(y, int):
            self._move_to(int(self.scroll_offset.y) + y)
