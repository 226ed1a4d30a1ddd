"""Unit tests of the facet request (the "facet excludes its own selection" rule) and its parsing."""

from __future__ import annotations

from auditlog.indexer.query.dsl import build_query
from auditlog.indexer.query.facets import FacetBucket, facets_request, parse_facet
from auditlog.indexer.query.filter import Filter

FLT = Filter(tenants=("org-1",), workers=("w-1",), actions=("delete",), sources=("slots",))


def test_query_is_the_full_filter_with_exact_total() -> None:
    """The request's query is the whole filter and the total is exact."""
    body = facets_request(FLT)
    assert build_query(FLT) == body["query"]
    assert body["track_total_hits"] is True
    assert body["size"] == 0


def test_each_facet_excludes_only_its_own_dimension() -> None:
    """The action facet is filtered by tenant, worker and source but not by the selected actions."""
    aggs = facets_request(FLT)["aggs"]
    for dimension in ("workers", "actions", "sources"):
        assert aggs[dimension]["global"] == {}
        assert build_query(FLT, exclude=dimension) == aggs[dimension]["aggs"]["f"]["filter"]


def test_selected_values_are_always_requested() -> None:
    """Selected values get their own terms aggregation so they are listed even outside the top N."""
    inner = facets_request(FLT, size=5)["aggs"]["actions"]["aggs"]["f"]["aggs"]
    assert inner["selected"]["terms"]["include"] == ["delete"]
    assert inner["top"]["terms"]["size"] == 5


def test_worker_buckets_carry_a_name_label() -> None:
    """Worker buckets fetch the latest user.name as their label."""
    inner = facets_request(FLT)["aggs"]["workers"]["aggs"]["f"]["aggs"]
    assert inner["top"]["aggs"]["label"]["top_hits"]["_source"] == ["user.name"]


def _agg(top: list[tuple[str, int]], other: int, missing: int, selected: list[tuple[str, int]] | None = None,
         doc_count: int = 0) -> dict[str, object]:
    inner: dict[str, object] = {
        "doc_count": doc_count,
        "top": {"buckets": [{"key": k, "doc_count": n} for k, n in top], "sum_other_doc_count": other,
                "doc_count_error_upper_bound": 0},
        "missing": {"doc_count": missing},
    }
    if selected is not None:
        inner["selected"] = {"buckets": [{"key": k, "doc_count": n} for k, n in selected]}
    return {"doc_count": 999, "f": inner}


def test_parse_keeps_counts_other_and_missing() -> None:
    """Buckets, the rest beyond the top N and the events without the field are all reported."""
    facet = parse_facet("sources", _agg([("a", 5), ("b", 3)], other=2, missing=1, doc_count=11), ())
    assert (FacetBucket("a", 5), FacetBucket("b", 3)) == facet.buckets
    assert (facet.total, facet.other, facet.missing) == (11, 2, 1)


def test_selected_value_outside_top_is_appended_and_taken_from_other() -> None:
    """A selected value beyond the top N is listed with its count, which leaves 'other'."""
    facet = parse_facet("sources", _agg([("a", 5)], other=4, missing=0, selected=[("z", 3)], doc_count=9), ("z",))
    assert FacetBucket("z", 3, selected=True) == facet.buckets[-1]
    assert facet.other == 1
    assert facet.total == sum(b.count for b in facet.buckets) + facet.other + facet.missing


def test_selected_value_without_events_is_listed_with_zero() -> None:
    """A selected value that matches nothing still appears, with count 0."""
    facet = parse_facet("actions", _agg([("update", 2)], other=0, missing=0, selected=[], doc_count=2), ("delete",))
    assert FacetBucket("delete", 0, selected=True) in facet.buckets


def test_absent_aggregation_is_an_empty_facet() -> None:
    """No indices at all (no aggregations in the response) gives an empty facet, not an error."""
    facet = parse_facet("workers", None, ())
    assert (facet.buckets, facet.total, facet.other, facet.missing) == ((), 0, 0, 0)
