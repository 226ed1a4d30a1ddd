"""The 10M scale point's harness works end to end on the real node, at a small size."""

from __future__ import annotations

import uuid
from pathlib import Path

from elasticsearch import Elasticsearch

from bench import bigscale
from bench.cluster import Cluster


def test_bigscale_seeds_and_measures_every_read(es_url: str, es: Elasticsearch, tmp_path: Path) -> None:
    """Two sizes are seeded into one namespace; every read, the live tail and the tenant export are measured."""
    cluster = Cluster(url=es_url, client=es, run_id=uuid.uuid4().hex[:6], started_here=False)
    try:
        report = bigscale.run(cluster, sizes=(1_000, 3_000), repeats=2, work_dir=tmp_path, log=lambda _m: None)
    finally:
        cluster.drop_all()
    small, large = report["rows"]
    assert (1_000, 3_000) == (small["events"], large["events"])
    for key in ("first_page", "facets", "histogram", "filter_change", "live_tick"):
        assert large[key]["layer"]["p95_ms"] > 0 and large[key]["raw"]["p95_ms"] > 0
    assert large["tenant_slice"] == large["export"]["rows"] == large["export_raw"]["rows"] > 0
    assert 0 < large["live_visibility_s"] < 30
    assert 100 < large["store_bytes_per_event"] < 5_000
