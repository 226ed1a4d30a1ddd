"""Unit tests of the export stream's batch walking (fetching ahead) against a fake client."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from auditlog.indexer.query.filter import Filter
from auditlog.indexer.query.pit import PitExpiredError
from auditlog.indexer.query.stream import EventStream
from auditlog.indexer.tiers import TierTable
from tests.indexer.query.fakes import FakeClient

TIERS = TierTable(prefix="fake")


def _stream(client: FakeClient, batch_size: int) -> EventStream:
    return EventStream(client, TIERS, Filter(), batch_size=batch_size)  # type: ignore[arg-type]


@pytest.mark.parametrize(("count", "batch_size"), [(0, 10), (1, 10), (10, 10), (11, 10), (95, 7), (300, 1)])
def test_every_event_comes_once_in_order(count: int, batch_size: int) -> None:
    """The stream yields every document exactly once, in the stable order, and as many as its total."""
    client = FakeClient(count)
    stream = _stream(client, batch_size)
    ids = [event["event"]["id"] for event in stream]
    assert [f"e{i}" for i in range(count)] == ids
    assert count == stream.total


def test_the_snapshot_is_closed_at_the_end() -> None:
    """Reading to the end releases the point in time the stream opened."""
    client = FakeClient(25)
    list(_stream(client, 10))
    assert set() == client.open_pits


def test_stopping_early_closes_the_snapshot_without_waiting_for_the_request_ahead() -> None:
    """A consumer that stops after a few events while the request ahead hangs returns at once, snapshot closed."""
    client, asked, release = FakeClient(50), threading.Event(), threading.Event()
    real_search = client.search

    def search(**body: Any) -> dict[str, Any]:
        if body.get("search_after") is not None:
            asked.set()
            release.wait(30)
        return real_search(**body)

    client.search = search  # type: ignore[method-assign]
    events = iter(_stream(client, 10))
    next(events)
    assert asked.wait(5)
    events.close()  # type: ignore[attr-defined]
    try:
        assert (set(), 1) == (client.open_pits, len(client.searches))  # the one ahead still hangs
    finally:
        release.set()


def test_an_expired_snapshot_raises_instead_of_skipping() -> None:
    """When the snapshot expires between batches the stream raises PitExpiredError."""
    client = FakeClient(30)
    stream = _stream(client, 10)
    client.expire_next = True
    with pytest.raises(PitExpiredError):
        list(stream)
