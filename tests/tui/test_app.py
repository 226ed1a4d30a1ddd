"""Tests for the application shell: keys that work on every screen."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from textual.screen import Screen

from auditlog.indexer.tiers import TierTable
from auditlog.tui.screens.custom_range import CustomRangeScreen
from auditlog.tui.screens.export import ExportScreen
from auditlog.tui.screens.help import HelpScreen
from auditlog.tui.screens.verify import VerifyScreen
from auditlog.tui.summaries import Summarizer
from tests.tui.support import NOW, make_app, settle

DIALOGS: dict[str, Callable[[Path], Screen[Any]]] = {
    "help": lambda _dir: HelpScreen(),
    "custom range": lambda _dir: CustomRangeScreen(lambda: NOW),
    "export": lambda folder: ExportScreen("Exporting", lambda: ([], 0, lambda: None), folder / "x.xlsx", zone="UTC",
                                          summarizer=Summarizer("en"), filters=[]),
    "verify": lambda _dir: VerifyScreen(None),
}


@pytest.mark.parametrize("dialog", sorted(DIALOGS))
async def test_ctrl_q_quits_from_a_dialog(dialog: str, tmp_path: Path) -> None:
    """Ctrl+Q ends the app while a dialog (and its focused input or button) is on top."""
    client = Elasticsearch("http://127.0.0.1:1", request_timeout=1, max_retries=0)  # nothing listens: fails fast
    app = make_app(client, TierTable(prefix="t-ctrlq"), tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        shown = DIALOGS[dialog](tmp_path)
        await app.push_screen(shown)
        await pilot.pause()
        on_top = app.screen is shown
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert (True, False) == (on_top, app.is_running)
