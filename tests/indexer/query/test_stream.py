"""Unit tests of the export stream's batch walking (fetching ahead) against a fake client."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from auditlog.indexer.query.filter import Filter
from auditlog.indexer.query.hits import undecodable_reason
from auditlog.indexer.query.pit import BadAnswerError, PitExpiredError
from auditlog.indexer.query.stream import EventStream
from auditlog.indexer.tiers import TierTable
from tests.indexer.query.fakes import FakeClient, Tamper

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


def _tampered(count: int, tamper: Tamper, batch_size: int = 10) -> tuple[FakeClient, EventStream]:
    client = FakeClient(count)
    client.tamper = tamper
    return client, _stream(client, batch_size)


def _read_bounded(client: FakeClient, stream: EventStream, most: int = 50) -> list[dict[str, Any]]:
    """Read the stream, but fail the test (instead of hanging it) after ``most`` searches."""
    events = []
    for event in stream:
        events.append(event)
        assert len(client.searches) <= most, "the stream kept paging"
    return events


def test_an_answer_repeating_the_same_full_page_ends_in_an_error() -> None:
    """A cluster that answers every search_after with the first page again fails the stream at the second page."""
    first: list[dict[str, Any]] = []

    def tamper(body: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
        first[:] = first or response["hits"]["hits"]
        response["hits"]["hits"] = [dict(hit) for hit in first]
        return response

    client, stream = _tampered(10_000, tamper)
    with pytest.raises(BadAnswerError, match="out of the listing's order"):
        _read_bounded(client, stream)
    assert 2 == len(client.searches)


@pytest.mark.parametrize("sort", [None, "abc"])
def test_a_full_page_without_cursors_ends_in_an_error(sort: Any) -> None:
    """Hits of a full page whose sort is null or text fail the stream instead of paging without a cursor."""
    def tamper(body: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
        for hit in response["hits"]["hits"]:
            hit["sort"] = sort
        return response

    client = FakeClient(10_000)
    client.tamper = tamper
    with pytest.raises(BadAnswerError, match="carries no cursor"):  # at the first answer, before any row
        _read_bounded(client, _stream(client, 10))


def test_a_listing_that_ends_short_of_its_total_ends_in_an_error() -> None:
    """A total of 5,000 with only 21 hits served fails at the end: no silently short export."""
    def tamper(body: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
        if "total" in response["hits"]:
            response["hits"]["total"]["value"] = 5_000
        return response

    client, stream = _tampered(21, tamper)
    with pytest.raises(BadAnswerError, match="served 21 of the 5,000 events"):
        _read_bounded(client, stream)


def test_a_second_page_repeating_hits_of_the_first_ends_in_an_error() -> None:
    """A page that starts a few hits back (duplicates) fails instead of exporting them twice."""
    served: list[dict[str, Any]] = []

    def tamper(body: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
        hits = response["hits"]["hits"]
        if served:  # the previous page's last 5 hits again, then the page as it should start
            hits = [*served[-5:], *hits[:-5]]
        served[:] = response["hits"]["hits"] = hits
        return response

    client, stream = _tampered(30, tamper)
    with pytest.raises(BadAnswerError, match="out of the listing's order"):
        _read_bounded(client, stream)


def test_more_events_than_the_total_end_in_an_error_before_they_are_yielded() -> None:
    """When ordered hits keep coming past the snapshot's total, the stream fails before yielding the excess."""
    def tamper(body: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
        if "total" in response["hits"]:
            response["hits"]["total"]["value"] = 15
        return response

    _client, stream = _tampered(30, tamper)
    events: list[dict[str, Any]] = []
    with pytest.raises(BadAnswerError, match="more than the 15 events"):
        events.extend(stream)
    assert 10 == len(events)


def test_a_missing_total_fails_the_stream_with_a_one_line_error() -> None:
    """An answer without hits.total raises BadAnswerError (not an AssertionError) and closes the snapshot."""
    def tamper(body: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
        response["hits"].pop("total", None)
        return response

    client = FakeClient(5)
    client.tamper = tamper
    with pytest.raises(BadAnswerError, match=r"no exact hits\.total"):
        _stream(client, 10)
    assert set() == client.open_pits


def test_a_null_hit_is_one_marked_event_and_counts_toward_the_total() -> None:
    """A null element of hits.hits becomes one placeholder event; the stream still yields exactly total events."""
    def tamper(body: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
        response["hits"]["hits"][3] = None
        return response

    client, stream = _tampered(5, tamper)
    events = _read_bounded(client, stream)
    assert (5, [3]) == (len(events), [n for n, e in enumerate(events) if undecodable_reason(e) is not None])
