"""Pages of large events: hits whose answer passes the client's bound together are read in halves, not refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from auditlog.indexer.client import AnswerTooLarge, ConnectionSettings, make_client
from auditlog.indexer.query import EventStream, Filter, Pager
from auditlog.indexer.rawsource import raw_client_options, scan_sources
from auditlog.indexer.tiers import TierTable
from tests.support.seed import SeedSummary, realistic_events, seeded_namespace

COUNT = 30
BOUND = 1024 * 1024  # the test client's bound on one answer: about five of these events


def _large(size: int) -> Iterator[dict[str, Any]]:
    for n, event in enumerate(realistic_events(COUNT, seed=7, start=datetime(2026, 11, 1, tzinfo=UTC),
                                                   end=datetime(2026, 11, 2, tzinfo=UTC))):
        event["message"] = f"{n} " + "x" * size
        yield event


@pytest.fixture(scope="module")
def large(es: Elasticsearch) -> Iterator[tuple[TierTable, SeedSummary]]:
    """30 events of about 200 KB each in a namespace of the module's own."""
    with seeded_namespace(es, _large(200_000), label="large") as seeded:
        yield seeded


@pytest.fixture(scope="module")
def bounded(es_url: str) -> Iterator[Elasticsearch]:
    """A client whose bound on one answer is 1 MiB."""
    client = make_client(ConnectionSettings(url=es_url), answer_limit=BOUND)
    yield client
    client.close()


def test_the_export_stream_reads_every_large_event_in_order(es: Elasticsearch, bounded: Elasticsearch,
                                                            large: tuple[TierTable, SeedSummary]) -> None:
    """A batch of 30 events of 200 KB (6 MB, past the 1 MiB bound) yields each event once, in the listing's order."""
    tiers, summary = large
    expected = [e["event"]["id"] for e in EventStream(es, tiers, Filter(), batch_size=COUNT)]
    stream = EventStream(bounded, tiers, Filter(), batch_size=COUNT)
    ids = [e["event"]["id"] for e in stream]
    assert (ids, stream.total, set(ids)) == (expected, COUNT, summary.ids)


def test_a_page_of_large_events_is_read_whole(es: Elasticsearch, bounded: Elasticsearch,
                                             large: tuple[TierTable, SeedSummary]) -> None:
    """The TUI's pager gets a full page of large events through the bound, the same rows the plain client gets."""
    tiers, _ = large
    with Pager(es, tiers, Filter(), page_size=25) as plain, Pager(bounded, tiers, Filter(), page_size=25) as pager:
        assert [h.id for h in pager.page(0).hits] == [h.id for h in plain.page(0).hits]


def test_verify_s_raw_scan_reads_every_large_event(es_url: str, large: tuple[TierTable, SeedSummary]) -> None:
    """The raw scan verify uses (pages of 5,000) reads each large event once through the bound, its stored bytes."""
    tiers, summary = large
    raw = make_client(ConnectionSettings(url=es_url), answer_limit=BOUND, **raw_client_options())
    try:
        hits = [hit for page in scan_sources(raw, tiers.read_pattern, {"match_all": {}}) for hit in page]
    finally:
        raw.close()
    sizes = {len(bytes(hit._source)) > 200_000 for hit in hits}
    assert (len(hits), {hit._id for hit in hits} == summary.ids, sizes) == (COUNT, True, {True})


def test_one_event_over_the_bound_is_one_line_naming_it(es: Elasticsearch, es_url: str) -> None:
    """An event larger than the bound alone fails the read with the bound's line, not a loop or a traceback."""
    with seeded_namespace(es, _large(1_500_000), label="huge") as (tiers, _):
        client = make_client(ConnectionSettings(url=es_url), answer_limit=BOUND)
        try:
            with pytest.raises(AnswerTooLarge) as refused:
                list(EventStream(client, tiers, Filter(), batch_size=4))
        finally:
            client.close()
    assert "bound on one answer" in str(refused.value)
