"""The TUI on the real node with hostile events: event text is shown literally, never read as markup."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from elasticsearch import Elasticsearch

from auditlog.indexer.query.hits import undecodable_event
from auditlog.indexer.tiers import TierTable
from auditlog.tui.access import customer_view
from auditlog.tui.rowview import EventRow
from auditlog.tui.screens.detail import DetailScreen
from auditlog.tui.screens.export import ExportScreen
from auditlog.tui.screens.main import MainScreen
from auditlog.tui.summaries import Summarizer
from tests.support.hostile import LONG_ID, MARKUP_ID, MARKUP_NAMES, MARKUP_TENANT, Hostile, index_hostile
from tests.support.seed import cleanup_namespace
from tests.tui.support import NOW, make_app, press, screen_text, settle

SIZES = [(80, 24), (120, 40)]
#: List positions (newest first) of the corpus in tests.support.hostile.
SURROGATE_ROW, MARKUP_ID_ROW, LONG_ID_ROW, FIRST_NAME_ROW = 1, 2, 3, 5


@pytest.fixture(scope="module")
def hostile(es: Elasticsearch) -> Iterator[tuple[TierTable, list[Hostile]]]:
    """A namespace of its own holding the hostile corpus (read-only for this module's tests)."""
    import uuid

    tiers = TierTable(prefix=f"t{uuid.uuid4().hex[:10]}-hostile")
    try:
        yield tiers, index_hostile(es, tiers, NOW)
    finally:
        cleanup_namespace(es, tiers)


async def _start(pilot: Any, app: Any) -> MainScreen:
    await settle(pilot)
    screen = app.screen
    assert isinstance(screen, MainScreen)
    if "hidden" in screen.query_one("#filters").classes:
        await pilot.press("f")  # narrow terminals start with the filter panel hidden
        await settle(pilot)
    return screen


@asynccontextmanager
async def _started(es: Elasticsearch, hostile: Any, tmp_path: Path,
                   size: tuple[int, int]) -> AsyncIterator[tuple[Any, Any, MainScreen]]:
    """The app on the hostile namespace at ``size``, started (filter panel shown): (app, pilot, main screen)."""
    tiers, _ = hostile
    app = make_app(es, tiers, tmp_path)
    async with app.run_test(size=size) as pilot:
        yield app, pilot, await _start(pilot, app)


async def _open_row(pilot: Any, app: Any, row: int) -> DetailScreen:
    await press(pilot, *["down"] * row, "enter")
    detail = app.screen
    assert isinstance(detail, DetailScreen)
    return detail


@pytest.mark.parametrize("size", SIZES)
async def test_list_and_facets_show_markup_literally(es: Elasticsearch, hostile: Any, tmp_path: Path,
                                                     size: tuple[int, int]) -> None:
    """Worker names like "Anna [Admin]" and "[b]x" appear as written in the list and the facet panel."""
    _, docs = hostile
    async with _started(es, hostile, tmp_path, size) as (app, _pilot, screen):
        text = screen_text(app)
        listing = screen.listing
        assert listing is not None
        expected = (len(docs), True, True, True)
        assert expected == (listing.total, "Anna [Admin]" in text, "[b]x" in text, "[/]" in text)


@pytest.mark.parametrize("size", SIZES)
async def test_detail_shows_markup_literally(es: Elasticsearch, hostile: Any, tmp_path: Path,
                                             size: tuple[int, int]) -> None:
    """The detail of "Anna [Admin]"'s event shows the name, the changed field and the "[/]" value as written."""
    async with _started(es, hostile, tmp_path, size) as (app, pilot, _screen):
        await pilot.press("escape")  # back to the list from the facet panel
        detail = await _open_row(pilot, app, FIRST_NAME_ROW)
        text = screen_text(app)
        expected = (MARKUP_NAMES[0], True, True)
        assert expected == (detail.row.worker, MARKUP_NAMES[0] in text, "[/]" in text)


@pytest.mark.parametrize("size", SIZES)
async def test_json_tab_shows_a_lone_surrogate_as_its_escape(es: Elasticsearch, hostile: Any, tmp_path: Path,
                                                             size: tuple[int, int]) -> None:
    """The JSON tab of the event with a lone surrogate draws it as the visible escape \\ud800."""
    async with _started(es, hostile, tmp_path, size) as (app, pilot, _screen):
        await pilot.press("escape")
        await _open_row(pilot, app, SURROGATE_ROW)
        await press(pilot, "3")
        assert "a\\ud800b" in screen_text(app)


async def _download(pilot: Any, app: Any, row: int) -> ExportScreen:
    await pilot.press("escape", *["down"] * row, "d")
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, ExportScreen)
    await pilot.app.workers.wait_for_complete()
    assert screen.finished.wait(30)
    await settle(pilot)
    return screen


@pytest.mark.parametrize("size", SIZES)
async def test_download_dialog_title_shows_a_markup_id_literally(es: Elasticsearch, hostile: Any, tmp_path: Path,
                                                                 size: tuple[int, int]) -> None:
    """`d` on the event with id "[b]evil[/b]" titles its dialog with that id as written and saves the file."""
    async with _started(es, hostile, tmp_path, size) as (app, pilot, _screen):
        screen = await _download(pilot, app, MARKUP_ID_ROW)
        text = screen_text(app)
        assert (True, True) == (f"Downloading event {MARKUP_ID}" in text, screen.result is not None)


async def test_download_of_a_512_character_id_writes_a_valid_file(es: Elasticsearch, hostile: Any,
                                                                  tmp_path: Path) -> None:
    """`d` on an event with a 512-character id writes a file with a short name holding that event."""
    async with _started(es, hostile, tmp_path, (120, 40)) as (app, pilot, _screen):
        screen = await _download(pilot, app, LONG_ID_ROW)
        assert screen.result is not None, screen.error
        rows = list(openpyxl.load_workbook(screen.result.path, read_only=True)["Events"].iter_rows(values_only=True))
        assert (True, LONG_ID) == (len(screen.result.path.name) < 160, rows[1][-1])


@pytest.mark.parametrize("size", SIZES)
async def test_customer_view_status_shows_a_markup_tenant_literally(es: Elasticsearch, hostile: Any,
                                                                    tmp_path: Path, size: tuple[int, int]) -> None:
    """The status line of the customer view of tenant "[red]org[/]" names it as written."""
    tiers, _ = hostile
    app = make_app(es, tiers, tmp_path, customer=customer_view(es, tiers, MARKUP_TENANT))
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        assert f"tenant {MARKUP_TENANT}" in screen_text(app)


@pytest.mark.parametrize("size", SIZES)
async def test_palette_opens_over_hostile_events(es: Elasticsearch, hostile: Any, tmp_path: Path,
                                                 size: tuple[int, int]) -> None:
    """The command palette opens, finds "Download" and closes over a list of hostile events."""
    tiers, _ = hostile
    app = make_app(es, tiers, tmp_path)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await press(pilot, *"Downl")
        found = "Download" in screen_text(app)
        await press(pilot, "escape")
        assert (True, True) == (found, isinstance(app.screen, MainScreen))


async def test_status_line_counts_undecodable_rows(es: Elasticsearch, hostile: Any, tmp_path: Path) -> None:
    """A marked row handed to the list is counted in the status line as "1 undecodable"."""
    async with _started(es, hostile, tmp_path, (120, 40)) as (app, pilot, screen):
        assert screen.listing is not None
        marked = EventRow.from_event(undecodable_event("odd-1", "_source is a list"), screen.tz, Summarizer("en"))
        screen._put_rows(screen.listing, 0, [marked])
        await settle(pilot)
        text = screen_text(app)
        assert (True, True) == ("1 undecodable" in text, "undecodable event odd-1" in text)


async def test_status_line_counts_each_undecodable_row_once_by_its_place_not_its_id(
        es: Elasticsearch, hostile: Any, tmp_path: Path) -> None:
    """Two marked hits without an id are two undecodable rows (as the export counts them), also when their page is
    read again."""
    async with _started(es, hostile, tmp_path, (120, 40)) as (app, pilot, screen):
        assert screen.listing is not None and screen.listing.total >= 3
        marked = [EventRow.from_event(undecodable_event("", "_source is a list"), screen.tz, Summarizer("en"))
                  for _ in range(2)]
        for _ in range(2):  # a page read twice (scrolled back to) counts its rows once
            screen._put_rows(screen.listing, 1, marked)
        await settle(pilot)
        assert "2 undecodable" in screen_text(app)
