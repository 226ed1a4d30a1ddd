"""Benchmark 5: the TUI's latencies with many stored events, against the raw Elasticsearch query time.

Measured (when the Textual app exists) by driving it headless with ``App.run_test()`` and its Pilot:
time to the first rows after start, after a filter change (p95), keypress-to-redraw while scrolling, and
an export of 100k rows (time, peak RSS, in its own process). The baseline is the same reads done with one
plain ``_search`` each: first page, filtered first page and next page (``search_after``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

from auditlog.indexer.tiers import TierTable
from bench.cluster import Cluster
from bench.growth import latency_summary, timings

Log = Callable[[str], None]
PAGE = 100


def baseline(client: Elasticsearch, tiers: TierTable, tenant: str, repeats: int) -> dict[str, Any]:
    """Time the raw reads behind each TUI measurement."""
    pattern = tiers.read_pattern
    sort = [{"@timestamp": "desc"}, {"event.id": "asc"}]
    first = client.search(index=pattern, sort=sort, size=PAGE, track_total_hits=True)["hits"]["hits"]
    after = first[-1]["sort"] if first else None
    tenant_query = {"bool": {"filter": [{"term": {"organization.id": tenant}}]}}
    return {
        "first_page": latency_summary(timings(
            lambda: client.search(index=pattern, sort=sort, size=PAGE, track_total_hits=True), repeats)),
        "filtered_page": latency_summary(timings(
            lambda: client.search(index=pattern, query=tenant_query, sort=sort, size=PAGE, track_total_hits=True),
            repeats)),
        "next_page": latency_summary(timings(
            lambda: client.search(index=pattern, sort=sort, size=PAGE, search_after=after), repeats)),
    }


def tui_missing() -> str | None:
    """Return why the Textual app cannot be driven yet, or ``None``."""
    try:
        from auditlog.tui.app import AuditLogApp  # noqa: F401
    except ImportError as exc:
        return f"not available yet: tui app (tui.app.AuditLogApp: {exc})"
    return None


def run(cluster: Cluster, tiers: TierTable, *, events: int, tenant: str, repeats: int, work_dir: Path,
        log: Log = print) -> dict[str, Any]:
    """Measure the TUI (when present) and its raw baseline on the namespace ``tiers`` holding ``events``."""
    result: dict[str, Any] = {"events": events, "repeats": repeats,
                              "baseline": baseline(cluster.client, tiers, tenant, repeats)}
    log(f"tui baseline: raw first page {result['baseline']['first_page']['median_ms']:.1f} ms")
    missing = tui_missing()
    if missing:
        result["unavailable"] = missing
        return result
    from bench.tui_pilot import measure

    result.update(measure(cluster, tiers, tenant=tenant, repeats=repeats, work_dir=work_dir, log=log))
    (work_dir / "tui.json").write_text(json.dumps(result, default=str))
    return result
