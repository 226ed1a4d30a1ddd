"""Unit tests of fetching one event by id against answers no healthy node gives."""

from __future__ import annotations

from typing import Any

import pytest

from auditlog.indexer.query.events import get_event
from auditlog.indexer.query.hits import undecodable_reason
from auditlog.indexer.query.pit import BadAnswerError, SearchFailedError
from auditlog.indexer.tiers import TierTable
from tests.indexer.query.fakes import AnswerClient

TIERS = TierTable(prefix="fake")


def _get(answer: Any) -> dict[str, Any] | None:
    return get_event(AnswerClient(answer), TIERS, "ev-0")  # type: ignore[arg-type]


def test_a_200_carrying_an_error_is_a_failure_not_not_found() -> None:
    """An error object inside a 200 raises with Elasticsearch's reason instead of answering "not found"."""
    with pytest.raises(SearchFailedError, match="all shards failed"):
        _get({"error": {"type": "search_phase_execution_exception", "reason": "all shards failed"}, "status": 500})


def test_failed_shards_are_a_failure_not_not_found() -> None:
    """A 200 whose failed shards may hold the event raises instead of answering "not found"."""
    with pytest.raises(SearchFailedError, match="1 of 2 shards failed"):
        _get({"_shards": {"total": 2, "successful": 1, "failed": 1}, "hits": {"hits": []}})


def test_hits_of_another_shape_are_a_failure() -> None:
    """hits.hits that is not a list raises instead of being read as its keys."""
    with pytest.raises(BadAnswerError, match=r"hits\.hits is"):
        _get({"hits": {"hits": {"a": 1}}})


def test_a_document_with_a_null_source_is_a_marked_event() -> None:
    """A hit whose _source is null is returned as a placeholder, not as an empty event."""
    event = _get({"hits": {"hits": [{"_id": "ev-0", "_index": "i", "_source": None}]}})
    assert event is not None and undecodable_reason(event) is not None
