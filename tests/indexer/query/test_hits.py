"""Unit tests of one search_after step: how each hit is read, and which answers cannot be read on from."""

from __future__ import annotations

from typing import Any

import pytest

from auditlog.indexer.query.dsl import build_query
from auditlog.indexer.query.filter import Filter
from auditlog.indexer.query.hits import (
    NO_ID,
    Batch,
    Cursor,
    Hit,
    cursor_key,
    event_source,
    fetch_after,
    undecodable_reason,
)
from auditlog.indexer.query.pit import BadAnswerError, PointInTime
from tests.indexer.query.fakes import FakeClient, Tamper


def _hit(doc_id: Any = "ev-1", **over: Any) -> dict[str, Any]:
    hit: dict[str, Any] = {"_index": "audit-x", "_id": doc_id, "_source": {"event": {"id": doc_id}}, "sort": [5, 1]}
    hit.update(over)
    return hit


def _placeholder(raw: Any) -> tuple[str, bool]:
    event = event_source(raw)
    return event["event"]["id"], undecodable_reason(event) is not None


def _fetch(tamper: Tamper, *, count: int = 10, size: int = 5, after: Cursor | None = None) -> Batch:
    client = FakeClient(count)
    client.tamper = tamper
    pit = PointInTime(client, "x")  # type: ignore[arg-type]
    return fetch_after(pit, build_query(Filter()), size=size, after=after, track_total=True)


def _hits(transform: Any) -> Tamper:
    """A tamper that replaces hits.hits with ``transform(hits)``."""
    def tamper(body: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
        response["hits"]["hits"] = transform(response["hits"]["hits"])
        return response
    return tamper


def test_an_event_without_event_id_gets_the_document_id() -> None:
    """A source with no event.id (or null) is shown under its document _id, as a readable event."""
    assert [("ev-1", False), ("ev-1", False)] == [
        _placeholder(_hit(_source={"message": "m"})), _placeholder(_hit(_source={"event": {"id": None}}))]


@pytest.mark.parametrize("event_id", ["other", ["ev-1"], 10**30, ""])
def test_an_event_id_other_than_the_document_id_is_a_marked_event_under_the_document_id(event_id: Any) -> None:
    """A source whose event.id is not its _id becomes a placeholder carrying the _id, the id show and verify use."""
    assert ("ev-1", True) == _placeholder(_hit(_source={"event": {"id": event_id}}))


@pytest.mark.parametrize("source", [None, [1, 2], "text"])
def test_a_source_that_is_no_object_is_a_marked_event(source: Any) -> None:
    """A null, list or string _source becomes a placeholder under its _id instead of an empty event."""
    assert ("ev-1", True) == _placeholder(_hit(_source=source))


def test_a_hit_without_source_is_a_marked_event() -> None:
    """A hit with no _source at all is counted as undecodable, not shown as an empty event."""
    raw = _hit()
    del raw["_source"]
    assert ("ev-1", True) == _placeholder(raw)


def test_an_event_field_that_is_no_object_is_a_marked_event() -> None:
    """A source whose event is a string is marked, not silently replaced by an empty object."""
    assert ("ev-1", True) == _placeholder(_hit(_source={"event": "string"}))


@pytest.mark.parametrize("raw", [None, 5, "x", _hit(doc_id=12345), _hit(doc_id=None), _hit(doc_id="")],
                         ids=["null", "number", "string", "numeric_id", "null_id", "empty_id"])
def test_a_hit_without_a_usable_id_is_a_marked_event(raw: Any) -> None:
    """A hit that is no object or has no string _id becomes a placeholder named by NO_ID, never a KeyError."""
    assert (NO_ID, True) == _placeholder(raw)


def test_a_hit_without_index_is_a_marked_event() -> None:
    """A hit naming no _index is marked under its _id (the TUI and the export judge it alike)."""
    raw = _hit()
    del raw["_index"]
    assert ("ev-1", True) == _placeholder(raw)


def test_hit_from_raw_reads_a_null_hit() -> None:
    """A null element of hits.hits becomes a Hit with a placeholder source, no id, no index and no cursor."""
    hit = Hit.from_raw(None)
    assert (NO_ID, "", [], True) == (hit.id, hit.index, hit.sort, undecodable_reason(hit.source) is not None)


def test_cursor_keys_follow_the_listing_order() -> None:
    """Newer timestamps come first, then the ascending _shard_doc breaks ties; bools and floats are no cursor."""
    keys = [cursor_key([9, 7]), cursor_key([9, 8]), cursor_key([8, 1])]
    assert (True, [None, None, None]) == (
        keys[0] < keys[1] < keys[2],  # type: ignore[operator]
        [cursor_key([True, 1]), cursor_key([9.0, 1]), cursor_key([9, 1, {"x": "y"}])])


def test_a_missing_total_raises_instead_of_an_assertion() -> None:
    """An answer without hits.total, asked for an exact total, fails with a one-line reason."""
    def tamper(body: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
        del response["hits"]["total"]
        return response
    with pytest.raises(BadAnswerError, match=r"no exact hits\.total"):
        _fetch(tamper)


@pytest.mark.parametrize("total", ["5", {"value": "5"}, {"value": -7}, {"value": 5, "relation": "gte"}])
def test_a_total_that_is_no_exact_count_raises(total: Any) -> None:
    """A total that is text, negative or a lower bound cannot be promised as the number of events."""
    def tamper(body: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
        response["hits"]["total"] = total
        return response
    with pytest.raises(BadAnswerError, match=r"no exact hits\.total"):
        _fetch(tamper)


@pytest.mark.parametrize("hits", [{"a": 1}, "oops", 5])
def test_hits_that_are_no_list_raise(hits: Any) -> None:
    """hits.hits as an object, a string or a number is refused (a dict was read as its keys)."""
    with pytest.raises(BadAnswerError, match=r"hits\.hits is"):
        _fetch(_hits(lambda found: hits))


def test_a_repeated_hit_inside_an_answer_raises() -> None:
    """A hit whose cursor equals the one before it is out of order: reading on would repeat events."""
    with pytest.raises(BadAnswerError, match="out of the listing's order"):
        _fetch(_hits(lambda found: [found[0], *found[:4]]))


def test_an_answer_that_starts_before_its_cursor_raises() -> None:
    """An answer to search_after whose first hit is not after that cursor (the same page again) is refused."""
    first = _fetch(_hits(lambda found: found))
    with pytest.raises(BadAnswerError, match="out of the listing's order"):
        _fetch(_hits(lambda found: first.hits), after=first.hits[-1]["sort"])


@pytest.mark.parametrize("sort", [None, "abc", [], [5], [5, "1"]])
def test_a_hit_without_a_cursor_raises(sort: Any) -> None:
    """A hit whose sort is null, text or of another length cannot be read on from: the answer is refused."""
    def tamper(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
        found[2]["sort"] = sort
        return found
    with pytest.raises(BadAnswerError, match="carries no cursor"):
        _fetch(_hits(tamper))


def test_a_null_hit_in_the_middle_is_kept_for_a_placeholder() -> None:
    """A null hit between good ones does not fail the answer; the order is checked across it."""
    batch = _fetch(_hits(lambda found: [found[0], None, *found[2:]]))
    assert [False, True, False, False, False] == [undecodable_reason(event_source(h)) is not None for h in batch.hits]


def test_a_full_answer_ending_in_a_null_hit_raises() -> None:
    """A full batch whose last hit is not an object leaves no cursor to continue from."""
    with pytest.raises(BadAnswerError, match="no cursor to read on from"):
        _fetch(_hits(lambda found: [*found[:4], None]))


def test_more_hits_than_asked_for_raise() -> None:
    """An answer holding more hits than the request's size is refused."""
    with pytest.raises(BadAnswerError, match="6 hits where 5 were asked for"):
        _fetch(_hits(lambda found: [*found, {**found[-1], "sort": [0, 99]}]))


def test_a_total_of_text_is_quoted_as_text_in_the_message() -> None:
    """A total "5" is named with its quotes, so the line tells it apart from the number 5."""
    def tamper(body: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
        response["hits"]["total"] = "5"
        return response
    with pytest.raises(BadAnswerError, match=r"\(found '5'\)"):
        _fetch(tamper)
