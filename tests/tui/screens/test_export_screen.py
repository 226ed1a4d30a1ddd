"""Tests for the export dialog without Elasticsearch: progress, cancel, no partial file."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from elasticsearch import ConnectionError as ESConnectionError
from elasticsearch import Elasticsearch
from textual.app import App
from textual.pilot import Pilot

from auditlog.tui.config import AppConfig
from auditlog.tui.screens.export import ExportScreen
from auditlog.tui.summaries import Summarizer


def _endless() -> Iterator[dict[str, Any]]:
    for n in range(10_000_000):
        if n % 400 == 0:
            time.sleep(0.005)  # a slow cluster
        yield {"@timestamp": "2026-11-20T10:00:00Z", "event": {"id": f"e{n}", "action": "update"}}


async def _finished(pilot: Pilot[Any], done: threading.Event, timeout: float = 20.0) -> bool:
    """Wait for ``done`` without blocking the event loop (the worker calls back into it)."""
    deadline = time.monotonic() + timeout
    while not done.is_set() and time.monotonic() < deadline:
        await pilot.pause(0.05)
    await pilot.pause()
    return done.is_set()


class ExportApp(App[None]):
    """Shows one export dialog over an empty screen."""

    def __init__(self, source: Callable[[], Any], path: Path, **options: Any) -> None:
        super().__init__()
        self.dialog = ExportScreen("Exporting", source, path, zone="UTC", summarizer=Summarizer("en"), filters=[],
                                   **options)

    def on_mount(self) -> None:
        self.push_screen(self.dialog)


async def test_cancel_stops_the_export_and_leaves_no_file(tmp_path: Path) -> None:
    """Escape during an export cancels it: no workbook, a message, and the dialog closes on the next Escape."""
    stop = threading.Event()
    target = tmp_path / "big.xlsx"
    app = ExportApp(lambda: (_endless(), 10_000_000, stop.set), target)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.3)
        await pilot.press("escape")
        assert await _finished(pilot, app.dialog.finished)
        expected: tuple[object, str, list[object]] = (None, "Export cancelled; no file written.", [])
        assert expected == (app.dialog.result, app.dialog.error, list(tmp_path.iterdir()))
        assert stop.is_set()  # the event source was closed
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is not app.dialog


async def test_finished_export_reports_rows_and_path(tmp_path: Path) -> None:
    """A finished export shows how many events went where."""
    events = [{"@timestamp": "2026-11-20T10:00:00Z", "event": {"id": f"e{n}"}} for n in range(3)]
    app = ExportApp(lambda: (events, 3, lambda: None), tmp_path / "small.xlsx")
    async with app.run_test(size=(80, 24)) as pilot:
        assert await _finished(pilot, app.dialog.finished)
        result = app.dialog.result
        expected = (3, tmp_path / "small.xlsx", True)
        assert expected == (result.rows if result else None, result.path if result else None,
                            (tmp_path / "small.xlsx").exists())


async def test_a_cluster_error_names_the_cluster_url(tmp_path: Path) -> None:
    """An export whose cluster cannot be reached says so in the app's one line, naming the cluster's safe URL."""
    def unreachable() -> Any:
        raise ESConnectionError("Connection refused")

    app = ExportApp(unreachable, tmp_path / "never.xlsx",
                    describe=AppConfig(client=Elasticsearch("http://127.0.0.1:1"),
                                       url="https://elastic:s3cret@es.example:9200").describe)
    async with app.run_test(size=(80, 24)) as pilot:
        assert await _finished(pilot, app.dialog.finished)
        error = app.dialog.error or ""
    assert error.startswith("Export failed: cannot reach Elasticsearch at https://***@es.example:9200: "), error
