"""A bench namespace starts like production: templates installed and the window's daily indices made ahead."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from elasticsearch import Elasticsearch

from bench.cluster import Cluster


def test_new_namespace_creates_every_day_of_the_window_ahead(es_url: str, es: Elasticsearch) -> None:
    """Each class has an index for every day of the window and the day after, before anything is shipped."""
    cluster = Cluster(url=es_url, client=es, run_id=uuid.uuid4().hex[:6], started_here=False)
    end = datetime(2026, 11, 30, 15, tzinfo=UTC)
    try:
        tiers = cluster.new_namespace("ahead", ahead=(end - timedelta(days=2), end))
        names = set(es.indices.get(index=tiers.read_pattern, expand_wildcards="all"))
    finally:
        cluster.drop_all()
    days = ["2026.11.28", "2026.11.29", "2026.11.30", "2026.12.01"]
    classes = ("enterprise", "business", "professional")
    assert {f"{tiers.prefix}-{cls}-{day}" for cls in classes for day in days} == names


def test_indexed_counts_documents_before_any_refresh(es_url: str, es: Elasticsearch) -> None:
    """Index statistics see written documents that no refresh has made searchable yet, and refresh nothing."""
    cluster = Cluster(url=es_url, client=es, run_id=uuid.uuid4().hex[:6], started_here=False)
    try:
        tiers = cluster.new_namespace("indexed", ahead=(datetime(2026, 11, 30, tzinfo=UTC),) * 2)
        index = f"{tiers.prefix}-enterprise-2026.11.30"
        es.indices.put_settings(index=index, settings={"index": {"refresh_interval": "-1"}})
        for i in range(3):
            es.index(index=index, id=str(i), document={"@timestamp": "2026-11-30T10:00:00Z"}, refresh=False)
        indexed = cluster.indexed(tiers)
        unrefreshed = es.count(index=index)["count"]
        searchable = cluster.searchable(tiers)
    finally:
        cluster.drop_all()
    assert (indexed, unrefreshed, searchable) == (3, 0, 3)
