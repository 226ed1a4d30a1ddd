"""One ``search_after`` step inside a point in time, and the ``Hit`` it yields: shared by pager and export."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from auditlog.indexer.query.dsl import SORT, Query
from auditlog.indexer.query.pit import PointInTime

#: The largest page Elasticsearch serves (``index.max_result_window``); ``search_after`` keeps from at 0.
MAX_BATCH: Final = 10_000

#: A ``search_after`` cursor: the sort values of the last hit seen.
Cursor = list[Any]

#: Key of the placeholder event that stands for a hit whose ``_source`` could not be read; its value is
#: the reason. Readers show such an event as a marked row ("undecodable event <id>") and count it.
UNDECODABLE = "_auditlog_undecodable"


@dataclass(frozen=True)
class Hit:
    """One event as found: its document id, index, contract JSON (``source``) and sort cursor."""

    id: str
    index: str
    source: dict[str, Any]
    sort: Cursor

    @classmethod
    def from_raw(cls, raw: dict[str, Any]) -> Hit:
        """Build from one element of ``hits.hits``; ``event.id`` is filled from ``_id`` when absent."""
        return cls(id=raw["_id"], index=raw["_index"], source=event_source(raw), sort=raw.get("sort", []))


def undecodable_event(doc_id: str, reason: str) -> dict[str, Any]:
    """Return the placeholder event of a hit that could not be read (``event.id`` and the reason only)."""
    return {"event": {"id": doc_id}, UNDECODABLE: reason}


def undecodable_reason(event: Mapping[str, Any]) -> str | None:
    """Return why ``event`` is a placeholder for an unreadable hit, or ``None`` for a real event."""
    reason = event.get(UNDECODABLE)
    return None if reason is None else str(reason)


def event_source(raw: dict[str, Any]) -> dict[str, Any]:
    """Return a hit's ``_source`` with ``event.id`` set (the document id is the event id by contract).

    A hit whose ``_source`` is not a JSON object becomes an ``undecodable_event`` placeholder, so one
    odd document never stops a listing or an export.
    """
    source = raw.get("_source")
    if source is None:
        source = {}
    if not isinstance(source, dict):
        return undecodable_event(str(raw.get("_id", "")), f"_source is a {type(source).__name__}, not an object")
    event = source.get("event")
    if not isinstance(event, dict):
        event = {}
        source["event"] = event
    event.setdefault("id", raw["_id"])
    return source


@dataclass(frozen=True)
class Batch:
    """The raw hits of one step and, when it was asked for, the exact total of the whole listing."""

    hits: list[dict[str, Any]]
    total: int | None


def fetch_after(
    pit: PointInTime,
    query: Query,
    *,
    size: int,
    after: Cursor | None,
    with_source: bool = True,
    track_total: bool = False,
) -> Batch:
    """Fetch the next ``size`` hits after ``after`` in the stable order ``SORT``.

    Args:
        pit: the snapshot to read.
        query: the query (``indexer.query.dsl.build_query``).
        size: hits to fetch, at most ``MAX_BATCH``.
        after: the cursor of the last hit already seen; ``None`` starts at the newest event.
        with_source: ``False`` fetches only sort values (cheap, for skipping ahead).
        track_total: ask for the exact total (``track_total_hits: true``).

    Returns:
        The batch; fewer than ``size`` hits means the listing ended.

    Raises:
        PitExpiredError: when the snapshot expired.
    """
    body: dict[str, Any] = {
        "query": query,
        "sort": SORT,
        "size": min(size, MAX_BATCH),
        "track_total_hits": track_total,
    }
    if after is not None:
        body["search_after"] = after
    if not with_source:
        body["source"] = False
        body["filter_path"] = ["pit_id", "hits.total", "hits.hits.sort"]
    response = pit.search(**body)
    hits_part = response.get("hits", {})
    total = hits_part.get("total", {}).get("value") if track_total else None
    return Batch(hits=list(hits_part.get("hits", [])), total=total)
