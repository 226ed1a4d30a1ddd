"""Pilot-driven tests of the TUI against the real node with seeded events."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from elasticsearch import Elasticsearch
from textual.widgets import Label

from auditlog.indexer.query import Filter
from auditlog.indexer.query.hits import undecodable_event
from auditlog.indexer.tiers import TierTable
from auditlog.tui.access import customer_view
from auditlog.tui.rowview import EventRow
from auditlog.tui.screens.detail import DetailScreen
from auditlog.tui.screens.export import ExportScreen
from auditlog.tui.screens.help import HelpScreen
from auditlog.tui.screens.main import MainScreen
from auditlog.tui.summaries import Summarizer
from auditlog.tui.widgets.event_list import EventList
from auditlog.tui.widgets.facet_list import FacetList
from tests.support.seed import SeedSummary, seed_events, seeded_namespace
from tests.tui.support import NOW, make_app, screen_text, settle
from tests.tui.support import seed_events as tui_events

SIZE = (120, 40)


@pytest.fixture(scope="module")
def seeded(es: Elasticsearch) -> Iterator[tuple[TierTable, SeedSummary, list[dict[str, Any]]]]:
    """A namespace holding the TUI's deterministic events, shared by this module's read-only tests."""
    events = tui_events()
    with seeded_namespace(es, events, label="tui") as (tiers, summary):
        yield tiers, summary, events


def _main(app: Any) -> MainScreen:
    screen = app.screen
    assert isinstance(screen, MainScreen)
    return screen


def _newest_first(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(events, key=lambda e: e["@timestamp"], reverse=True)


def _newer_events(count: int) -> list[dict[str, Any]]:
    """The TUI's events from the 101st on, dated 1 .. ``count`` s after the frozen now (newer than the first 100)."""
    fresh = tui_events()[100:100 + count]
    for offset, event in enumerate(fresh):
        event["@timestamp"] = (NOW + timedelta(seconds=offset + 1)).isoformat().replace("+00:00", "Z")
    return fresh


async def test_list_shows_every_event_newest_first(es: Elasticsearch, seeded: Any, tmp_path: Path) -> None:
    """On start the list holds all events of the last 7 days, newest first, and the status line counts them."""
    tiers, summary, events = seeded
    app = make_app(es, tiers, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        listing = _main(app).listing
        assert listing is not None
        first = app.screen.query_one(EventList).row(0)
        assert (summary.count, _newest_first(events)[0]["event"]["id"]) == (listing.total, first.event_id if first
                                                                             else None)
        assert f"{summary.count:,} events" in screen_text(app)


@pytest.mark.parametrize(("dimension", "position"), [("actions", 1), ("sources", 2), ("workers", 3)])
async def test_filter_by_each_dimension(es: Elasticsearch, seeded: Any, tmp_path: Path, dimension: str,
                                        position: int) -> None:
    """Ticking a value in a facet list narrows the list to exactly the events with that value."""
    tiers, summary, _ = seeded
    value = summary.values(position).most_common(1)[0][0]
    app = make_app(es, tiers, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.screen.query_one(f"#{dimension}", FacetList).select(value)
        await settle(pilot)
        listing = _main(app).listing
        assert listing is not None
        expected = summary.expected(Filter(**{dimension: (value,)}))  # type: ignore[arg-type]
        assert (expected, (value,)) == (listing.total, getattr(listing.filter, dimension))
        row = app.screen.query_one(EventList).row(0)
        assert row is not None
        shown = {"actions": row.action, "sources": row.source, "workers": row.event["user"]["id"]}[dimension]
        assert value == shown


async def test_filter_by_tenant_and_text(es: Elasticsearch, seeded: Any, tmp_path: Path) -> None:
    """The tenant box and the search box filter the list."""
    tiers, summary, events = seeded
    app = make_app(es, tiers, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.click("#tenant")
        await pilot.press(*"org-2001", "enter")
        await settle(pilot)
        listing = _main(app).listing
        assert listing is not None
        assert summary.expected(Filter(tenants=("org-2001",))) == listing.total
        await pilot.press("slash", *"signed", "enter")
        await settle(pilot)
        listing = _main(app).listing
        assert listing is not None
        expected = sum(1 for e in events if e["organization"]["id"] == "org-2001" and "signed" in e["message"])
        assert expected == listing.total


async def test_tenant_box_takes_several_tenants(es: Elasticsearch, seeded: Any, tmp_path: Path) -> None:
    """Tenant ids separated by a comma in the tenant box list the events of either tenant."""
    tiers, summary, _ = seeded
    app = make_app(es, tiers, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.click("#tenant")
        await pilot.press(*"org-2001, org-1001", "enter")
        await settle(pilot)
        listing = _main(app).listing
        assert listing is not None
        both = summary.expected(Filter(tenants=("org-2001", "org-1001")))
        assert (both, ("org-2001", "org-1001")) == (listing.total, listing.filter.tenants)


async def test_time_preset_limits_the_range(es: Elasticsearch, seeded: Any, tmp_path: Path) -> None:
    """Choosing "Last 24 h" lists only events of the last 24 hours before the frozen now."""
    tiers, _, events = seeded
    app = make_app(es, tiers, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.screen.query_one("#range").value = "24h"  # type: ignore[attr-defined]
        await settle(pilot)
        listing = _main(app).listing
        assert listing is not None
        cutoff = (NOW - timedelta(hours=24)).isoformat().replace("+00:00", "")
        expected = sum(1 for e in events if e["@timestamp"].rstrip("Z") >= cutoff)
        assert expected == listing.total


async def test_no_results_is_shown_not_a_crash(es: Elasticsearch, seeded: Any, tmp_path: Path) -> None:
    """A search without matches shows an empty list with a message."""
    tiers, _, _ = seeded
    app = make_app(es, tiers, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"zzqqxxnomatch", "enter")
        await settle(pilot)
        empty = 0
        assert empty == app.screen.query_one(EventList).total
        assert "No events match the filter." in screen_text(app)


async def test_detail_raw_and_meta(es: Elasticsearch, seeded: Any, tmp_path: Path) -> None:
    """Enter opens the selected event: Raw shows old -> new per field, Meta shows IP, URL and login type."""
    tiers, _, events = seeded
    app = make_app(es, tiers, tmp_path)
    update = next(e for e in _newest_first(events) if e["event"]["action"] == "update")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.screen.query_one("#actions", FacetList).select("update")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen)
        raw = screen_text(app)
        field = next(iter(update["audit"]["changes"]))
        both = (True, True)
        assert both == (field in raw, "~ changed" in raw)
        await pilot.press("2")
        await settle(pilot)
        meta = screen_text(app)
        assert all(value in meta for value in (update["source"]["ip"], update["audit"]["login_type"],
                                               update["user"]["email"]))


async def test_detail_next_and_previous_follow_the_list(es: Elasticsearch, seeded: Any, tmp_path: Path) -> None:
    """Next and previous walk the list without closing, and the list's cursor follows."""
    tiers, _, events = seeded
    ordered = _newest_first(events)
    app = make_app(es, tiers, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("n", "n")
        await settle(pilot)
        detail = app.screen
        assert isinstance(detail, DetailScreen)
        assert (2, ordered[2]["event"]["id"]) == (detail.index, detail.row.event_id)
        await pilot.press("p")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        second = 1
        assert second == app.screen.query_one(EventList).cursor


async def test_custom_range_dialog(es: Elasticsearch, seeded: Any, tmp_path: Path) -> None:
    """`R` asks for a custom range; "2d" to "1d" lists exactly the events between those ages."""
    tiers, _, events = seeded
    app = make_app(es, tiers, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("R")
        await pilot.pause()
        await pilot.press(*"2d", "tab", *"1d", "enter")
        await settle(pilot)
        listing = _main(app).listing
        assert listing is not None
        low = (NOW - timedelta(days=2)).isoformat().replace("+00:00", "")
        high = (NOW - timedelta(days=1)).isoformat().replace("+00:00", "")
        expected = sum(1 for e in events if low <= e["@timestamp"].rstrip("Z") <= high)
        assert expected == listing.total
        shown = (type(app.screen).__name__, app.screen.query_one("#range").value)  # type: ignore[attr-defined]
        wanted = ("MainScreen", "custom")
        assert wanted == shown


async def test_download_from_detail_view(es: Elasticsearch, seeded: Any, tmp_path: Path) -> None:
    """`d` in the detail view downloads the event shown there."""
    tiers, _, _ = seeded
    app = make_app(es, tiers, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        detail = app.screen
        assert isinstance(detail, DetailScreen)
        screen = await _export(pilot, app, "d")
        assert screen.result is not None
        rows = list(openpyxl.load_workbook(screen.result.path, read_only=True)["Events"].iter_rows(values_only=True))
        expected = (2, detail.row.event_id)
        assert expected == (len(rows), rows[1][-1])


async def test_scrolling_pages_in_on_demand(es: Elasticsearch, seeded: Any, tmp_path: Path) -> None:
    """Jumping to the end loads the last page only; memory holds a bounded number of rows."""
    tiers, summary, events = seeded
    app = make_app(es, tiers, tmp_path, page_size=50)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("end")
        await settle(pilot)
        events_list = app.screen.query_one(EventList)
        last = events_list.row(summary.count - 1)
        assert last is not None
        assert _newest_first(events)[-1]["event"]["id"] == last.event_id
        assert events_list.cached_rows <= 50 * 4  # first page, the last two, one prefetched: not all 600


async def _export(pilot: Any, app: Any, key: str) -> ExportScreen:
    await pilot.press(key)
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, ExportScreen)
    await pilot.app.workers.wait_for_complete()
    assert screen.finished.wait(30)
    await settle(pilot)
    return screen


async def test_export_all_matches_the_screen(es: Elasticsearch, seeded: Any, tmp_path: Path) -> None:
    """`e` writes every listed event; the workbook's rows equal the count on screen, in the same order."""
    tiers, _, events = seeded
    app = make_app(es, tiers, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.screen.query_one("#actions", FacetList).select("delete")
        await settle(pilot)
        listing = _main(app).listing
        assert listing is not None
        screen = await _export(pilot, app, "e")
        assert screen.result is not None
        sheet = openpyxl.load_workbook(screen.result.path, read_only=True)["Events"]
        rows = list(sheet.iter_rows(values_only=True))
        expected_ids = [e["event"]["id"] for e in _newest_first(events) if e["event"]["action"] == "delete"]
        assert (listing.total, expected_ids) == (len(rows) - 1, [r[-1] for r in rows[1:]])
        header = "Time (Europe/Zurich)"
        assert header == rows[0][0]
        shown = str(screen.query_one("#path", Label).content)
        assert f"Saved {listing.total:,} events to {screen.result.path}" == shown


async def test_export_one_downloads_the_selected_event(es: Elasticsearch, seeded: Any, tmp_path: Path) -> None:
    """`d` writes the selected event alone, with its Raw values."""
    tiers, _, _ = seeded
    app = make_app(es, tiers, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("down", "down")
        selected = app.screen.query_one(EventList).row(2)
        assert selected is not None
        screen = await _export(pilot, app, "d")
        assert screen.result is not None
        rows = list(openpyxl.load_workbook(screen.result.path, read_only=True)["Events"].iter_rows(values_only=True))
        assert (2, selected.event_id) == (len(rows), rows[1][-1])


async def test_live_tail_adds_new_events_on_top_keeping_the_place(es: Elasticsearch, tmp_path: Path,
                                                                  namespace: TierTable) -> None:
    """With live tail on, new events appear on top and the selected event stays selected."""
    seed_events(es, namespace, tui_events()[:100])
    app = make_app(es, namespace, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("down")
        events_list = app.screen.query_one(EventList)
        chosen = events_list.row(1)
        assert chosen is not None
        await pilot.press("t")
        fresh = _newer_events(3)
        seed_events(es, namespace, fresh)
        for _ in range(150):  # up to 15 s on a busy CI machine; usually a few ticks of 0.2 s
            await pilot.pause(0.1)
            if events_list.total == 103:
                break
        await settle(pilot)
        top = events_list.row(0)
        assert (103, 4, chosen.event_id, fresh[-1]["event"]["id"]) == (
            events_list.total, events_list.cursor, (events_list.row(4) or chosen).event_id, top.event_id if top
            else None)


async def test_two_looks_at_the_same_new_events_shift_the_list_once(es: Elasticsearch, tmp_path: Path,
                                                                     namespace: TierTable) -> None:
    """Two live-tail looks computed against the same listing (a slow tick overtaken by the next) move the place once."""
    seed_events(es, namespace, tui_events()[:100])
    app = make_app(es, namespace, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("down")
        screen, events_list = _main(app), app.screen.query_one(EventList)
        chosen, listing = events_list.row(1), screen.listing
        assert chosen is not None and listing is not None
        fresh = _newer_events(3)
        seed_events(es, namespace, fresh)
        # what two live-tail workers deliver when the second starts before the first's answer is shown (a worker
        # thread is not stopped by the next tick): both found the same three events above the same listing
        looks = [screen.backend.open_listing(listing.filter) for _ in range(2)]
        for look in looks:
            screen._show_listing(look, screen._rows(look, 0, 100), shift=3, base=listing)
        await settle(pilot)
        assert (103, 4, chosen.event_id, looks[0]) == (events_list.total, events_list.cursor,
                                                       (events_list.row(4) or chosen).event_id, screen.listing)


async def test_an_undecodable_row_moved_down_by_live_tail_is_still_counted_once(es: Elasticsearch, tmp_path: Path,
                                                                             namespace: TierTable) -> None:
    """A marked row counted at its place is counted at its new place once live tail puts events on top (its page
    read again there adds nothing)."""
    seed_events(es, namespace, tui_events()[:100])
    app = make_app(es, namespace, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = _main(app)
        listing = screen.listing
        assert listing is not None
        marked = EventRow.from_event(undecodable_event("", "_source is a list"), screen.tz, Summarizer("en"))
        screen._put_rows(listing, 5, [marked])
        seed_events(es, namespace, _newer_events(3))
        look = screen.backend.open_listing(listing.filter)
        screen._show_listing(look, screen._rows(look, 0, 100), shift=3, base=listing)
        screen._put_rows(look, 8, [marked])  # the same row, read again at its new place
        await settle(pilot)
        assert (look, {8}, True) == (screen.listing, screen.undecodable, "1 undecodable" in screen_text(app))


async def test_a_live_tick_starts_no_look_while_one_is_in_flight(es: Elasticsearch, tmp_path: Path,
                                                                  namespace: TierTable) -> None:
    """Ticks that come while a live-tail look waits on the cluster start no second look; the next one does."""
    seed_events(es, namespace, tui_events()[:100])
    app = make_app(es, namespace, tmp_path, live_interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = _main(app)
        opened, release = [], threading.Event()
        real_open = screen.backend.open_listing

        def slow_open(flt: Filter) -> Any:
            opened.append(flt)
            release.wait(10)  # a cluster slower than many live intervals
            return real_open(flt)

        screen.backend.open_listing = slow_open  # type: ignore[method-assign]
        await pilot.press("t")
        for _ in range(100):  # the first look starts within a tick or two
            await pilot.pause(0.02)
            if opened:
                break
        await pilot.pause(0.5)  # about ten more ticks while that look waits
        during = len(opened)
        seed_events(es, namespace, _newer_events(3))
        release.set()
        for _ in range(150):
            await pilot.pause(0.1)
            if len(opened) > during and screen.query_one(EventList).total == 103:
                break
        await pilot.press("t")
        await settle(pilot)
        assert (during, len(opened) > during, screen.query_one(EventList).total) == (1, True, 103)


async def test_cluster_down_is_a_notification(tmp_path: Path, namespace: TierTable) -> None:
    """An unreachable cluster shows an error and a status, and the app keeps running."""
    client = Elasticsearch("http://127.0.0.1:9", request_timeout=2, max_retries=0)
    app = make_app(client, namespace, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        text = screen_text(app)
        error = _main(app).last_error or ""
        both = (True, True)
        assert both == ("cluster unreachable" in text, error.startswith("cannot reach Elasticsearch"))
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)


async def test_customer_view_shows_only_its_tenant(es: Elasticsearch, seeded: Any, tmp_path: Path) -> None:
    """The customer view of an enterprise tenant lists only that tenant's events and has no tenant box."""
    tiers, summary, _ = seeded
    view = customer_view(es, tiers, "org-1001")
    app = make_app(es, tiers, tmp_path, customer=view)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        listing = _main(app).listing
        assert listing is not None
        assert (summary.expected(Filter(tenants=("org-1001",))), 0) == (listing.total,
                                                                    len(app.screen.query("#tenant")))


async def test_every_key_is_in_the_palette_and_help(es: Elasticsearch, seeded: Any, tmp_path: Path) -> None:
    """Each main-screen binding has a command-palette entry, and ? opens the help."""
    tiers, _, _ = seeded
    app = make_app(es, tiers, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        titles = {command.title for command in app.get_system_commands(app.screen)}
        wanted = {"Find", "Filters", "Range", "Custom range", "Clear", "Export", "Download", "Live", "Reload",
                  "Help", "Open"}
        assert wanted <= titles
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
