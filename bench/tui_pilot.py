"""Drive the real Textual app headless (``App.run_test()`` + Pilot) and time what a user waits for.

- first rows after start: from constructing the app to the first page of rows being in the list
  (default filter, the app's default time range);
- first rows after a filter change: from pressing Enter in the tenant box to that tenant's first rows
  (cycling through two tenants and "no tenant", so every measurement is a new query);
- keypress to redraw while scrolling: ``pagedown`` in the list until every row in the viewport is loaded
  and a frame has been processed (some presses need a page fetch, most do not: both are in the p95); the
  same for ``down`` (cursor move) and for an unbound key, which is the Pilot's own overhead per press;
- export from the app: ``e`` (export all of the current filter) until the export screen reports the file.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch
from textual.pilot import Pilot
from textual.widgets import Input

from bench.cluster import Cluster
from bench.growth import latency_summary
from indexer.tiers import TierTable
from tui.app import AppConfig, AuditLogApp
from tui.screens.export import ExportScreen
from tui.screens.main import MainScreen
from tui.widgets.event_list import EventList

Log = Callable[[str], None]
SIZE = (120, 40)
TIMEOUT_S = 60.0


async def _until(check: Callable[[], bool], what: str) -> None:
    deadline = time.perf_counter() + TIMEOUT_S
    while not check():
        if time.perf_counter() > deadline:
            raise TimeoutError(f"TUI did not reach '{what}' within {TIMEOUT_S:.0f}s")
        await asyncio.sleep(0.002)


def _main(app: AuditLogApp) -> MainScreen | None:
    screen = app.screen
    return screen if isinstance(screen, MainScreen) else None


def _rows_shown(app: AuditLogApp, tenant: str | None = None, *, any_tenant: bool = False) -> bool:
    """Whether the list shows the first rows of the current listing (for ``tenant`` unless ``any_tenant``)."""
    screen = _main(app)
    if screen is None or screen.listing is None or screen.searching:
        return False
    if not any_tenant and screen.listing.filter.tenant != tenant:
        return False
    events = screen.query_one(EventList)
    return events.total == 0 or events.row(0) is not None


def _viewport_loaded(events: EventList) -> bool:
    top = int(events.scroll_offset.y)
    bottom = min(events.total, top + events.size.height)
    return all(events.row(i) is not None for i in range(top, bottom))


async def _first_rows_after_start(config: AppConfig) -> float:
    start = time.perf_counter()
    app = AuditLogApp(config)
    async with app.run_test(size=SIZE):
        await _until(lambda: _rows_shown(app, any_tenant=True), "first rows")
        elapsed = time.perf_counter() - start
    return elapsed


async def _session(config: AppConfig, tenants: list[str | None], repeats: int,
                   out: dict[str, Any]) -> None:
    app = AuditLogApp(config)
    async with app.run_test(size=SIZE) as pilot:
        await _until(lambda: _rows_shown(app, any_tenant=True), "first rows")
        screen = _main(app)
        assert screen is not None
        out["filter"] = await _filter_changes(app, pilot, screen, tenants, repeats)
        out["scroll"] = await _scrolling(pilot, screen, repeats * 3, "pagedown")
        out["cursor"] = await _scrolling(pilot, screen, repeats * 3, "down")
        out["noop"] = await _scrolling(pilot, screen, repeats * 3, "z")
        out["export"] = await _export(app, pilot, screen, tenants[0])


async def _filter_changes(app: AuditLogApp, pilot: Pilot[None], screen: MainScreen, tenants: list[str | None],
                          repeats: int) -> list[float]:
    box = screen.query_one("#tenant", Input)
    samples = []
    for i in range(repeats):
        tenant = tenants[i % len(tenants)]
        box.focus()
        box.value = tenant or ""
        await pilot.pause()
        start = time.perf_counter()
        await pilot.press("enter")
        await _until(partial(_rows_shown, app, tenant), f"rows of tenant {tenant}")
        samples.append(time.perf_counter() - start)
    return samples


async def _scrolling(pilot: Pilot[None], screen: MainScreen, presses: int, key: str) -> list[float]:
    """Time ``presses`` presses of ``key`` in the list until its viewport is loaded and a frame processed."""
    events = screen.query_one(EventList)
    events.focus()
    await pilot.pause()
    samples = []
    for _ in range(presses):
        start = time.perf_counter()
        await pilot.press(key)
        await _until(lambda: _viewport_loaded(events), "viewport rows")
        await pilot.pause()
        samples.append(time.perf_counter() - start)
    return samples


async def _export(app: AuditLogApp, pilot: Pilot[None], screen: MainScreen, tenant: str | None) -> dict[str, Any]:
    box = screen.query_one("#tenant", Input)
    box.focus()
    box.value = tenant or ""
    await pilot.press("enter")
    await _until(lambda: _rows_shown(app, tenant), "tenant rows before export")
    screen.query_one(EventList).focus()
    await pilot.pause()
    start = time.perf_counter()
    await pilot.press("e")

    def done() -> bool:
        top = app.screen
        return isinstance(top, ExportScreen) and top.finished.is_set()

    await _until(done, "export finished")
    elapsed = time.perf_counter() - start
    top = app.screen
    assert isinstance(top, ExportScreen)
    if top.result is None:
        raise RuntimeError(f"export from the TUI failed: {top.error}")
    rows = top.result.rows
    Path(top.result.path).unlink(missing_ok=True)
    return {"rows": rows, "seconds": elapsed, "tenant": tenant}


def measure(cluster: Cluster, tiers: TierTable, *, tenant: str, repeats: int, work_dir: Path,
            log: Log = print) -> dict[str, Any]:
    """Run the app against ``tiers`` and return the latency summaries (and the in-app export)."""
    client = Elasticsearch(cluster.url, request_timeout=120)
    export_dir = work_dir / "tui-exports"
    export_dir.mkdir(parents=True, exist_ok=True)
    config = AppConfig(client=client, tiers=tiers, zone="Europe/Zurich", export_dir=export_dir)
    try:
        starts = [asyncio.run(_first_rows_after_start(config)) for _ in range(max(3, repeats // 2))]
        log(f"tui first rows after start: {1000 * min(starts):.0f}-{1000 * max(starts):.0f} ms")
        other = _another_tenant(client, tiers, tenant)
        session: dict[str, Any] = {}
        asyncio.run(_session(config, [tenant, other, None], repeats, session))
    finally:
        client.close()
    log(f"tui filter change p95 {1000 * max(session['filter']):.0f} ms (max); in-app export "
        f"{session['export']['rows']:,} rows in {session['export']['seconds']:.1f} s")
    return {
        "first_rows_start": latency_summary(starts),
        "first_rows_filter": latency_summary(session["filter"]),
        "scroll_redraw": latency_summary(session["scroll"]),
        "cursor_redraw": latency_summary(session["cursor"]),
        "noop_key": latency_summary(session["noop"]),
        "export_in_app": session["export"],
    }


def _another_tenant(client: Elasticsearch, tiers: TierTable, tenant: str) -> str | None:
    aggs = client.search(index=tiers.read_pattern, size=0,
                         aggs={"t": {"terms": {"field": "organization.id", "size": 5}}})["aggregations"]["t"]
    names = [b["key"] for b in aggs["buckets"] if b["key"] != tenant]
    return names[0] if names else None
