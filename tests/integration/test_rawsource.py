"""Point-in-time scans on the real node: an index whose shard is still starting is waited for, then refused; many
pages and slices are read to their end; a stored lone surrogate escape is read as stored."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from elasticsearch import ApiError, Elasticsearch

from auditlog.indexer import rawsource
from auditlog.indexer.rawsource import _open_pit, raw_client_options, scan_sources
from auditlog.indexer.tiers import TierTable

#: an allocation filter no node matches: the index exists, its primary is never started
_NOWHERE = {"number_of_replicas": 0, "index.routing.allocation.require._name": "no-such-node"}


@pytest.fixture
def raw(es_url: str) -> Iterator[Elasticsearch]:
    """A client that returns raw response bytes, as the scans need."""
    client = Elasticsearch(es_url, request_timeout=60, max_retries=0, **raw_client_options())
    yield client
    client.close()


def _unstarted(es: Elasticsearch, namespace: TierTable, name: str) -> str:
    index = f"{namespace.prefix}-{name}"
    es.indices.create(index=index, settings=_NOWHERE, wait_for_active_shards="0")
    return index


def test_scan_waits_for_a_shard_that_is_still_starting(es: Elasticsearch, raw: Elasticsearch,
                                                       namespace: TierTable) -> None:
    """A scan of an index whose primary starts a second later reads it instead of failing with 503."""
    index = _unstarted(es, namespace, "starting")
    start = threading.Timer(1.0, lambda: es.indices.put_settings(
        index=index, settings={"index.routing.allocation.require._name": None}))
    start.start()
    try:
        pages = list(scan_sources(raw, index, {"match_all": {}}))
    finally:
        start.join()
    assert pages == []


def test_a_shard_that_never_starts_is_refused_after_the_wait(es: Elasticsearch, raw: Elasticsearch,
                                                            namespace: TierTable) -> None:
    """Opening a point in time over an index whose shard never starts raises the node's 503 once the wait is over."""
    index = _unstarted(es, namespace, "never")
    with pytest.raises(ApiError) as refused:
        _open_pit(raw, index, wait=0.5)
    assert 503 == refused.value.meta.status


@pytest.mark.parametrize("slices", [1, 2], ids=["one-slice", "two-slices"])
def test_a_scan_of_many_pages_reads_every_document_once(es: Elasticsearch, raw: Elasticsearch, namespace: TierTable,
                                                         monkeypatch: pytest.MonkeyPatch, slices: int) -> None:
    """Pages of 7 over 3 shards, in one or two slices, each advance the cursor and together hold every document once."""
    index = f"{namespace.prefix}-pages"
    es.indices.create(index=index, settings={"number_of_shards": 3, "number_of_replicas": 0})
    es.bulk(operations=[line for n in range(100) for line in ({"create": {"_index": index, "_id": str(n)}}, {"n": n})],
            refresh=True)
    monkeypatch.setattr(rawsource, "PAGE", 7)
    pages = list(scan_sources(raw, index, {"match_all": {}}, slices=slices))
    assert (sorted(int(h._id) for page in pages for h in page), len(pages) >= 100 // 7) == (list(range(100)), True)


def test_an_event_with_an_escaped_lone_surrogate_is_read_as_stored(es: Elasticsearch, raw: Elasticsearch,
                                                                   namespace: TierTable) -> None:
    """An event whose message holds the escape \\ud800 (Elasticsearch accepts it) comes back byte for byte,
    and so do the events beside it."""
    index = f"{namespace.prefix}-surrogate"
    lone, plain = b'{"message":"\\ud800lone","n":1}', b'{"message":"plain","n":2}'
    es.bulk(operations=b'{"create":{"_index":"%s","_id":"lone"}}\n%s\n{"create":{"_index":"%s","_id":"plain"}}\n%s\n'
            % (index.encode(), lone, index.encode(), plain), refresh=True)  # type: ignore[arg-type]
    stored = {h._id: bytes(h._source) for page in scan_sources(raw, index, {"match_all": {}}) for h in page}
    assert stored == {"lone": lone, "plain": plain}
