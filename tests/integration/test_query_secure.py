"""The query layer on the secured node with the reader API key `auditlog setup --api-keys` makes.

Every read path the TUI and export use (PIT paging, facets, histogram, export stream, ``get_event``)
runs with the reader key over TLS verified against the node's CA, so the reader's privileges
(``read`` + ``view_index_metadata``) are proven sufficient by Elasticsearch itself; an unverifiable
certificate is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from elasticsearch import Elasticsearch, SSLError

from auditlog.indexer.client import ConnectionSettings, make_client
from auditlog.indexer.query import EventStream, Filter, Pager, facet_counts, get_event, histogram
from auditlog.indexer.security import READER
from auditlog.indexer.setup import run_setup
from auditlog.indexer.tiers import TierTable
from tests.support.node import SecureNodeInfo
from tests.support.paging import all_pages
from tests.support.seed import SeedSummary, realistic_events, seeded_namespace

START = datetime(2026, 11, 20, tzinfo=UTC)
END = datetime(2026, 11, 21, tzinfo=UTC)


@pytest.fixture(scope="module")
def admin(secure_node: SecureNodeInfo) -> Iterator[Elasticsearch]:
    """A superuser client over verified TLS."""
    client = make_client(ConnectionSettings(url=secure_node.url, username=secure_node.username,
                                            password=secure_node.password, ca_certs=secure_node.ca_certs))
    yield client
    client.close()


@pytest.fixture(scope="module")
def seeded(admin: Elasticsearch) -> Iterator[tuple[TierTable, SeedSummary]]:
    """1,500 events in a namespace of the module's own on the secured node."""
    with seeded_namespace(admin, realistic_events(1_500, seed=11, start=START, end=END), label="qsec") as seeded:
        yield seeded


@pytest.fixture(scope="module")
def reader(secure_node: SecureNodeInfo, admin: Elasticsearch,
           seeded: tuple[TierTable, SeedSummary]) -> Iterator[Elasticsearch]:
    """A client with the namespace's reader API key, made by setup through the real API."""
    tiers, _ = seeded
    keys = {k.role: k for k in run_setup(admin, tiers, api_keys=True, key_expiration="1h").api_keys}
    client = make_client(ConnectionSettings(url=secure_node.url, api_key=keys[READER].encoded,
                                            ca_certs=secure_node.ca_certs))
    yield client
    client.close()
    admin.security.invalidate_api_key(ids=[k.id for k in keys.values()])


def test_pages_with_point_in_time_over_tls(reader: Elasticsearch, seeded: tuple[TierTable, SeedSummary]) -> None:
    """Every page of a point in time is walked with the reader key over verified TLS, then closed."""
    tiers, summary = seeded
    with Pager(reader, tiers, Filter(), page_size=200) as pager:
        ids = [hit.id for page in all_pages(pager) for hit in page.hits]
        assert summary.count == pager.total
    assert summary.ids == set(ids)
    assert len(ids) == summary.count


def test_counts_streams_and_fetches_over_tls(reader: Elasticsearch, seeded: tuple[TierTable, SeedSummary]) -> None:
    """Facets, histogram, export stream and get_event with the reader key agree with the oracle."""
    tiers, summary = seeded
    flt = Filter(actions=("update",))
    counts = facet_counts(reader, tiers, flt)
    assert summary.expected(flt) == counts.total
    assert summary.expected(flt) == histogram(reader, tiers, flt, now=END).total
    stream = EventStream(reader, tiers, flt)
    events = list(stream)
    assert stream.total == len(events) == counts.total
    assert events[0] == get_event(reader, tiers, events[0]["event"]["id"])


def test_unverifiable_certificate_is_refused(secure_node: SecureNodeInfo,
                                             seeded: tuple[TierTable, SeedSummary]) -> None:
    """Without the node's CA the query layer refuses the connection (TLS verification is on by default)."""
    tiers, _ = seeded
    client = make_client(ConnectionSettings(url=secure_node.url, username=secure_node.username,
                                            password=secure_node.password), max_retries=0)
    try:
        with pytest.raises(SSLError):
            Pager(client, tiers, Filter()).page(0)
    finally:
        client.close()
