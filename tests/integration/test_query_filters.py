"""Each filter dimension, free text, get_event and snapshot behaviour against the real node (small data set)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from auditlog.agent.contract import parse_timestamp
from auditlog.indexer.query import EventStream, Filter, Pager, facet_counts, get_event, histogram
from auditlog.indexer.query.dsl import MAX_TEXT_CHARS, MAX_TEXT_TERMS
from auditlog.indexer.tiers import TierTable
from tests.support.paging import all_pages
from tests.support.seed import SeedSummary, realistic_events, seed_events, seeded_namespace

START = datetime(2026, 11, 10, tzinfo=UTC)
END = datetime(2026, 11, 12, tzinfo=UTC)
Seeded = tuple[TierTable, SeedSummary, list[dict[str, Any]]]


@pytest.fixture(scope="module")
def seeded(es: Elasticsearch) -> Iterator[Seeded]:
    """3,000 events over two days in a namespace of the module's own, plus the events themselves."""
    events = list(realistic_events(3_000, seed=5, start=START, end=END))
    with seeded_namespace(es, (dict(e) for e in events), label="qfilt") as (tiers, summary):
        yield tiers, summary, events


def _ids(es: Elasticsearch, tiers: TierTable, flt: Filter) -> list[str]:
    stream = EventStream(es, tiers, flt, batch_size=500)
    ids = [e["event"]["id"] for e in stream]
    assert stream.total == len(ids)
    return ids


def _expected(events: list[dict[str, Any]], keep: Any) -> set[str]:
    return {e["event"]["id"] for e in events if keep(e)}


def test_filter_by_tenant(es: Elasticsearch, seeded: Seeded) -> None:
    """--tenant selects exactly that organization's events."""
    tiers, _, events = seeded
    got = _ids(es, tiers, Filter(tenants=("org-2001",)))
    assert _expected(events, lambda e: e["organization"]["id"] == "org-2001") == set(got)
    assert got


def test_filter_by_workers(es: Elasticsearch, seeded: Seeded) -> None:
    """Several workers select the events of any of them."""
    tiers, _, events = seeded
    workers = ("w-100101", "w-200102")
    got = _ids(es, tiers, Filter(workers=workers))
    assert _expected(events, lambda e: e["user"]["id"] in workers) == set(got)


def test_filter_by_action(es: Elasticsearch, seeded: Seeded) -> None:
    """An action selects only events of that type."""
    tiers, _, events = seeded
    got = _ids(es, tiers, Filter(actions=("delete",)))
    assert _expected(events, lambda e: e["event"]["action"] == "delete") == set(got)


def test_filter_by_sources(es: Elasticsearch, seeded: Seeded) -> None:
    """Sources select events of those areas."""
    tiers, _, events = seeded
    got = _ids(es, tiers, Filter(sources=("slots", "login")))
    assert _expected(events, lambda e: e["audit"]["source"] in ("slots", "login")) == set(got)


def test_filter_by_time_range_is_inclusive(es: Elasticsearch, seeded: Seeded) -> None:
    """since/until include events exactly at the bounds."""
    tiers, _, events = seeded
    since = parse_timestamp(events[500]["@timestamp"])
    until = parse_timestamp(events[1500]["@timestamp"])
    got = _ids(es, tiers, Filter(since=since, until=until))
    assert _expected(events, lambda e: since <= parse_timestamp(e["@timestamp"]) <= until) == set(got)
    assert {events[500]["event"]["id"], events[1500]["event"]["id"]} <= set(got)


def test_all_dimensions_combine_with_and(es: Elasticsearch, seeded: Seeded) -> None:
    """Tenant, action, source and time together select their intersection."""
    tiers, _, events = seeded
    since = START + timedelta(hours=30)
    flt = Filter(tenants=("org-1001",), actions=("update", "create"), sources=("appointments",), since=since)
    got = _ids(es, tiers, flt)
    assert _expected(events, lambda e: e["organization"]["id"] == "org-1001"
                     and e["event"]["action"] in ("update", "create") and e["audit"]["source"] == "appointments"
                     and parse_timestamp(e["@timestamp"]) >= since) == set(got)
    assert got


def test_free_text_finds_a_worker_by_one_word_of_the_name(es: Elasticsearch, seeded: Seeded) -> None:
    """A surname finds that worker's events (message and the name's text sub-field)."""
    tiers, _, events = seeded
    got = _ids(es, tiers, Filter(text="Zbinden"))
    assert _expected(events, lambda e: e["user"]["name"] == "Heinz Zbinden") == set(got)
    assert got


def test_free_text_words_must_all_match(es: Elasticsearch, seeded: Seeded) -> None:
    """Two words narrow the search (AND), e.g. a worker and a verb of the message."""
    tiers, _, events = seeded
    got = _ids(es, tiers, Filter(text="zbinden deleted"))
    assert _expected(events, lambda e: e["user"]["name"] == "Heinz Zbinden"
                     and e["event"]["action"] == "delete") == set(got)


def test_free_text_finds_a_changed_field(es: Elasticsearch, seeded: Seeded) -> None:
    """A changed field's name finds the events that changed it (audit.changed_fields)."""
    tiers, _, events = seeded
    name = "capacity"
    expected = _expected(events, lambda e: name in e["audit"].get("changed_fields", ()))
    assert expected, "the fabricated data should change slot capacities"
    assert expected == set(_ids(es, tiers, Filter(text=name)))


def test_free_text_finds_an_exact_event_id(es: Elasticsearch, seeded: Seeded) -> None:
    """Pasting an event id finds that event."""
    tiers, _, events = seeded
    assert [events[42]["event"]["id"]] == _ids(es, tiers, Filter(text=events[42]["event"]["id"]))


@pytest.mark.parametrize("text", ['"unbalanced', "a AND OR", "(((", "*", "x" * MAX_TEXT_CHARS, "🙂 ümlaut",
                                  "user.name:foo", "\\", "-", "+-|~", "10.0.0.1/33", "NOT", "a" * 200 + "~5",
                                  "[1 TO 2]",
                                  # at both limits at once, each word many tokens on the text fields (clause count)
                                  " ".join(["a-b-c-d"] * MAX_TEXT_TERMS), "-".join(["a"] * (MAX_TEXT_CHARS // 2))])
def test_free_text_never_errors(es: Elasticsearch, seeded: Seeded, text: str) -> None:
    """Whatever a user types, the query runs (it may match nothing)."""
    tiers, _, _ = seeded
    counts = facet_counts(es, tiers, Filter(text=text))
    assert counts.total >= 0


def test_text_past_the_word_limit_is_refused_not_widened(es: Elasticsearch, seeded: Seeded) -> None:
    """A word past MAX_TEXT_TERMS that matches nothing is refused, never dropped to count the other words' events."""
    tiers, _, events = seeded
    action = events[0]["event"]["action"]  # a short word: 65 of them stay within MAX_TEXT_CHARS
    assert facet_counts(es, tiers, Filter(text=" ".join([action] * (MAX_TEXT_TERMS - 1) + ["zzz"]))).total == 0
    with pytest.raises(ValueError, match=r"^search text too long: .* \(this has 65 words"):
        facet_counts(es, tiers, Filter(text=" ".join([action] * MAX_TEXT_TERMS + ["zzz"])))


def test_get_event_returns_the_indexed_event(es: Elasticsearch, seeded: Seeded) -> None:
    """An event fetched by id equals what was indexed."""
    tiers, _, events = seeded
    wanted = events[1234]
    assert wanted == get_event(es, tiers, wanted["event"]["id"])


def test_get_event_unknown_id_is_none(es: Elasticsearch, seeded: Seeded) -> None:
    """An id no index holds gives None."""
    tiers, _, _ = seeded
    assert get_event(es, tiers, "no-such-event") is None


def test_empty_namespace_gives_empty_results(es: Elasticsearch, namespace: TierTable) -> None:
    """Without any index every reader answers with nothing instead of failing."""
    assert get_event(es, namespace, "x") is None
    with Pager(es, namespace, Filter()) as pager:
        assert (pager.total, pager.page(0).hits) == (0, ())
    assert facet_counts(es, namespace, Filter(actions=("delete",))).total == 0
    assert EventStream(es, namespace, Filter()).total == 0
    assert histogram(es, namespace, Filter()).buckets == ()


def test_histogram_sums_to_the_count_in_a_zone(es: Elasticsearch, seeded: Seeded) -> None:
    """The histogram of a filter in a local zone sums to the filter's count."""
    tiers, _, events = seeded
    flt = Filter(tenants=("org-1002",), since=START, until=END)
    hist = histogram(es, tiers, flt, time_zone="Europe/Zurich", target=24)
    assert hist.interval.name == "2h"
    assert hist.total == len(_expected(events, lambda e: e["organization"]["id"] == "org-1002"))
    assert hist.buckets[0].start.utcoffset() == timedelta(hours=1)


def test_histogram_with_a_future_start_is_empty(es: Elasticsearch, seeded: Seeded) -> None:
    """A since after now gives an empty histogram rather than a refused request."""
    tiers, _, _ = seeded
    hist = histogram(es, tiers, Filter(since=END + timedelta(days=400)), now=END)
    assert hist.total == 0


def test_snapshot_ignores_events_indexed_later(es: Elasticsearch, namespace: TierTable) -> None:
    """A pager keeps its snapshot: events indexed after it opened do not shift its pages."""
    seed_events(es, namespace, realistic_events(300, seed=1, start=START, end=END))
    with Pager(es, namespace, Filter(), page_size=50) as pager:
        first = [h.id for h in pager.page(0).hits]
        seed_events(es, namespace, realistic_events(100, seed=2, start=END, end=END + timedelta(hours=1)))
        ids = [h.id for page in all_pages(pager) for h in page.hits]
        assert (pager.total, len(set(ids))) == (300, 300)
        assert first == ids[:50]
    with Pager(es, namespace, Filter()) as fresh:
        assert fresh.total == 400


def test_expired_snapshot_is_renewed(es: Elasticsearch, namespace: TierTable) -> None:
    """When the point in time disappears the pager opens a new one and says so via the generation."""
    seed_events(es, namespace, realistic_events(120, seed=3, start=START, end=END))  # distinct timestamps
    with Pager(es, namespace, Filter(), page_size=50) as other:
        expected = [h.id for h in other.page(2).hits]
    with Pager(es, namespace, Filter(), page_size=50) as pager:
        assert pager.page(0).generation == 0
        es.close_point_in_time(id=pager.snapshot().id)
        page = pager.page(2)
        assert page.generation == 1
        assert expected == [h.id for h in page.hits]
        assert len(expected) == 20


def test_a_snapshot_that_lost_an_index_to_retention_is_renewed_without_it(es: Elasticsearch,
                                                                          namespace: TierTable) -> None:
    """An index of the snapshot deleted after it opened: the pager opens a new one (generation 1) holding the
    other indices' events, instead of every later page failing with "no such index"."""
    seed_events(es, namespace, realistic_events(120, seed=3, start=START, end=END))
    with Pager(es, namespace, Filter(), page_size=50, cached_pages=0) as pager:
        assert pager.page(0).generation == 0
        newest = max(es.indices.get(index=namespace.read_pattern), key=lambda name: name.rsplit("-", 1)[-1])
        left = 120 - es.count(index=newest)["count"]
        es.indices.delete(index=newest)
        page = pager.page(0)
        assert (1, left) == (page.generation, page.total)


def test_touch_keeps_the_snapshot(es: Elasticsearch, namespace: TierTable) -> None:
    """touch() extends the point in time without changing the listing."""
    seed_events(es, namespace, realistic_events(10, seed=4, start=START, end=END))
    with Pager(es, namespace, Filter(), page_size=5, cached_pages=0) as pager:
        before = pager.page(1)
        pid = pager.snapshot().id
        pager.touch()
        after = pager.page(1)
        assert (0, before.hits) == (after.generation, after.hits)
        assert pid == pager.snapshot().id
