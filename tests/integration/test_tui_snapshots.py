"""Snapshot tests of the TUI's screens at 80x24 and 120x40, on seeded events with a frozen clock and zone."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from textual.pilot import Pilot

from auditlog.indexer.tiers import TierTable
from tests.support.seed import seeded_namespace
from tests.tui.support import make_app, seed_events, settle

Snap = Callable[..., bool]


@pytest.fixture(scope="module")
def tiers(es: Elasticsearch) -> Iterator[TierTable]:
    """A namespace with the deterministic TUI events (its random prefix never appears on screen)."""
    with seeded_namespace(es, seed_events(), label="snap") as (table, _):
        yield table


def _keys(*keys: str) -> Callable[[Pilot[Any]], Any]:
    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        if keys:
            await pilot.press(*keys)
            await settle(pilot)

    return run_before


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_main_screen(snap_compare: Snap, es: Elasticsearch, tiers: TierTable, tmp_path: Path,
                     size: tuple[int, int]) -> None:
    """The main screen: filters (wide only), histogram, list and status line."""
    assert snap_compare(make_app(es, tiers, tmp_path), terminal_size=size, run_before=_keys())


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_detail_raw(snap_compare: Snap, es: Elasticsearch, tiers: TierTable, tmp_path: Path,
                    size: tuple[int, int]) -> None:
    """The detail view of the third event on its Raw tab."""
    assert snap_compare(make_app(es, tiers, tmp_path), terminal_size=size, run_before=_keys("down", "down", "enter"))


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_detail_meta(snap_compare: Snap, es: Elasticsearch, tiers: TierTable, tmp_path: Path,
                     size: tuple[int, int]) -> None:
    """The detail view's Meta tab."""
    assert snap_compare(make_app(es, tiers, tmp_path), terminal_size=size, run_before=_keys("enter", "2"))


def test_filter_panel_on_narrow_screen(snap_compare: Snap, es: Elasticsearch, tiers: TierTable,
                                       tmp_path: Path) -> None:
    """At 80x24 `f` shows the filter panel with live counts."""
    assert snap_compare(make_app(es, tiers, tmp_path), terminal_size=(80, 24), run_before=_keys("f"))


def test_help(snap_compare: Snap, es: Elasticsearch, tiers: TierTable, tmp_path: Path) -> None:
    """`?` shows every key at 80x24."""
    assert snap_compare(make_app(es, tiers, tmp_path), terminal_size=(80, 24), run_before=_keys("question_mark"))
