"""Drive the real Textual app headless (``App.run_test()`` + Pilot) and time what a user waits for.

- first rows after start: from constructing the app to the first page of rows being in the list
  (default filter, the app's default time range);
- first rows after a filter change: from pressing Enter in the tenant box to that tenant's first rows
  (cycling through two tenants and "no tenant", so every measurement is a new query);
- keypress to redraw while scrolling: ``pagedown`` in the list until every row in the viewport is painted
  with data (some presses need a page fetch, most do not: both are in the p95); the same for ``down``;
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
from textual import events
from textual.pilot import Pilot
from textual.strip import Strip
from textual.widgets import Input

from auditlog.indexer.query import tenants_in
from auditlog.indexer.tiers import TierTable
from auditlog.tui.app import AppConfig, AuditLogApp
from auditlog.tui.screens.export import ExportScreen
from auditlog.tui.screens.main import MainScreen
from auditlog.tui.widgets.event_list import EventList
from bench.cluster import Cluster
from bench.growth import latency_summary

Log = Callable[[str], None]
SIZE = (120, 40)
TIMEOUT_S = 60.0


async def _until(check: Callable[[], bool], what: str) -> None:
    deadline = time.perf_counter() + TIMEOUT_S
    while not check():
        if time.perf_counter() > deadline:
            raise TimeoutError(f"TUI did not reach '{what}' within {TIMEOUT_S:.0f}s")
        await asyncio.sleep(0.001)


class PaintProbe:
    """Records when the event list painted each row with data (wraps ``EventList.render_line``; measuring only).

    A frame is what the user sees, so "rows shown" means: every row in the viewport has data of the current
    listing and has been painted after the moment the clock started. The wrapper is installed on the class
    for the duration of a ``with`` block, so paints that happen before the test code gets control count too.
    """

    def __init__(self) -> None:
        #: row index -> (when painted, id of the listing it belonged to)
        self.painted: dict[int, tuple[float, int]] = {}
        self._original: Callable[[EventList, int], Strip] | None = None

    def __enter__(self) -> PaintProbe:
        original = self._original = EventList.render_line
        painted = self.painted

        def render_line(widget: EventList, y: int) -> Strip:
            strip = original(widget, y)
            index = int(widget.scroll_offset.y) + y
            if widget.row(index) is not None:
                painted[index] = (time.perf_counter(), id(getattr(widget.screen, "listing", None)))
            return strip

        EventList.render_line = render_line  # type: ignore[method-assign,assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        if self._original is not None:
            EventList.render_line = self._original  # type: ignore[method-assign,assignment]

    def viewport_painted_since(self, events: EventList, start: float) -> bool:
        """Whether every row in ``events``' viewport shows the current listing's data painted after ``start``."""
        top = int(events.scroll_offset.y)
        bottom = min(events.total, top + events.size.height)
        current = id(getattr(events.screen, "listing", None))
        for i in range(top, bottom):
            when, listing = self.painted.get(i, (0.0, 0))
            if when <= start or listing != current:
                return False
        return True


def _main(app: AuditLogApp) -> MainScreen | None:
    screen = app.screen
    return screen if isinstance(screen, MainScreen) else None


def _listing_ready(app: AuditLogApp, tenant: str | None = None, *, any_tenant: bool = False) -> bool:
    """Whether the current listing (for ``tenant`` unless ``any_tenant``) has arrived on screen."""
    screen = _main(app)
    if screen is None or screen.listing is None or screen.searching:
        return False
    # what the box's text becomes in the app (``None``: an emptied box, no tenant filter)
    return any_tenant or screen.listing.filter.tenants == tenants_in(tenant or "")


def _tenant_painted(app: AuditLogApp, probe: PaintProbe, events: EventList, tenant: str | None,
                    start: float) -> bool:
    return _listing_ready(app, tenant) and probe.viewport_painted_since(events, start)


def _press(app: AuditLogApp, key: str) -> None:
    """Deliver one key press the way the terminal driver does, without Pilot's idle waiting (not timed)."""
    event = events.Key(key, key if len(key) == 1 else None)
    event.set_sender(app)
    app.post_message(event)


async def _first_rows_after_start(config: AppConfig) -> float:
    with PaintProbe() as probe:
        start = time.perf_counter()
        app = AuditLogApp(config)

        def shown() -> bool:
            screen = _main(app)
            return (screen is not None and _listing_ready(app, any_tenant=True)
                    and probe.viewport_painted_since(screen.query_one(EventList), start))

        async with app.run_test(size=SIZE):
            await _until(shown, "first rows")
            elapsed = time.perf_counter() - start
    return elapsed


async def _session(config: AppConfig, tenants: list[str | None], repeats: int, out: dict[str, Any]) -> None:
    app = AuditLogApp(config)
    with PaintProbe() as probe:
        async with app.run_test(size=SIZE) as pilot:
            await _until(lambda: _listing_ready(app, any_tenant=True), "first rows")
            screen = _main(app)
            assert screen is not None
            await _measure_session(app, pilot, screen, probe, tenants, repeats, out)


async def _measure_session(app: AuditLogApp, pilot: Pilot[None], screen: MainScreen, probe: PaintProbe,
                           tenants: list[str | None], repeats: int, out: dict[str, Any]) -> None:
    out["filter"] = await _filter_changes(app, pilot, screen, probe, tenants, repeats)
    out["scroll"] = await _keys(app, pilot, screen, probe, repeats * 3, "pagedown")
    out["cursor"] = await _keys(app, pilot, screen, probe, repeats * 3, "down")
    out["export"] = await _export(app, pilot, screen, tenants[0])


async def _filter_changes(app: AuditLogApp, pilot: Pilot[None], screen: MainScreen, probe: PaintProbe,
                          tenants: list[str | None], repeats: int) -> list[float]:
    """Time Enter in the tenant box until that tenant's first rows are painted."""
    box = screen.query_one("#tenant", Input)
    events = screen.query_one(EventList)
    samples = []
    for i in range(repeats):
        tenant = tenants[i % len(tenants)]
        box.focus()
        box.value = tenant or ""
        await pilot.pause()
        start = time.perf_counter()
        _press(app, "enter")
        await _until(partial(_tenant_painted, app, probe, events, tenant, start), f"rows of tenant {tenant}")
        samples.append(time.perf_counter() - start)
    return samples


async def _keys(app: AuditLogApp, pilot: Pilot[None], screen: MainScreen, probe: PaintProbe, presses: int,
                key: str) -> list[float]:
    """Time ``presses`` presses of ``key`` in the list until the viewport's rows are painted again."""
    events = screen.query_one(EventList)
    events.focus()
    await pilot.pause()
    samples = []
    for _ in range(presses):
        start = time.perf_counter()
        _press(app, key)
        await _until(partial(probe.viewport_painted_since, events, start), f"repaint after {key}")
        samples.append(time.perf_counter() - start)
        await pilot.pause()
    return samples


async def _export(app: AuditLogApp, pilot: Pilot[None], screen: MainScreen, tenant: str | None) -> dict[str, Any]:
    """Time ``e`` (export all of one tenant's events) until the export screen reports the file."""
    box = screen.query_one("#tenant", Input)
    box.focus()
    box.value = tenant or ""
    await pilot.press("enter")
    await _until(partial(_listing_ready, app, tenant), "tenant rows before export")
    screen.query_one(EventList).focus()
    await pilot.pause()
    start = time.perf_counter()
    _press(app, "e")

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
        small = _smallest_tenant(client, tiers)
        session: dict[str, Any] = {}
        # Filter changes cycle a busy tenant, a small one and none; the in-app export takes the small one.
        asyncio.run(_session(config, [small, tenant, None], repeats, session))
    finally:
        client.close()
    log(f"tui filter change p95 {1000 * max(session['filter']):.0f} ms (max); in-app export "
        f"{session['export']['rows']:,} rows in {session['export']['seconds']:.1f} s")
    return {
        "first_rows_start": latency_summary(starts),
        "first_rows_filter": latency_summary(session["filter"]),
        "scroll_redraw": latency_summary(session["scroll"]),
        "cursor_redraw": latency_summary(session["cursor"]),
        "export_in_app": session["export"],
    }


def _smallest_tenant(client: Elasticsearch, tiers: TierTable) -> str | None:
    """Return the tenant with the fewest events (its export stays short at any size)."""
    aggs = client.search(index=tiers.read_pattern, size=0,
                         aggs={"t": {"terms": {"field": "organization.id", "size": 1000}}})["aggregations"]["t"]
    buckets = sorted(aggs["buckets"], key=lambda b: (b["doc_count"], b["key"]))
    return buckets[0]["key"] if buckets else None
