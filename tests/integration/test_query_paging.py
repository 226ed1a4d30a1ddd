"""The query layer against the real node with 50,000 events: paging to any depth, facets, export, histogram.

One namespace is seeded once for the module. Timestamps are cut to the minute so thousands of events
share a timestamp and page boundaries fall inside ties (the ``_shard_doc`` tiebreaker must hold), and
every 97th event has no worker (a system event) so the worker facet's ``missing`` count is exercised.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from auditlog.indexer.query import EventStream, Filter, Pager, facet_counts, histogram
from auditlog.indexer.tiers import TierTable
from tests.support.paging import all_pages, page_count
from tests.support.seed import SeedSummary, realistic_events, seeded_namespace

COUNT = 50_000
START = datetime(2026, 11, 1, tzinfo=UTC)
END = datetime(2026, 11, 4, tzinfo=UTC)


def _events() -> Iterator[dict[str, Any]]:
    for n, event in enumerate(realistic_events(COUNT, seed=42, start=START, end=END)):
        event["@timestamp"] = event["@timestamp"][:16] + ":00.000Z"  # ties: one timestamp per minute
        if n % 97 == 0:
            del event["user"]
        yield event


@pytest.fixture(scope="module")
def seeded(es: Elasticsearch) -> Iterator[tuple[TierTable, SeedSummary]]:
    """50,000 events in a namespace of the module's own."""
    with seeded_namespace(es, _events(), label="qpage") as seeded:
        yield seeded


@pytest.fixture(scope="module")
def listing(es: Elasticsearch, seeded: tuple[TierTable, SeedSummary]) -> Iterator[tuple[Pager, list[str]]]:
    """A pager and the ids of its snapshot in stable order, read by the export stream in the same snapshot."""
    tiers, _ = seeded
    pager = Pager(es, tiers, Filter(), page_size=100)
    ids = [event["event"]["id"] for event in EventStream(es, tiers, Filter(), pit=pager.snapshot())]
    yield pager, ids
    pager.close()


def test_seeded_count(es: Elasticsearch, seeded: tuple[TierTable, SeedSummary]) -> None:
    """The namespace holds exactly the seeded events."""
    tiers, summary = seeded
    assert es.count(index=tiers.read_pattern)["count"] == summary.count == COUNT


def test_walking_all_pages_loses_and_repeats_nothing(es: Elasticsearch, seeded: tuple[TierTable, SeedSummary]) -> None:
    """Every page walked forward gives each event exactly once, newest first, and the count is the total."""
    tiers, summary = seeded
    ids: list[str] = []
    stamps: list[str] = []
    with Pager(es, tiers, Filter(), page_size=500) as pager:
        for page in all_pages(pager):
            ids.extend(hit.id for hit in page.hits)
            stamps.extend(hit.source["@timestamp"] for hit in page.hits)
        assert pager.total == COUNT
    assert len(ids) == COUNT
    assert set(ids) == summary.ids
    assert stamps == sorted(stamps, reverse=True)


def test_deep_page_beyond_10000_matches_the_stream(listing: tuple[Pager, list[str]]) -> None:
    """Page 150 of 100 (rows 15,000-15,099) is reached directly and holds exactly those rows."""
    pager, ids = listing
    page = pager.page(150)
    assert [hit.id for hit in page.hits] == ids[15_000:15_100]


def test_last_page_and_past_the_end(listing: tuple[Pager, list[str]]) -> None:
    """The last page ends the listing and a page past it is empty."""
    pager, ids = listing
    last = pager.page(page_count(pager) - 1)
    assert [hit.id for hit in last.hits] == ids[-100:]
    assert last.is_last
    assert pager.page(page_count(pager)).hits == ()


def test_rows_across_a_deep_page_boundary(listing: tuple[Pager, list[str]]) -> None:
    """A virtual list's row window spanning two deep pages is stitched correctly."""
    pager, ids = listing
    assert [hit.id for hit in pager.rows(41_950, 42_070)] == ids[41_950:42_070]


def test_jumping_back_and_forth_is_consistent(listing: tuple[Pager, list[str]]) -> None:
    """Pages visited in any order return the same rows as the sequential stream."""
    pager, ids = listing
    for number in (310, 12, 499, 101, 0, 250):
        assert [hit.id for hit in pager.page(number).hits] == ids[number * 100:(number + 1) * 100]


def test_export_stream_count_equals_total(es: Elasticsearch, seeded: tuple[TierTable, SeedSummary]) -> None:
    """The export stream yields exactly its total, each event once."""
    tiers, summary = seeded
    stream = EventStream(es, tiers, Filter(), batch_size=5_000)
    ids = [event["event"]["id"] for event in stream]
    assert stream.total == len(ids) == len(set(ids)) == summary.count


def test_filtered_export_count_equals_filtered_total(es: Elasticsearch,
                                                     seeded: tuple[TierTable, SeedSummary]) -> None:
    """With a filter the stream yields the filtered total, which the independent oracle confirms."""
    tiers, summary = seeded
    flt = Filter(actions=("delete", "create"), sources=("appointments", "customers"))
    stream = EventStream(es, tiers, flt)
    events = list(stream)
    assert summary.expected(flt) == stream.total == len(events)
    assert {(e["event"]["action"], e["audit"]["source"]) for e in events} <= {
        (a, s) for a in flt.actions for s in flt.sources}


def test_facets_of_the_whole_set_account_for_every_event(es: Elasticsearch,
                                                         seeded: tuple[TierTable, SeedSummary]) -> None:
    """Each facet's buckets + other + missing add up to the total, and each count matches the oracle."""
    tiers, summary = seeded
    counts = facet_counts(es, tiers, Filter(), size=100)
    assert counts.total == COUNT
    for position, dimension in ((1, "actions"), (2, "sources"), (3, "workers")):
        facet = counts.facet(dimension)  # type: ignore[arg-type]
        assert facet.total == COUNT
        assert sum(b.count for b in facet.buckets) + facet.other + facet.missing == COUNT
        oracle = summary.values(position)
        assert {b.value: b.count for b in facet.buckets} == {k: n for k, n in oracle.items() if k is not None}
        assert facet.missing == oracle.get(None, 0)
    assert counts.workers.missing > 0


def test_facet_excludes_its_own_selection(es: Elasticsearch, seeded: tuple[TierTable, SeedSummary]) -> None:
    """A facet counts under every other dimension, not its own: the multi-select rule."""
    tiers, summary = seeded
    flt = Filter(tenants=("org-1001",), actions=("delete",), sources=("appointments", "slots"))
    counts = facet_counts(es, tiers, flt)
    assert counts.total == summary.expected(flt)
    for bucket in counts.actions.buckets:
        assert bucket.count == summary.expected(flt.with_(actions=(bucket.value,)))
    assert {b.value for b in counts.actions.buckets} >= {"create", "update", "delete"}
    for bucket in counts.sources.buckets:
        assert bucket.count == summary.expected(flt.with_(sources=(bucket.value,)))
    for bucket in counts.workers.buckets:
        assert bucket.count == summary.expected(flt.with_(workers=(bucket.value,)))
        assert bucket.label  # the worker's name
    assert sum(b.count for b in counts.workers.buckets) + counts.workers.missing == counts.total


def test_selected_value_is_listed_even_outside_the_top(es: Elasticsearch,
                                                       seeded: tuple[TierTable, SeedSummary]) -> None:
    """A selected source beyond the top N is still listed with its true count."""
    tiers, summary = seeded
    rarest = min((s for s in summary.values(2) if s), key=lambda s: summary.values(2)[s])
    counts = facet_counts(es, tiers, Filter(sources=(rarest,)), size=2)
    bucket = next(b for b in counts.sources.buckets if b.value == rarest)
    assert bucket.selected
    assert bucket.count == summary.values(2)[rarest]
    assert sum(b.count for b in counts.sources.buckets) + counts.sources.other == COUNT


def test_facets_in_the_pager_snapshot_match_its_total(es: Elasticsearch, listing: tuple[Pager, list[str]],
                                                      seeded: tuple[TierTable, SeedSummary]) -> None:
    """Facet counts computed in the pager's snapshot give the pager's total."""
    tiers, _ = seeded
    pager, ids = listing
    counts = facet_counts(es, tiers, Filter(), pit=pager.snapshot())
    assert counts.total == pager.total == len(ids)


def test_histogram_adds_up_to_the_total(es: Elasticsearch, seeded: tuple[TierTable, SeedSummary]) -> None:
    """Over an explicit range the histogram's buckets sum to the filter's total, one per chosen interval."""
    tiers, summary = seeded
    flt = Filter(since=START, until=END, actions=("update",))
    hist = histogram(es, tiers, flt, time_zone="Europe/Zurich")
    assert hist.interval.name == "2h"
    assert hist.total == summary.expected(Filter(actions=("update",)))
    assert len(hist.buckets) <= 60 + 1
    assert [b.start for b in hist.buckets] == sorted(b.start for b in hist.buckets)


def test_histogram_with_open_range_starts_at_the_oldest_event(es: Elasticsearch,
                                                              seeded: tuple[TierTable, SeedSummary]) -> None:
    """Without since the range starts at the oldest matching event and still counts everything."""
    tiers, summary = seeded
    hist = histogram(es, tiers, Filter(), now=END)
    assert hist.since == summary.oldest
    assert hist.total == COUNT
