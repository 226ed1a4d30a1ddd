"""Fetch one event by its id across every daily index of the namespace (``auditlog show``, TUI detail)."""

from __future__ import annotations

from typing import Any

from elasticsearch import Elasticsearch

from auditlog.indexer.query.dsl import SORT
from auditlog.indexer.query.hits import answer_hits, event_source
from auditlog.indexer.query.pit import check_answer
from auditlog.indexer.tiers import TierTable


def get_event(
    client: Elasticsearch, tiers: TierTable, event_id: str, *, index: str | None = None
) -> dict[str, Any] | None:
    """Return the event whose ``event.id`` (= document ``_id``) is ``event_id``.

    The id alone does not say which daily index holds the event, so this searches the read pattern
    with an ``ids`` query (a GET would need the index name). Should the same id exist in two indices
    (it cannot through the agent, which routes by the event's own timestamp), the newest wins.

    Args:
        client: the Elasticsearch client.
        tiers: the index namespace (its ``read_pattern`` is searched).
        event_id: the id.
        index: search this index or pattern instead of ``tiers.read_pattern``.

    Returns:
        The event's contract JSON (an ``undecodable_event`` placeholder when the document cannot be read as
        one), or ``None`` when no index holds it.

    Raises:
        ValueError: on an empty id.
        elasticsearch.ApiError / elasticsearch.ConnectionError: when the cluster fails.
        SearchFailedError / BadAnswerError: when the answer is 200 but reports a failure or is of another
            shape: "not found" would be a wrong answer then.
    """
    if not event_id.strip():
        raise ValueError("event id is empty")
    response = client.search(
        index=index or tiers.read_pattern,
        allow_no_indices=True,
        allow_partial_search_results=False,  # a failed shard may hold it: "not found" would be a wrong answer
        query={"ids": {"values": [event_id]}},
        sort=SORT[:1],
        size=1,
        track_total_hits=False,
    )
    hits = answer_hits(check_answer(response))
    return event_source(hits[0]) if hits else None
