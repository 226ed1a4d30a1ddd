"""Tests for the application shell: keys that work on every screen, and ending it (q, signals) under a real pty."""

from __future__ import annotations

import signal
import sys
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
from tests.support.terminal_app import ALT_SCREEN_OFF, ALT_SCREEN_ON, MOUSE_OFF, silent_cluster, terminal_app
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


def _tui(url: str, folder: Path) -> list[str]:
    return [sys.executable, "-m", "auditlog", "tui", "--es", url, "--export-dir", str(folder)]


def test_q_ends_the_process_while_a_request_hangs(tmp_path: Path) -> None:
    """`q` ends the process within 2 seconds although the list's request waits for a cluster that never answers."""
    with silent_cluster() as url, terminal_app(_tui(url, tmp_path)) as app:
        app.wait_for_output(ALT_SCREEN_ON, 20)
        app.read_for(1.0)  # the first requests are out and hang
        app.press(b"q")
        assert (app.exit_within(10) or 99) < 2.0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_restores_the_terminal(sig: signal.Signals, tmp_path: Path) -> None:
    """SIGTERM or SIGHUP ends the app as `q` does: main screen and mouse restored, prompt exit, code 128 + signal."""
    with silent_cluster() as url, terminal_app(_tui(url, tmp_path)) as app:
        app.wait_for_output(ALT_SCREEN_ON, 20)
        app.read_for(1.0)
        mark = len(app.output)
        app.kill(sig)
        took = app.exit_within(10) or 99
        after = bytes(app.output[mark:])
        assert (True, True, True, 128 + sig) == (took < 2.0, ALT_SCREEN_OFF in after, MOUSE_OFF in after,
                                                 app.exit_code)


def test_bytes_that_are_not_utf8_typed_into_the_terminal_do_not_end_the_app(tmp_path: Path) -> None:
    """A byte a Latin-1 terminal sends for "ü" (not UTF-8) is taken as a replacement character: the app goes on and
    `q` still ends it cleanly (Textual's input thread decoded strictly and the app ended with a traceback)."""
    with silent_cluster() as url, terminal_app(_tui(url, tmp_path)) as app:
        app.wait_for_output(ALT_SCREEN_ON, 20)
        app.read_for(1.0)
        app.press(b"/k\xfcr")  # into the search box
        app.read_for(1.5)
        still_running = app.exit_within(0.2) is None
        if still_running:
            app.press(b"\x11")  # ctrl+q: quits from the search box too
            app.exit_within(10)
        assert (still_running, app.exit_code, b"Traceback" in app.output) == (True, 0, False)
