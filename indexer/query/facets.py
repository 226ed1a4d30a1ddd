"""Facet counts for the multi-select filters (worker, action, source) and the filter's exact total.

The multi-select rule ("a facet excludes its own selection"): each facet's counts are computed with
every OTHER dimension of the filter applied, but not its own. With actions ``delete`` selected, the
action facet still shows how many ``create``/``update``/... events there are (so the user can add
them to the selection), while the worker and source facets count only deletions. Tenant, time range
and free text always apply. ``FacetCounts.total`` is the count of the whole filter (every dimension),
i.e. the number of events in the list and in the export.

Each facet accounts for all its events: ``sum(bucket counts) + other + missing == facet.total``, where
``other`` counts values beyond the ``size`` largest and ``missing`` events without the field (e.g.
system events without a worker). Selected values are always listed, even when they fall outside
the largest ``size`` (with their true count, possibly 0), so a UI never loses a ticked checkbox.
Counts are exact while a value set fits the per-shard ``shard_size`` (10 x ``size``, at least 500);
beyond that Elasticsearch's terms counts may be approximate and ``Facet.error_bound`` says by how much.

One request (``size: 0``): the query is the full filter (its exact total via ``track_total_hits``),
and each facet is a ``global`` aggregation re-filtered by the filter minus its own dimension.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from elasticsearch import Elasticsearch

from auditlog.core.contract import F
from auditlog.indexer.query.dsl import DIMENSION_FIELDS, TIME_FIELD, Dimension, build_query
from auditlog.indexer.query.filter import Filter
from auditlog.indexer.query.pit import PointInTime
from auditlog.indexer.tiers import TierTable

DEFAULT_FACET_SIZE = 50

#: Field shown as the label of a worker bucket (the latest event's value).
WORKER_LABEL_FIELD = F.worker_name


@dataclass(frozen=True)
class FacetBucket:
    """One value of a facet, its count and a display label (the worker's name; ``None`` if unknown)."""

    value: str
    count: int
    label: str | None = None
    selected: bool = False


@dataclass(frozen=True)
class Facet:
    """The counts of one dimension under the filter without that dimension's own selection.

    ``error_bound`` is Elasticsearch's upper bound of a bucket count's error (0 = exact).
    """

    dimension: Dimension
    buckets: tuple[FacetBucket, ...]
    total: int
    other: int
    missing: int
    error_bound: int = 0


@dataclass(frozen=True)
class FacetCounts:
    """Facets of all three dimensions plus the exact total of the full filter."""

    total: int
    workers: Facet
    actions: Facet
    sources: Facet

    def facet(self, dimension: Dimension) -> Facet:
        """Return the facet of ``dimension``."""
        facet: Facet = getattr(self, dimension)
        return facet


def facets_request(flt: Filter, *, size: int = DEFAULT_FACET_SIZE) -> dict[str, Any]:
    """Return the search body computing the facets of ``flt`` (pure; see the module docs)."""
    aggs: dict[str, Any] = {}
    for dimension, field in DIMENSION_FIELDS.items():
        inner: dict[str, Any] = {
            "top": {"terms": {"field": field, "size": size, "shard_size": max(size * 10, 500),
                              "order": [{"_count": "desc"}, {"_key": "asc"}]}},
            "missing": {"missing": {"field": field}},
        }
        selected = sorted(set(getattr(flt, dimension)))
        if selected:
            inner["selected"] = {"terms": {"field": field, "size": len(selected), "include": selected,
                                           "min_doc_count": 0}}
        if dimension == "workers":
            label = {"top_hits": {"size": 1, "_source": [WORKER_LABEL_FIELD],
                                  "sort": [{TIME_FIELD: {"order": "desc", "unmapped_type": "date"}}]}}
            for name in ("top", "selected"):
                if name in inner:
                    inner[name]["aggs"] = {"label": label}
        aggs[dimension] = {"global": {}, "aggs": {"f": {"filter": build_query(flt, exclude=dimension),
                                                        "aggs": inner}}}
    return {"query": build_query(flt), "size": 0, "track_total_hits": True, "aggs": aggs}


def _label(bucket: dict[str, Any]) -> str | None:
    hits = bucket.get("label", {}).get("hits", {}).get("hits", [])
    if not hits:
        return None
    value: Any = hits[0].get("_source", {})
    for part in WORKER_LABEL_FIELD.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value if isinstance(value, str) else None


def parse_facet(dimension: Dimension, agg: dict[str, Any] | None, selected: tuple[str, ...]) -> Facet:
    """Turn one facet's aggregation response into a ``Facet`` (an absent aggregation = no indices)."""
    inner = (agg or {}).get("f", {})
    top = inner.get("top", {})
    chosen = set(selected)
    buckets = [
        FacetBucket(value=str(b["key"]), count=int(b["doc_count"]), label=_label(b), selected=str(b["key"]) in chosen)
        for b in top.get("buckets", [])
    ]
    other = int(top.get("sum_other_doc_count", 0))
    listed = {b.value for b in buckets}
    extra = {str(b["key"]): b for b in inner.get("selected", {}).get("buckets", [])}
    for value in sorted(chosen - listed):
        raw = extra.get(value)
        count = int(raw["doc_count"]) if raw else 0
        other -= count  # it was counted among "other" values before being listed
        buckets.append(FacetBucket(value=value, count=count, label=_label(raw) if raw else None, selected=True))
    return Facet(
        dimension=dimension,
        buckets=tuple(buckets),
        total=int(inner.get("doc_count", 0)),
        other=other,
        missing=int(inner.get("missing", {}).get("doc_count", 0)),
        error_bound=int(top.get("doc_count_error_upper_bound", 0)),
    )


def facet_counts(
    client: Elasticsearch,
    tiers: TierTable,
    flt: Filter,
    *,
    size: int = DEFAULT_FACET_SIZE,
    pit: PointInTime | None = None,
    index: str | None = None,
) -> FacetCounts:
    """Count the events of ``flt`` per worker, action and source, and in total.

    Args:
        client: the Elasticsearch client.
        tiers: the index namespace (its ``read_pattern`` is searched).
        flt: the current filter.
        size: the largest values listed per facet (selected values come on top).
        pit: count inside this snapshot (the pager's), so counts match the listing exactly.
        index: search this index or pattern instead of ``tiers.read_pattern`` (ignored with ``pit``).

    Returns:
        The counts.

    Raises:
        elasticsearch.ApiError / elasticsearch.ConnectionError: when the cluster fails.
    """
    body = facets_request(flt, size=size)
    if pit is not None:
        response = pit.search(**body)
    else:
        # counts of the shards that answered would be shown as the counts (the PIT's searches refuse it too)
        response = dict(client.search(index=index or tiers.read_pattern, allow_no_indices=True,
                                      allow_partial_search_results=False, **body))
    aggs = response.get("aggregations", {})
    total = int(response.get("hits", {}).get("total", {}).get("value", 0))
    return FacetCounts(
        total=total,
        workers=parse_facet("workers", aggs.get("workers"), flt.workers),
        actions=parse_facet("actions", aggs.get("actions"), flt.actions),
        sources=parse_facet("sources", aggs.get("sources"), flt.sources),
    )
