"""Unit tests of the point in time's reading of answers: failures inside a 200 and odd error bodies."""

from __future__ import annotations

from typing import Any

import pytest

from auditlog.indexer.errors import describe_es_error
from auditlog.indexer.query.pit import BadAnswerError, PointInTime, SearchFailedError, is_search_context_missing
from tests.indexer.query.fakes import FakeClient, api_error


def _search_answering(answer: dict[str, Any]) -> dict[str, Any]:
    client = FakeClient(3)
    client.tamper = lambda body, response: {**response, **answer}
    return PointInTime(client, "x").search(size=3)  # type: ignore[arg-type]


def test_an_error_type_that_is_a_list_is_not_taken_for_an_expired_snapshot() -> None:
    """An error body whose type is a list (unhashable) is read, not a TypeError: it is no expired snapshot."""
    error = api_error(500, {"error": {"type": ["x"], "reason": {"nested": "r"}, "root_cause": "no"}, "status": 500})
    assert False is is_search_context_missing(error)


def test_an_expired_snapshot_is_still_recognised_by_its_root_cause() -> None:
    """The usual 404 answer of an expired snapshot names search_context_missing_exception in a root cause."""
    error = api_error(404, {"error": {"type": "search_phase_execution_exception",
                                      "root_cause": [{"type": "search_context_missing_exception"}]}})
    assert True is is_search_context_missing(error)


def test_a_200_carrying_an_error_object_raises_with_its_reason() -> None:
    """A 200 whose body is Elasticsearch's error object fails with the error's reason and status."""
    answer = {"error": {"type": "search_phase_execution_exception", "reason": "all shards failed"}, "status": 500}
    with pytest.raises(SearchFailedError) as caught:
        _search_answering(answer)
    assert "its answer carries an error (500): all shards failed" == str(caught.value)


def test_failed_shards_raise_with_the_first_failure_reason() -> None:
    """A 200 reporting failed shards is a partial result: it fails, naming the count and the first reason."""
    answer = {"_shards": {"total": 5, "successful": 2, "skipped": 0, "failed": 3,
                          "failures": [{"shard": 0, "reason": {"type": "x", "reason": "boom"}}]}}
    with pytest.raises(SearchFailedError, match=r"^3 of 5 shards failed: boom; a partial answer is not used$"):
        _search_answering(answer)


def test_a_timed_out_answer_raises() -> None:
    """A 200 with timed_out true holds only what the shards found in time: it fails."""
    with pytest.raises(SearchFailedError, match="timed out"):
        _search_answering({"timed_out": True})


def test_skipped_shards_are_not_failures() -> None:
    """Shards skipped as unable to match (pre-filtered by time) leave the answer complete."""
    answer = {"timed_out": False, "_shards": {"total": 5, "successful": 5, "skipped": 4, "failed": 0}}
    assert 3 == len(_search_answering(answer)["hits"]["hits"])


def test_a_bad_answer_is_described_on_one_short_line() -> None:
    """A 100 kB multi-line reason is described on one line of at most 300 characters, reason included."""
    answer = {"error": {"type": "x", "reason": "line1\nline2\n" + "R" * 100_000}, "status": 500}
    with pytest.raises(SearchFailedError) as caught:
        _search_answering(answer)
    text = describe_es_error(caught.value)
    assert (True, True, True) == ("\n" not in text, len(text) <= 300, "line1 line2 RRR" in text)


def test_an_answer_that_is_no_object_is_of_another_shape() -> None:
    """A body that is a list is an answer of another shape (a ValueError readers describe as such), not a result."""
    client = FakeClient(3)
    client.tamper = lambda body, response: [1, 2, 3]
    with pytest.raises(BadAnswerError, match="its answer is a list"):
        PointInTime(client, "x").search(size=3)  # type: ignore[arg-type]
