"""The main screen's search box: what it does with text the query layer cannot search as typed."""

from __future__ import annotations

from pathlib import Path

from elasticsearch import Elasticsearch
from textual.widgets import Input

from auditlog.indexer.query.dsl import MAX_TEXT_TERMS
from auditlog.indexer.query.filter import MAX_VALUES
from auditlog.indexer.tiers import TierTable
from auditlog.tui.screens.main import MainScreen
from tests.tui.support import make_app, settle


async def _submitted(tmp_path: Path, box: str, value: str) -> tuple[bool, list[str]]:
    """Submit ``value`` in the main screen's input ``box``; return whether the filter stayed and what was notified."""
    client = Elasticsearch("http://127.0.0.1:9", request_timeout=2, max_retries=0)  # nothing listens: fails fast
    app = make_app(client, TierTable(prefix="t-search"), tmp_path)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, MainScreen)
        before = screen.filter
        app._notifications.clear()
        field = screen.query_one(box, Input)
        field.focus()
        field.value = value
        await pilot.press("enter")
        await settle(pilot)
        return before == screen.filter, [str(n.message) for n in app._notifications]


async def test_text_over_the_limits_is_refused_in_one_line_and_the_filter_kept(tmp_path: Path) -> None:
    """Submitting more words than are searched notifies "search text too long" and leaves the filter as it was."""
    kept, shown = await _submitted(tmp_path, "#search", " ".join(["w"] * (MAX_TEXT_TERMS + 1)))
    assert (True, 1) == (kept, sum(m.startswith("search text too long: ") for m in shown)), shown


async def test_more_tenants_than_are_searched_at_once_are_refused_in_one_line_and_the_filter_kept(
    tmp_path: Path,
) -> None:
    """Pasting more tenants than one terms clause holds notifies "too many tenants" and leaves the filter as it was
    (Elasticsearch failed every shard with a message naming no limit)."""
    kept, shown = await _submitted(tmp_path, "#tenant", " ".join(f"t{i}" for i in range(MAX_VALUES + 1)))
    assert (True, 1) == (kept, sum(m.startswith("too many tenants: ") for m in shown)), shown
