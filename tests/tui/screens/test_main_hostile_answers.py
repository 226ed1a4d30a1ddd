"""The main screen against answers that are not Elasticsearch's: one notification, and the app keeps running."""

from __future__ import annotations

from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from auditlog.indexer.tiers import TierTable
from auditlog.tui.screens.main import MainScreen
from tests.support.hostile_cluster import hostile_cluster
from tests.tui.support import make_app, settle


@pytest.mark.parametrize("shape", ["wrong_types", "odd_hits", "json_list", "empty_object"])
async def test_an_answer_of_another_shape_is_a_notification(shape: str, tmp_path: Path) -> None:
    """The list's query meets an unreadable answer: the status says why in one line and the keys still work."""
    with hostile_cluster(shape) as url:
        client = Elasticsearch(url, request_timeout=5, max_retries=0)
        app = make_app(client, TierTable(prefix="t-hostile"), tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, MainScreen)
            error = screen.last_error or ""
            await pilot.press("e")
            await pilot.pause()
            assert (True, True, True) == (error.startswith("the answer of Elasticsearch is not what"),
                                          len(error) <= 300, isinstance(app.screen, MainScreen))
