"""The main screen: filter bar, histogram, the windowed event list and a status line.

Every Elasticsearch call runs in a thread worker. The listing query is ``exclusive``: a new filter
cancels the stale query's worker, and a result that arrives for a filter no longer shown is dropped
(its snapshot closed). Errors (cluster down, bad key, no results) become notifications.

Cancelling: Textual's cancel only flags a thread worker, so each piece of work also gets a
``threading.Event`` that the blocking code checks between requests (``auditlog.core.background``): a
new filter sets the flag of the previous filter's listing and counts, a new listing that of the row
reads (and cursor walks) of the old one, and leaving the screen sets them all. Verifications go
through a :class:`~auditlog.tui.verification.VerificationQueue`: one at a time, the newest filter's next.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from zoneinfo import ZoneInfo

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input, Label, Select, SelectionList, Static
from textual.worker import Worker, WorkerState

from auditlog.core.background import Cancelled
from auditlog.indexer.errors import READ_ERRORS
from auditlog.indexer.proof import event_proof
from auditlog.indexer.query import Filter, tenants_in, values_problem
from auditlog.indexer.query.dsl import text_problem
from auditlog.indexer.verify import Report, verify
from auditlog.tui.backend import Backend, Counts, Listing
from auditlog.tui.filenames import safe_stem
from auditlog.tui.filters import describe_filter
from auditlog.tui.rowview import EventRow
from auditlog.tui.screens.custom_range import CustomRangeScreen, TimeRange
from auditlog.tui.screens.detail import DetailScreen
from auditlog.tui.screens.export import ExportScreen
from auditlog.tui.screens.help import HelpScreen
from auditlog.tui.screens.verify import VerifyScreen
from auditlog.tui.timerange import PRESETS, preset_range
from auditlog.tui.values import printable
from auditlog.tui.verification import VerificationQueue, badge, export_pairs
from auditlog.tui.widgets.event_list import EventList, ListHeader
from auditlog.tui.widgets.facet_list import FacetList
from auditlog.tui.widgets.histogram import EventHistogram

if TYPE_CHECKING:
    from auditlog.tui.config import AppConfig

_PRESET_KEYS = [key for key, _ in PRESETS if key != "custom"]
DEFAULT_PRESET = "7d"
#: Below this width the filter panel starts hidden (toggle with `f`).
NARROW_SCREEN = 110
#: What ends a read early: it was given up, or the cluster failed.
_STOPPED: tuple[type[Exception], ...] = (Cancelled, *READ_ERRORS)


class MainScreen(Screen[None]):
    """Find events: filters with live counts, histogram, list; open, export, live tail."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "focus_search", "Find"),
        Binding("f", "toggle_filters", "Filters"),
        Binding("r", "next_range", "Range"),
        Binding("R", "custom_range", "Custom range", show=False),
        Binding("c", "clear_filters", "Clear"),
        Binding("e", "export_all", "Export"),
        Binding("d", "export_one", "Download"),
        Binding("t", "toggle_live", "Live"),
        Binding("v", "verification", "Verify"),
        Binding("ctrl+r", "reload", "Reload", show=False),
        Binding("escape", "focus_list", "List", show=False),
        Binding("question_mark", "help", "Help"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, config: AppConfig) -> None:
        super().__init__()
        self.config = config
        self.tz = ZoneInfo(config.zone)
        customer = config.customer
        self.backend = Backend(config.client, config.tiers, index=customer.index if customer else None,
                               tenant=customer.tenant if customer else None, page_size=config.page_size,
                               keep_alive=config.snapshot_keep_alive)
        self.filter = Filter(tenants=(customer.tenant,) if customer else ())
        self.preset = DEFAULT_PRESET
        self.listing: Listing | None = None
        self.connected: bool | None = None
        self.live_timer: Timer | None = None
        self._looking = False  # a live-tail look is in flight (set on the app's thread, cleared by its worker)
        #: The last Elasticsearch failure shown to the user (also in a notification).
        self.last_error: str | None = None
        #: Positions in the current listing of the loaded rows that could not be read (marked, counted in the
        #: status). Positions, not ids: hits without an id (or sharing one) are rows each, as the export counts them.
        self.undecodable: set[int] = set()
        self.searching = False
        #: tamper evidence of the filter on screen (None: not run, or running)
        self.verification: Report | None = None
        self.verifying = False
        self.verify_failed = False
        self.verifications = VerificationQueue()
        #: set when the current filter's listing and counts are no longer wanted (a newer filter, leaving)
        self._listing_cancel = threading.Event()
        #: set when row reads of the listing on screen are no longer wanted (another listing shown, leaving)
        self._rows_cancel = threading.Event()

    # -- layout -------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(id="body"):
            with VerticalScroll(id="filters"):
                yield Label("Type", classes="facet-title")
                yield FacetList(id="actions")
                yield Label("Source", classes="facet-title")
                yield FacetList(id="sources")
                yield Label("Worker", classes="facet-title")
                yield FacetList(id="workers")
            with Vertical(id="main"):
                with Horizontal(id="topbar"):
                    yield Select([(label, key) for key, label in PRESETS], value=DEFAULT_PRESET, allow_blank=False,
                                 id="range")
                    if self.config.customer is None:
                        yield Input(placeholder="tenant (org id)", id="tenant")
                    yield Input(placeholder="search text… (/)", id="search")
                yield EventHistogram(id="histogram")
                yield ListHeader(id="list-header")
                yield EventList(page_size=self.config.page_size, id="events")
                yield Static("", id="status")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        if self.app.size.width < NARROW_SCREEN:
            self.query_one("#filters").add_class("hidden")  # the list needs the width; `f` shows the panel
        self.apply_range(*preset_range(DEFAULT_PRESET, self.config.clock(), self.tz), reload=False)
        self.query_one(EventList).focus()
        self.set_interval(self.config.keepalive_interval, self.keep_alive)
        self.reload()

    # -- filter changes -----------------------------------------------------------------------

    def apply_range(self, since: datetime | None, until: datetime | None, *, reload: bool = True) -> None:
        """Set the time range of the filter (and reload)."""
        self.filter = self.filter.with_(since=since, until=until)
        if reload:
            self.reload()

    @on(Select.Changed, "#range")
    def range_chosen(self, event: Select.Changed) -> None:
        key = str(event.value)
        if key == "custom":
            self.action_custom_range()
            return
        if key == self.preset:
            return
        self.preset = key
        self.apply_range(*preset_range(key, self.config.clock(), self.tz))

    @on(SelectionList.SelectedChanged)
    def facet_ticked(self, event: SelectionList.SelectedChanged[str]) -> None:
        dimension = event.selection_list.id
        if dimension in ("workers", "actions", "sources"):
            values = tuple(str(v) for v in event.selection_list.selected)
            if values != getattr(self.filter, dimension):
                self.filter = self.filter.with_(**{dimension: values})
                self.reload()

    @on(Input.Submitted, "#search")
    def search_submitted(self, event: Input.Submitted) -> None:
        problem = text_problem(event.value)
        if problem is not None:  # refused, not cut: a cut text would list events the search excludes
            self.notify(problem, title="Search", severity="error", timeout=8, markup=False)
            return
        self.filter = self.filter.with_(text=event.value.strip() or None)
        self.reload()
        self.query_one(EventList).focus()

    @on(Input.Submitted, "#tenant")
    def tenant_submitted(self, event: Input.Submitted) -> None:
        wanted = self.filter.with_(tenants=tenants_in(event.value))
        problem = values_problem(wanted)
        if problem is not None:  # Elasticsearch would fail every shard without naming the limit
            self.notify(problem, title="Tenant", severity="error", timeout=8, markup=False)
            return
        self.filter = wanted
        self.reload()
        self.query_one(EventList).focus()

    # -- loading ------------------------------------------------------------------------------

    def reload(self) -> None:
        """Query the current filter (a running query for an older filter is cancelled)."""
        self.searching = True
        self._status()
        self._listing_cancel.set()  # the previous filter's listing and counts stop at their next request
        self._listing_cancel = threading.Event()
        self.load_listing(self.filter, self._listing_cancel)

    @work(thread=True, exclusive=True, group="listing", exit_on_error=False)
    def load_listing(self, flt: Filter, cancel: threading.Event) -> None:
        try:
            listing = self.backend.open_listing(flt)
        except READ_ERRORS as exc:
            if not cancel.is_set():
                self.app.call_from_thread(self._failed, exc)
            return
        try:
            first = self._rows(listing, 0, self.config.page_size, cancel)
        except _STOPPED as exc:
            _close_in_background(listing)
            if not cancel.is_set() and not isinstance(exc, Cancelled):
                self.app.call_from_thread(self._failed, exc)
            return
        if cancel.is_set():
            _close_in_background(listing)
            return
        self.app.call_from_thread(self._show_listing, listing, first)
        self._load_counts(listing, cancel)

    def _load_counts(self, listing: Listing, cancel: threading.Event) -> None:
        """Read facets and histogram of ``listing`` and show them (called in a worker thread)."""
        try:
            counts = self.backend.counts(listing, zone=self.config.zone, now=self.config.clock(), cancel=cancel)
        except Cancelled:
            return
        except READ_ERRORS as exc:
            if not cancel.is_set():
                self.app.call_from_thread(self._failed, exc)
            return
        if not cancel.is_set():
            self.app.call_from_thread(self._show_counts, listing, counts)

    def _rows(self, listing: Listing, start: int, stop: int, cancel: threading.Event | None = None) -> list[EventRow]:
        hits = listing.pager.rows(start, stop, cancel)
        return [EventRow.from_event(hit.source, self.tz, self.config.summarizer) for hit in hits]

    def _failed(self, exc: BaseException) -> None:
        self.searching = False
        self.connected = False
        self.last_error = self.config.describe(exc)
        self.query_one(EventList).forget_pending()
        self._status()
        self.notify(self.last_error, title="Elasticsearch", severity="error", timeout=8, markup=False)

    def _show_listing(self, listing: Listing, first: list[EventRow], *, shift: int | None = None,
                      base: Listing | None = None) -> None:
        """Show ``listing``: a new list, or (``shift``) the same list with ``shift`` new events on top of ``base``."""
        stale = shift is not None and self.listing is not base  # another tick's answer moved the list already
        if stale or listing.filter != self.backend.scoped(self.filter):
            listing.pager.close()  # a newer filter or a newer look is on screen: this answer is stale
            return
        old, self.listing = self.listing, listing
        if old is not None and old.pager is not listing.pager:
            self._rows_cancel.set()  # rows (and far jumps) still being read for the old list are not wanted
            self._rows_cancel = threading.Event()
            self.close_pager(old)
        self.searching = False
        self.connected = True
        events = self.query_one(EventList)
        if shift is None:
            events.reset(listing.total)
            self.undecodable.clear()
        else:
            events.shift(shift, listing.total)
            self.undecodable = {at + shift for at in self.undecodable}  # the new events came in on top
        self._count_undecodable(0, first)
        events.put_rows(0, first)
        self._status()
        if listing.total == 0 and shift is None:
            self.notify("No events match the filter.", timeout=4, markup=False)
        if shift is None and self.config.verify_client is not None:
            self.verification, self.verifying, self.verify_failed = None, True, False
            self._status()
            cancel = self.verifications.ask(listing.filter)
            if cancel is not None:
                self.run_verification(listing.filter, cancel)

    @work(thread=True, group="verify", exit_on_error=False)
    def run_verification(self, flt: Filter, cancel: threading.Event) -> None:
        """Verify the filter's events against the signed digests (background; the badge shows the result).

        Not ``exclusive``: the screen's :class:`VerificationQueue` starts one at a time, and a superseded
        run stops at its next request through ``cancel``; its end starts the newest filter's.
        """
        client = self.config.verify_client
        assert client is not None
        report: Report | None = None
        try:
            with contextlib.suppress(*_STOPPED):  # a failure shows as "not verified" (no report)
                report = verify(client, self.config.tiers, flt, cancel=cancel)
        finally:  # however it ended, the queue must hear of it, or no verification would start again
            with contextlib.suppress(RuntimeError):  # the app ended meanwhile: nobody to tell
                self.app.call_from_thread(self._verification_ended, flt, None if cancel.is_set() else report,
                                          cancel.is_set())

    def _verification_ended(self, flt: Filter, report: Report | None, cancelled: bool) -> None:
        nxt = self.verifications.finished()
        if nxt is not None and self.is_attached:
            self.run_verification(*nxt)
        if not cancelled:
            self._show_verification(flt, report)

    def _show_verification(self, flt: Filter, report: Report | None) -> None:
        if self.listing is None or self.listing.filter != flt:
            return  # verified a filter no longer on screen
        self.verification, self.verifying, self.verify_failed = report, False, report is None
        self._status()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Offer `v` only where verification is on (the operator's view with a verify client)."""
        if action == "verification":
            return self.config.verify_client is not None
        return True

    def action_verification(self) -> None:
        """List the problems the background verification found."""
        self.app.push_screen(VerifyScreen(self.verification))

    def prove(self, row: EventRow) -> list[tuple[str, str]]:
        """Return an event's proof rows (blocking: call from a worker)."""
        client = self.config.verify_client
        if client is None:
            return []
        return event_proof(client, self.config.tiers, row.event_id).pairs()

    def _show_counts(self, listing: Listing, counts: Counts) -> None:
        if listing is not self.listing:
            return  # the counts of a listing no longer shown
        self.query_one("#actions", FacetList).show_facet(counts.facets.actions)
        self.query_one("#sources", FacetList).show_facet(counts.facets.sources)
        self.query_one("#workers", FacetList).show_facet(counts.facets.workers)
        if counts.histogram is not None:
            self.query_one(EventHistogram).show(counts.histogram, self.tz)

    @work(thread=True, group="close", exit_on_error=False)
    def close_pager(self, listing: Listing) -> None:
        with contextlib.suppress(Exception):  # an expired or unreachable snapshot is gone anyway
            listing.pager.close()

    def keep_alive(self) -> None:
        """Keep the listing's snapshot open while the user reads (so paging stays consistent)."""
        if self.listing is not None:
            self.touch_snapshot(self.listing)

    @work(thread=True, group="keepalive", exit_on_error=False)
    def touch_snapshot(self, listing: Listing) -> None:
        with contextlib.suppress(*READ_ERRORS):  # a failure shows up on the next real request
            listing.pager.touch()
        if listing.renewed:
            self.app.call_from_thread(self.snapshot_renewed, listing)

    def snapshot_renewed(self, listing: Listing) -> None:
        """Reload when the listing's snapshot expired anyway: the pager now reads another set of events.

        Rows from the new snapshot must not be mixed into the old list (positions and the count on
        screen could be off), so the list is read afresh and the count on screen is that of the
        snapshot the export will read.
        """
        if listing is not self.listing or self.searching:
            return
        self.notify("The list's snapshot expired (idle too long, or retention deleted one of its indices); reloaded.",
                    timeout=6, markup=False)
        self.reload()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Any unexpected failure in a worker becomes a notification, never a crash."""
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            error = event.worker.error
            self.last_error = self.config.describe(error)
            self.searching = False
            self.query_one(EventList).forget_pending()
            self._status()
            self.notify(self.last_error, title="Something went wrong", severity="error", timeout=8, markup=False)

    @on(EventList.NeedRows)
    def need_rows(self, message: EventList.NeedRows) -> None:
        if self.listing is not None:
            self.load_rows(self.listing, message.start, message.end, self._rows_cancel)

    @work(thread=True, group="rows", exit_on_error=False)
    def load_rows(self, listing: Listing, start: int, stop: int, cancel: threading.Event) -> None:
        try:
            rows = self._rows(listing, start, stop, cancel)
        except Cancelled:
            return  # another list is on screen, or the screen is gone
        except READ_ERRORS as exc:
            if not cancel.is_set():
                self.app.call_from_thread(self._failed, exc)
            return
        if listing.renewed:  # these rows come from a newer snapshot than the list on screen
            self.app.call_from_thread(self.snapshot_renewed, listing)
            return
        self.app.call_from_thread(self._put_rows, listing, start, rows)

    def _put_rows(self, listing: Listing, start: int, rows: list[EventRow]) -> None:
        if listing is self.listing:
            self._count_undecodable(start, rows)
            self.query_one(EventList).put_rows(start, rows)
            self._status()

    def _count_undecodable(self, start: int, rows: list[EventRow]) -> None:
        self.undecodable.update(start + k for k, row in enumerate(rows) if row.problem is not None)

    def fetch_row(self, index: int) -> EventRow | None:
        """Return the row at ``index`` from memory or the snapshot (blocking: call from a worker)."""
        listing = self.listing
        if listing is None:
            return None
        row = self.query_one(EventList).row(index)
        if row is not None:
            return row
        rows = self._rows(listing, index, index + 1)
        if listing.renewed:  # a row of another snapshot would not be the one at `index` on screen
            self.app.call_from_thread(self.snapshot_renewed, listing)
            return None
        return rows[0] if rows else None

    # -- status -------------------------------------------------------------------------------

    def _status(self) -> None:
        parts = []
        if self.searching:
            parts.append("searching…")
        elif self.listing is not None:
            parts.append(f"{self.listing.total:,} events")
            if self.undecodable:
                parts.append(f"{len(self.undecodable):,} undecodable")
        parts.append(self.config.zone)
        if self.config.customer is not None:
            parts.append(f"tenant {self.config.customer.tenant} ({self.config.customer.tier})")
        at = f" at {self.config.shown_url}" if self.config.shown_url else ""
        parts.append({None: "○ connecting", True: "● connected", False: f"✖ cluster{at} unreachable"}[self.connected])
        if self.live_timer is not None:
            parts.append("LIVE")
        if self.config.verify_client is not None:
            shown = badge(self.verification, self.tz, running=self.verifying, failed=self.verify_failed)
            if shown:
                parts.append(shown)
        # Content: the tenant is the user's (or an event's) text, never markup.
        self.query_one("#status", Static).update(Content(printable(" " + " · ".join(parts))))

    # -- live tail ----------------------------------------------------------------------------

    def action_toggle_live(self) -> None:
        """Start or stop following new events."""
        if self.live_timer is None:
            self.live_timer = self.set_interval(self.config.live_interval, self.live_tick)
            self.notify("Live tail on: new events appear at the top.", timeout=3, markup=False)
        else:
            self.live_timer.stop()
            self.live_timer = None
            self.notify("Live tail off.", timeout=3, markup=False)
        self._status()

    def live_tick(self) -> None:
        """Look for events newer than the ones listed (in a worker)."""
        # Only while the list is on screen: the detail view holds list positions that must not shift. One look at
        # a time: on a slow cluster a look outlasts the interval, and a worker thread is not stopped by the next.
        if self.listing is not None and not self.searching and self.is_current and not self._looking:
            self._looking = True
            self.check_new(self.listing, self._listing_cancel)

    @work(thread=True, exclusive=True, group="live", exit_on_error=False)
    def check_new(self, listing: Listing, cancel: threading.Event) -> None:
        try:
            self._look(listing, cancel)
        except Cancelled:
            pass  # a new filter (or leaving the screen) made this look pointless
        finally:
            self._looking = False

    def _look(self, listing: Listing, cancel: threading.Event) -> None:
        """Show the events that arrived above ``listing`` (in the live tail's worker).

        Raises:
            Cancelled: when ``cancel`` is set before the look is complete.
        """
        try:
            top = listing.pager.rows(0, 1, cancel)
            fresh = self.backend.open_listing(listing.filter)
        except READ_ERRORS as exc:
            if not cancel.is_set():
                self.app.call_from_thread(self._failed, exc)
            return
        try:
            first = self._rows(fresh, 0, self.config.page_size, cancel)
        except _STOPPED as exc:
            _close_in_background(fresh)
            if not cancel.is_set() and not isinstance(exc, Cancelled):
                self.app.call_from_thread(self._failed, exc)
            return
        ids = [row.event_id for row in first]
        # Where the old top event sits now is exactly how many events arrived above it.
        delta = ids.index(top[0].id) if top and top[0].id in ids else max(fresh.total - listing.total, 0)
        if delta == 0 and fresh.total == listing.total:
            fresh.pager.close()
            return
        # The answer applies only while the listing it counted from is still the one on screen (a reload, or a
        # second look, may have replaced it meanwhile): the same new events are never counted twice.
        self.app.call_from_thread(self._show_listing, fresh, first, shift=delta, base=listing)
        self._load_counts(fresh, cancel)

    # -- actions ------------------------------------------------------------------------------

    def action_focus_search(self) -> None:
        self.query_one("#search", Input).focus()

    def action_focus_list(self) -> None:
        self.query_one(EventList).focus()

    def action_toggle_filters(self) -> None:
        self.query_one("#filters").toggle_class("hidden")

    def action_next_range(self) -> None:
        index = _PRESET_KEYS.index(self.preset) + 1 if self.preset in _PRESET_KEYS else 0
        key = _PRESET_KEYS[index % len(_PRESET_KEYS)]
        self.query_one("#range", Select).value = key  # Select.Changed applies it

    def action_custom_range(self) -> None:
        def chosen(result: TimeRange | None) -> None:
            selector = self.query_one("#range", Select)
            with self.prevent(Select.Changed):  # showing the choice must not reopen the dialog
                if result is not None:
                    self.preset = "custom"
                    selector.value = "custom"
                    self.apply_range(*result)
                else:
                    selector.value = self.preset

        self.app.push_screen(CustomRangeScreen(self.config.clock), chosen)

    def action_clear_filters(self) -> None:
        for facet in self.query(FacetList):
            facet.clear_selection()
        for box in self.query(Input):
            box.value = ""
        tenant = self.config.customer.tenant if self.config.customer else None
        since, until = preset_range(self.preset, self.config.clock(), self.tz) if self.preset != "custom" else (
            self.filter.since, self.filter.until)
        self.filter = Filter(tenants=(tenant,) if tenant else (), since=since, until=until)
        self.reload()

    def action_reload(self) -> None:
        if self.preset != "custom":
            since, until = preset_range(self.preset, self.config.clock(), self.tz)
            self.filter = self.filter.with_(since=since, until=until)
        self.reload()

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen())

    @on(EventList.Opened)
    def open_event(self, message: EventList.Opened) -> None:
        row = self.query_one(EventList).row(message.index)
        if row is None or self.listing is None:
            self.notify("That event is still loading.", timeout=2, markup=False)
            return
        events = self.query_one(EventList)

        def moved(index: int) -> None:
            events.cursor = index

        self.app.push_screen(DetailScreen(message.index, row, self.listing.total, self.fetch_row, moved,
                                          self.export_row,
                                          prove=self.prove if self.config.verify_client is not None else None,
                                          describe=self.config.describe))

    def _export_path(self, stem: str) -> Path:
        stamp = self.config.clock().astimezone(self.tz).strftime("%Y%m%d-%H%M%S")
        base = self.config.export_dir / f"{safe_stem(stem)}-{stamp}"
        path, n = base.with_suffix(".xlsx"), 1
        while path.exists():
            n += 1
            path = base.with_name(f"{base.name}-{n}.xlsx")
        return path

    def action_export_all(self) -> None:
        """Export every event of the current filter (the count on screen) to a workbook."""
        listing = self.listing
        if listing is None or listing.total == 0:
            self.notify("Nothing to export: no events match the filter.", severity="warning", markup=False)
            return
        self.app.push_screen(ExportScreen(
            f"Exporting {listing.total:,} events",
            self.backend.export_source(listing, lambda: self.app.call_from_thread(self.snapshot_renewed, listing)),
            self._export_path("auditlog-export"), zone=self.config.zone, summarizer=self.config.summarizer,
            filters=describe_filter(listing.filter, self.tz) + self._verification_rows(listing),
            describe=self.config.describe))

    def _verification_rows(self, listing: Listing) -> list[tuple[str, str]]:
        """The export's verification rows: the result for exactly this filter, or why there is none."""
        if self.config.verify_client is None:
            return []
        if self.verifying or self.verification is None:
            return [("Verification", "still running when exported" if self.verifying else "failed")]
        return export_pairs(self.verification)

    def action_export_one(self) -> None:
        """Download the selected event to a workbook."""
        events = self.query_one(EventList)
        row = events.row(events.cursor) if events.total else None
        if row is None:
            self.notify("No event selected.", severity="warning", markup=False)
            return
        self.export_row(row)

    def export_row(self, row: EventRow) -> None:
        """Export one event (the list's `d` and the detail view's `d`)."""
        def source() -> tuple[Iterable[Mapping[str, Any]], int, Callable[[], None]]:
            return [row.event], 1, lambda: None

        prove = self.prove if self.config.verify_client is not None else None
        self.app.push_screen(ExportScreen(
            f"Downloading event {row.event_id}", source, self._export_path(f"auditlog-event-{row.event_id}"),
            zone=self.config.zone, summarizer=self.config.summarizer, filters=[("Event ID", row.event_id)],
            metadata=(lambda: prove(row)) if prove is not None else None, describe=self.config.describe))

    def on_unmount(self) -> None:
        """Close the listing's snapshot without waiting for it.

        The close is a request (and waits for the pager's lock, which a hanging page read holds): it runs in
        a daemon thread that the exit does not wait for. Should it not finish, the snapshot expires on the
        cluster after its keep-alive.
        """
        # whatever still runs stops at its next request instead of reading on for nobody
        self._listing_cancel.set()
        self._rows_cancel.set()
        self.verifications.stop()
        if self.listing is not None:
            _close_in_background(self.listing)


def _close_in_background(listing: Listing) -> None:
    """Close ``listing``'s snapshot in a daemon thread: a request nobody needs to wait for (nor the exit)."""
    threading.Thread(target=_close_quietly, args=(listing.pager.close,), name="auditlog-close", daemon=True).start()


def _close_quietly(close: Callable[[], None]) -> None:
    with contextlib.suppress(Exception):  # an expired or unreachable snapshot is gone anyway
        close()
