"""Benchmark 3: how reading costs grow with the number of stored events (10k / 100k / 1M by default).

At each size the events are loaded (with the ceiling's pre-built bodies; loading is not what is measured
here), then:
- first page (100 newest rows with the exact total, what the TUI shows first): the query layer's
  ``Pager.page(0)`` (opens a point in time) against the baseline of one plain ``_search`` with the same sort;
  once for all events and once for one tenant's updates;
- export of every event: ``auditlog export -o FILE.xlsx`` as a child process (wall time, peak RSS) against the
  baseline of a plain point-in-time scan reading the same documents.
Agent CPU per event at each size comes from the ingest benchmark; the report states flat vs linear.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

from auditlog.indexer.tiers import TierTable
from bench.ceiling import build_bodies, post_bodies
from bench.cluster import Cluster
from bench.events import EventFile
from bench.growth import latency_summary, timings
from bench.ingest import wait_searchable
from bench.shippers.base import ShipperProcess

Log = Callable[[str], None]
PAGE_SIZE = 100


def load(cluster: Cluster, events: EventFile, batch_size: int, label: str) -> TierTable:
    """Index ``events`` into a fresh namespace (pre-built bulk bodies) and wait until all are searchable."""
    tiers = cluster.new_namespace(label)
    post_bodies(cluster.url, build_bodies(events.path, tiers, batch_size), workers=2)
    wait_searchable(cluster, tiers, events.count)
    return tiers


def sample_tenant(events: EventFile) -> str:
    """Return the tenant of the file's first event (the one the filtered queries ask for)."""
    with events.path.open("rb") as lines:
        return str(json.loads(lines.readline())["organization"]["id"])


def raw_first_page(client: Elasticsearch, pattern: str, tenant: str | None) -> Callable[[], object]:
    """Return a call doing the baseline first-page search (no point in time)."""
    query: dict[str, Any] = {"match_all": {}}
    if tenant:
        query = {"bool": {"filter": [{"term": {"organization.id": tenant}}, {"terms": {"event.action": ["update"]}}]}}

    def call() -> object:
        return client.search(index=pattern, query=query, sort=[{"@timestamp": "desc"}], size=PAGE_SIZE,
                             track_total_hits=True)

    return call


def layer_first_page(client: Elasticsearch, tiers: TierTable, tenant: str | None) -> Callable[[], object]:
    """Return a call opening a fresh ``Pager`` and fetching page 0, as the TUI does on start / filter change."""
    from auditlog.indexer.query import Filter, Pager

    flt = Filter(tenants=(tenant,), actions=("update",)) if tenant else Filter()

    def call() -> object:
        with Pager(client, tiers, flt, page_size=PAGE_SIZE) as pager:
            return pager.page(0)

    return call


def run_export(cluster: Cluster, tiers: TierTable, work_dir: Path, *, raw: bool,
               tenant: str | None = None) -> dict[str, Any]:
    """Export every event of ``tiers`` (or of one tenant) in a child process; return rows, wall seconds, peak RSS.

    ``raw=False`` runs ``auditlog export -o FILE.xlsx --prefix P`` exactly as a user does (interpreter start-up
    included); ``raw=True`` runs the baseline scan (``bench.export_probe``).
    """
    out = work_dir / f"{tiers.prefix}.xlsx"
    if raw:
        argv = [sys.executable, "-m", "bench.export_probe", "--es", cluster.url, "--prefix", tiers.prefix]
    else:
        argv = [sys.executable, "-m", "auditlog.cli", "export", "-o", str(out), "--prefix", tiers.prefix,
                "--es", cluster.url, "--tz", "Europe/Zurich"]
    if tenant is not None:
        argv += ["--tenant", tenant]
    proc = ShipperProcess(argv, log_path=work_dir / f"{tiers.prefix}-export.log")
    start = time.perf_counter()
    proc.start()
    code = proc.wait()
    seconds = time.perf_counter() - start
    text = proc.log_path.read_text(errors="replace")
    out.unlink(missing_ok=True)
    if code != 0:
        raise RuntimeError(f"export failed ({code}): {text[-800:]}")
    # The log is appended to when one namespace is exported more than once: the last report is this run's.
    found = re.findall(r"exported ([\d,]+) events", text) if not raw else None
    rows = int(found[-1].replace(",", "")) if found else int(json.loads(text.strip().splitlines()[-1])["rows"])
    assert proc.reaped is not None
    return {"rows": rows, "seconds": seconds, "peak_rss_bytes": proc.reaped.peak_rss_bytes}


def query_layer_missing() -> str | None:
    """Return why the query layer cannot be used yet, or ``None``."""
    try:
        from auditlog.indexer.query import EventStream, Pager  # noqa: F401
    except ImportError as exc:
        return f"not available yet: query layer ({exc})"
    return None


def export_missing() -> str | None:
    """Return why ``auditlog export`` cannot be used yet, or ``None``."""
    try:
        from auditlog.commands.tui import run_export  # noqa: F401
    except ImportError as exc:
        return f"not available yet: auditlog export ({exc})"
    return query_layer_missing()


def run(cluster: Cluster, files: Sequence[EventFile], *, repeats: int, batch_size: int, work_dir: Path,
        log: Log = print, on_largest: Callable[[TierTable, str, int], None] | None = None,
        into: dict[str, Any] | None = None) -> dict[str, Any]:
    """Measure first-page latency and export time at every size.

    Args:
        on_largest: called with (namespace, tenant, events) while the largest size is still loaded, so the
            TUI benchmark can reuse it instead of loading the same events again.
        into: dict to fill as sizes complete (an interrupted run keeps what it measured).

    Returns:
        ``{"rows": [...per size...], "unavailable": {...}}`` for the results file.
    """
    no_layer, no_export = query_layer_missing(), export_missing()
    rows: list[dict[str, Any]] = []
    report = {} if into is None else into
    report.update(rows=rows, unavailable={"query_layer": no_layer, "export": no_export})
    for events in files:
        log(f"scale {events.count:>9,} events: loading")
        tiers = load(cluster, events, batch_size, f"scale{events.count}")
        try:
            tenant = sample_tenant(events)
            row: dict[str, Any] = {"events": events.count, "tenant": tenant}
            client = cluster.client
            for label, who in (("all", None), ("tenant", tenant)):
                row[f"first_page_raw_{label}"] = latency_summary(
                    timings(raw_first_page(client, tiers.read_pattern, who), repeats))
                if not no_layer:
                    row[f"first_page_layer_{label}"] = latency_summary(
                        timings(layer_first_page(client, tiers, who), repeats))
            log(f"    first page: raw {row['first_page_raw_all']['median_ms']:.1f} ms"
                + (f", query layer {row['first_page_layer_all']['median_ms']:.1f} ms" if not no_layer else ""))
            row["export_raw"] = run_export(cluster, tiers, work_dir, raw=True)
            if not no_export:
                row["export"] = run_export(cluster, tiers, work_dir, raw=False)
            log(f"    export: raw scan {row['export_raw']['seconds']:.1f} s"
                + (f", xlsx {row['export']['seconds']:.1f} s" if not no_export else ""))
            rows.append(row)
            if on_largest is not None and events is files[-1]:
                on_largest(tiers, tenant, events.count)
        finally:
            cluster.drop_namespace(tiers)
    return report
