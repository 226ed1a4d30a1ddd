"""Pilot tests against the real node: the list's point in time expires, and the screen and export stay in step.

Elasticsearch frees an idle point in time only when its reaper runs (every minute by default), so the
tests end the snapshot the way the reaper does, by closing it on the cluster behind the app's back;
the app's next request then gets the same "search context missing" answer as after a real expiry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl
from elasticsearch import Elasticsearch

from auditlog.indexer.tiers import TierTable
from auditlog.tui.backend import Listing
from auditlog.tui.screens.export import ExportScreen
from auditlog.tui.screens.main import MainScreen
from tests.support.seed import seed_events
from tests.tui.support import make_app, screen_text, settle
from tests.tui.support import seed_events as tui_events

SIZE = (120, 40)
FIRST, LATER = 40, 5


def _main(app: Any) -> MainScreen:
    screen = app.screen
    assert isinstance(screen, MainScreen)
    return screen


def _listing(app: Any) -> Listing:
    listing = _main(app).listing
    assert listing is not None
    return listing


def _expire_behind_the_apps_back(es: Elasticsearch, namespace: TierTable, listing: Listing,
                                 first: int = FIRST) -> None:
    """Index more events, then end the listing's snapshot on the cluster (as its expiry would)."""
    seed_events(es, namespace, tui_events()[first:first + LATER])
    es.close_point_in_time(id=listing.pager.snapshot().id)


async def _export_all(pilot: Any, app: Any) -> ExportScreen:
    await pilot.press("e")
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, ExportScreen)
    await app.workers.wait_for_complete()
    assert screen.finished.wait(30)
    await settle(pilot)
    return screen


def _exported_rows(screen: ExportScreen) -> int:
    assert screen.result is not None
    sheet = openpyxl.load_workbook(screen.result.path, read_only=True)["Events"]
    return sum(1 for _ in sheet.iter_rows(values_only=True)) - 1


async def test_keepalive_timer_reloads_an_expired_list(es: Elasticsearch, tmp_path: Path,
                                                       namespace: TierTable) -> None:
    """When the snapshot expires while the list is open, the timer's touch notices, the list reloads, and the
    export then writes exactly the count on screen."""
    seed_events(es, namespace, tui_events()[:FIRST])
    app = make_app(es, namespace, tmp_path, keepalive_interval=0.3)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        before = _listing(app)
        assert FIRST == before.total
        _expire_behind_the_apps_back(es, namespace, before)
        for _ in range(150):  # a few timer ticks; up to 15 s on a busy machine
            await pilot.pause(0.1)
            if _listing(app) is not before and not _main(app).searching:
                break
        await settle(pilot)
        after = _listing(app)
        assert (FIRST + LATER, False) == (after.total, after.renewed)
        assert f"{FIRST + LATER:,} events" in screen_text(app)
        screen = await _export_all(pilot, app)
        assert after.total == _exported_rows(screen)


async def test_export_of_an_expired_list_is_refused_and_the_list_reloads(es: Elasticsearch, tmp_path: Path,
                                                                         namespace: TierTable) -> None:
    """An export started after the snapshot expired writes no file that could differ from the screen; the
    list reloads and the next export matches it."""
    seed_events(es, namespace, tui_events()[:FIRST])
    app = make_app(es, namespace, tmp_path, keepalive_interval=3600)  # no touch before the export
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        before = _listing(app)
        _expire_behind_the_apps_back(es, namespace, before)
        refused = await _export_all(pilot, app)
        assert (None, [], True) == (refused.result, list(tmp_path.glob("*.xlsx")),
                                    "expired" in (refused.error or ""))
        await pilot.press("escape")
        await settle(pilot)
        after = _listing(app)
        assert (FIRST + LATER, True) == (after.total, after is not before)
        screen = await _export_all(pilot, app)
        assert after.total == _exported_rows(screen)


async def test_rows_paged_in_from_a_renewed_snapshot_reload_the_list(es: Elasticsearch, tmp_path: Path,
                                                                    namespace: TierTable) -> None:
    """Scrolling to rows the expired snapshot no longer serves reloads the list instead of mixing in rows of a
    newer snapshot."""
    first = 200  # far more than a screen and its read-ahead
    seed_events(es, namespace, tui_events()[:first])
    app = make_app(es, namespace, tmp_path, keepalive_interval=3600, page_size=20)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        before = _listing(app)
        _expire_behind_the_apps_back(es, namespace, before, first)
        await pilot.press("end")  # the last page is not loaded yet: the pager reads it from a new snapshot
        await settle(pilot)
        after = _listing(app)
        assert (True, first + LATER, False) == (after is not before, after.total, after.renewed)
        assert f"{first + LATER:,} events" in screen_text(app)
