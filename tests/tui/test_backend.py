"""Tests for the TUI's data access without a cluster: giving up counts that hang."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from auditlog.core.background import Cancelled
from auditlog.indexer.query import Filter
from auditlog.indexer.tiers import TierTable
from auditlog.tui import backend as backend_module
from auditlog.tui.backend import Backend, Listing


class _Pager:
    """Stands in for a pager whose snapshot is open already."""

    generation = 0

    def snapshot(self) -> object:
        return object()


def test_cancelled_counts_return_while_their_requests_hang(monkeypatch: pytest.MonkeyPatch) -> None:
    """Counts whose facet and histogram requests hang end with Cancelled soon after the flag is set."""
    hang, flag = threading.Event(), threading.Event()

    def hanging(*_args: Any, **_kwargs: Any) -> None:
        hang.wait(30)

    monkeypatch.setattr(backend_module, "facet_counts", hanging)
    monkeypatch.setattr(backend_module, "histogram", hanging)
    listing = Listing(Filter(), _Pager(), 10)  # type: ignore[arg-type]
    backend = Backend(None, TierTable())  # type: ignore[arg-type]
    threading.Timer(0.1, flag.set).start()
    started = time.monotonic()
    try:
        with pytest.raises(Cancelled):
            backend.counts(listing, zone="UTC", now=datetime(2026, 1, 1, tzinfo=UTC), cancel=flag)
    finally:
        hang.set()
    assert time.monotonic() - started < 2
