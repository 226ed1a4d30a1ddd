"""The main screen's background verification: one at a time, and after a burst of filters only the newest's."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from auditlog.core.background import Cancelled
from auditlog.indexer.query import Filter
from auditlog.indexer.tiers import TierTable
from auditlog.indexer.verify import Report
from auditlog.tui.backend import Backend, Listing
from auditlog.tui.screens import main as main_module
from auditlog.tui.screens.main import MainScreen
from tests.tui.support import make_app


class _EmptyPager:
    """A snapshot with no events, answered at once."""

    generation = 0

    def rows(self, start: int, stop: int, cancel: threading.Event | None = None) -> list[Any]:
        return []

    def touch(self) -> None:
        pass

    def close(self) -> None:
        pass


def _open_listing(self: Backend, flt: Filter) -> Listing:
    return Listing(self.scoped(flt), _EmptyPager(), 0)  # type: ignore[arg-type]


def _no_counts(*_args: Any, **_kwargs: Any) -> None:
    raise Cancelled  # counts are not what this file is about


async def test_a_burst_of_filters_runs_one_verification_then_the_newest(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Seven range changes during a hanging verification start no other until it ends, then only the last filter's."""
    started: list[Filter] = []
    release = threading.Event()

    def slow_verify(_client: Any, _tiers: Any, flt: Filter, *, cancel: threading.Event) -> Report:
        started.append(flt)
        if len(started) == 1:
            release.wait(10)  # the first one's request hangs: its cancel flag is seen only after it
        if cancel.is_set():
            raise Cancelled
        return Report()

    monkeypatch.setattr(Backend, "open_listing", _open_listing)
    monkeypatch.setattr(Backend, "counts", _no_counts)
    monkeypatch.setattr(main_module, "verify", slow_verify)
    client = Elasticsearch("http://127.0.0.1:1", request_timeout=1, max_retries=0)
    app = make_app(client, TierTable(prefix="t-verifyq"), tmp_path, verify_client=client)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause(0.3)
        for _ in range(7):
            await pilot.press("r")
            await pilot.pause(0.05)
        await pilot.pause(0.3)
        during = len(started)
        release.set()
        deadline = time.monotonic() + 10
        while len(started) < 2 and time.monotonic() < deadline:
            await pilot.pause(0.05)
        await pilot.pause(0.3)
        screen = app.screen
        assert isinstance(screen, MainScreen)
        assert (1, 2, screen.backend.scoped(screen.filter)) == (during, len(started), started[-1])
