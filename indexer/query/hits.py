"""One ``search_after`` step inside a point in time, and the ``Hit`` it yields: shared by pager and export."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from auditlog.indexer.client import AnswerTooLarge
from auditlog.indexer.query.dsl import SORT, Query
from auditlog.indexer.query.pit import BadAnswerError, PointInTime, quoted

#: The largest page Elasticsearch serves (``index.max_result_window``); ``search_after`` keeps from at 0.
MAX_BATCH: Final = 10_000

#: A ``search_after`` cursor: the sort values of the last hit seen.
Cursor = list[Any]

#: Key of the placeholder event that stands for a hit whose ``_source`` could not be read; its value is
#: the reason. Readers show such an event as a marked row ("undecodable event <id>") and count it.
UNDECODABLE = "_auditlog_undecodable"

#: The id shown for a hit that carries no usable ``_id`` (a hostile answer: Elasticsearch always sends one).
NO_ID: Final = "(no _id)"


def _direction(clause: Mapping[str, Any]) -> int:
    """+1 for a clause of ``SORT`` in ascending order, -1 for descending."""
    spec = next(iter(clause.values()))
    order = spec.get("order") if isinstance(spec, Mapping) else spec
    return -1 if order == "desc" else 1


#: The direction of each value of a cursor, from ``SORT`` (newest ``@timestamp`` first, then ``_shard_doc``).
_DIRECTIONS: Final = tuple(_direction(clause) for clause in SORT)


def cursor_key(values: object) -> tuple[int, ...] | None:
    """Return a cursor's position in the listing's order (larger = later), or ``None`` when it is no cursor.

    A cursor of ``SORT`` is one integer per clause: the timestamp in epoch units (a missing one is the
    smallest long) and ``_shard_doc``, which the point in time makes unique per document. So two hits of
    one snapshot never share a position, and each hit's position is strictly larger than the one before:
    anything else (a repeated page, a repeated hit, ``sort`` missing, null or of another shape) is an answer
    the listing cannot be read on from.

    Args:
        values: a hit's ``sort`` (as found in the answer: any JSON value).

    Returns:
        A tuple that compares in the listing's order, or ``None``.
    """
    if not isinstance(values, list) or len(values) != len(_DIRECTIONS):
        return None
    if not all(type(value) is int for value in values):  # not bool, not float, not text
        return None
    return tuple(direction * value for direction, value in zip(_DIRECTIONS, values, strict=True))


@dataclass(frozen=True)
class Hit:
    """One event as found: its document id, index, contract JSON (``source``) and sort cursor."""

    id: str
    index: str
    source: dict[str, Any]
    sort: Cursor

    @classmethod
    def from_raw(cls, raw: object) -> Hit:
        """Build from one element of ``hits.hits`` (see ``event_source``); never raises on an odd hit.

        ``id`` is the document ``_id`` (``NO_ID`` when the hit has none): the identity ``show`` and verify use.
        """
        source = event_source(raw)
        fields = raw if isinstance(raw, dict) else {}
        index, sort = fields.get("_index"), fields.get("sort")
        return cls(id=str(source["event"]["id"]), index=index if isinstance(index, str) else "", source=source,
                   sort=sort if isinstance(sort, list) else [])


def undecodable_event(doc_id: str, reason: str) -> dict[str, Any]:
    """Return the placeholder event of a hit that could not be read (``event.id`` and the reason only)."""
    return {"event": {"id": doc_id}, UNDECODABLE: reason}


def undecodable_reason(event: Mapping[str, Any]) -> str | None:
    """Return why ``event`` is a placeholder for an unreadable hit, or ``None`` for a real event."""
    reason = event.get(UNDECODABLE)
    return None if reason is None else str(reason)


def _kind(value: object) -> str:
    return "null" if value is None else f"a {type(value).__name__}"


def event_source(raw: object) -> dict[str, Any]:
    """Return a hit's ``_source`` with ``event.id`` set to the document ``_id``, or a placeholder.

    The document ``_id`` is the event's identity (the agent indexes each event under its ``event.id``;
    ``auditlog show`` and verify look events up by ``_id``), so that is the id every reader shows. A
    source without ``event.id`` (or with ``null``) gets the ``_id``. A hit that cannot be shown as the
    event it claims to be becomes an ``undecodable_event`` placeholder, so one odd document never stops a
    listing or an export and is counted instead: a hit that is not an object, or lacks a string
    ``_id`` or ``_index``; a ``_source`` that is missing, ``null`` or not an object; an ``event`` that is not
    an object; an ``event.id`` other than the ``_id`` (showing either would name a different event than
    the other readers find).

    Args:
        raw: one element of ``hits.hits``, as found in the answer.

    Returns:
        The event's contract JSON, or the placeholder.
    """
    if not isinstance(raw, dict):
        return undecodable_event(NO_ID, f"the hit is {_kind(raw)}, not an object")
    doc_id = raw.get("_id")
    if not isinstance(doc_id, str) or not doc_id:
        return undecodable_event(NO_ID, f"the hit's _id is {_kind(doc_id)} ({quoted(repr(doc_id), 60)}), not an id")
    if not isinstance(raw.get("_index"), str):
        return undecodable_event(doc_id, "the hit names no _index")
    source = raw.get("_source")
    if not isinstance(source, dict):
        return undecodable_event(doc_id, f"_source is {_kind(source)}, not an object")
    event = source.get("event")
    if event is None:
        event = source["event"] = {}
    if not isinstance(event, dict):
        return undecodable_event(doc_id, f"event is {_kind(event)}, not an object")
    if event.get("id") is None:
        event["id"] = doc_id
    elif event["id"] != doc_id:
        return undecodable_event(doc_id, f"event.id {quoted(repr(event['id']), 60)} is not the document's _id")
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
        The batch; fewer than ``size`` hits means the listing ended. Every hit that is an object carries a
        cursor strictly after ``after`` and after the hit before it (``cursor_key``), so a caller that
        continues from the last hit neither repeats an event nor walks in a circle.

    Raises:
        PitExpiredError: when the snapshot expired.
        SearchFailedError: when the answer reports a failure (``check_answer``).
        AnswerTooLarge: when one hit alone is over the client's bound on one answer (the pages of more hits are
            read in halves).
        BadAnswerError: when the answer has no exact total though one was asked for, more hits than asked
            for, or hits out of the listing's order or without a cursor.
    """
    size = min(size, MAX_BATCH)
    try:
        return _fetch(pit, query, size, after, with_source, track_total)
    except AnswerTooLarge:
        if size <= 1:  # one event over the bound (none the agent admits is): the one line says so
            raise
    # hits that passed the client's bound on one answer together (indexer.client.ANSWER_LIMIT): the same hits in
    # two requests, each halved again as needed, so a page of large events is read, not refused
    half = size // 2
    first = fetch_after(pit, query, size=half, after=after, with_source=with_source, track_total=track_total)
    if len(first.hits) < half:  # the listing ended in the first half
        return first
    rest = fetch_after(pit, query, size=size - half, after=first.hits[-1]["sort"], with_source=with_source)
    return Batch(hits=first.hits + rest.hits, total=first.total)


def _fetch(pit: PointInTime, query: Query, size: int, after: Cursor | None, with_source: bool,
           track_total: bool) -> Batch:
    """One request of :func:`fetch_after` (its checks included)."""
    body: dict[str, Any] = {
        "query": query,
        "sort": SORT,
        "size": size,
        "track_total_hits": track_total,
    }
    if after is not None:
        body["search_after"] = after
    if not with_source:
        body["source"] = False
        # the answer's failure fields too, or check_answer could not see failed shards or a timeout here
        body["filter_path"] = ["pit_id", "hits.total", "hits.hits.sort", "_shards", "timed_out"]
    response = pit.search(**body)
    hits = answer_hits(response)
    if len(hits) > body["size"]:
        raise BadAnswerError(f"its answer holds {len(hits):,} hits where {body['size']:,} were asked for")
    check_order(hits, after)
    if hits and len(hits) == body["size"] and not isinstance(hits[-1], dict):
        raise BadAnswerError("the last hit of a full batch is not an object: no cursor to read on from")
    return Batch(hits=hits, total=exact_total(response) if track_total else None)


def answer_hits(response: Mapping[str, Any]) -> list[Any]:
    """Return ``hits.hits`` of a search answer (empty when the answer has none).

    Args:
        response: the answer's body (``check_answer``'s result).

    Returns:
        The hits as found (each one may still be of any shape: ``event_source`` judges them one by one).

    Raises:
        BadAnswerError: when ``hits`` is not an object or ``hits.hits`` not a list.
    """
    part = response.get("hits", {})
    if not isinstance(part, Mapping):
        raise BadAnswerError(f"its answer's hits is {_kind(part)}, not an object")
    hits = part.get("hits", [])
    if not isinstance(hits, list):
        raise BadAnswerError(f"its answer's hits.hits is {_kind(hits)}, not a list")
    return hits


def exact_total(response: Mapping[str, Any]) -> int:
    """Return the exact ``hits.total`` of a search answer that asked for it (``track_total_hits: true``).

    Args:
        response: the answer's body.

    Returns:
        The number of events of the listing, 0 or more.

    Raises:
        BadAnswerError: when the total is missing, not a count, or only a lower bound.
    """
    part = response.get("hits", {})
    total = part.get("total") if isinstance(part, Mapping) else None
    value = exact_count(total)
    if value is None:
        raise BadAnswerError(f"its answer has no exact hits.total (found {quoted(repr(total), 60)})")
    return value


def exact_count(total: object) -> int | None:
    """Return the count of a ``hits.total`` object when it is exact (``relation`` ``eq``), else ``None``.

    "gte" would be a lower bound: readers promise exactly ``total`` events, and scans bound their pages by it.
    """
    if not isinstance(total, Mapping) or total.get("relation", "eq") != "eq":
        return None
    value = total.get("value")
    return value if type(value) is int and value >= 0 else None


def check_order(hits: list[Any], after: Cursor | None) -> None:
    """Check that every hit that is an object carries a cursor after the one before it (and after ``after``).

    Hits that are not objects carry no cursor and are skipped: they become placeholders
    (``event_source``), and the next hit is compared with the last cursor seen.

    Args:
        hits: the hits of one answer.
        after: the cursor the request continued from (``None`` for the first request).

    Raises:
        BadAnswerError: at the first hit without a cursor, or whose cursor does not come after the one before.
    """
    previous, previous_sort = (cursor_key(after), after) if after is not None else (None, None)
    for position, raw in enumerate(hits):
        if not isinstance(raw, dict):
            continue
        sort = raw.get("sort")
        key = cursor_key(sort)
        if key is None:
            # kept short: the reader's line quotes 120 characters of it
            raise BadAnswerError(f"hit {position + 1} carries no cursor (sort {quoted(repr(sort), 40)})")
        if previous is not None and key <= previous:
            raise BadAnswerError(f"hits out of the listing's order (sort {quoted(repr(sort), 40)} after "
                                 f"{quoted(repr(previous_sort), 40)}): paging would loop or repeat")
        previous, previous_sort = key, sort
