"""Benchmark 6: the reading side at ten million events (and the growth from one million).

Seeding 10M events through the ingest suite would take most of an hour and measure nothing new, so the
events are made fast: a base of real emitter lines (``bench.events.event_lines``) is replicated with fresh
ids, each copy moved to one of ``DAYS`` daily indices (every class), and every tenth copy assigned to one
enterprise tenant (``BIG_TENANT``), which so holds about a tenth of all events: the one-tenant export slice.
Bodies are built on the fly and posted with the ceiling's poster (two connections), never held whole.

At each size (1M, then 10M in the same namespace, so growth compares like with like), every read the TUI does
is timed through the query layer against the raw Elasticsearch call it wraps (median and p95):

- first page: ``Pager.page(0)`` (opens a point in time, exact total) vs one ``_search`` with the same sort;
- facets: ``facet_counts`` vs posting its request body (``facets_request``) directly;
- histogram: ``histogram`` vs its ``date_histogram`` body;
- filter change: a new ``Pager`` for one tenant's updates vs the filtered ``_search``;
- live tail: one live tick (a fresh listing and its first page, as the TUI's ``check_new``) and the time from
  indexing an event until a live tick lists it (bounded below by the index refresh interval);
- primary store bytes per event (as stored, before any force-merge), for the capacity model;
- export of the tenant slice: ``auditlog export --tenant BIG_TENANT`` in its own process vs a plain
  point-in-time scan of the same slice (``bench.export_probe --tenant``).

Targets (issue): first page <= 500 ms p95 and facets <= 1 s p95 at 10M; the report says "missed" with the
ratio when one is.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from elasticsearch import Elasticsearch

from auditlog.indexer.query import Filter, Pager, facet_counts, histogram
from auditlog.indexer.query.facets import facets_request
from auditlog.indexer.query.histogram import choose_interval, histogram_request
from auditlog.indexer.tiers import TierTable
from bench.ceiling import post_bodies
from bench.cluster import Cluster
from bench.events import event_lines
from bench.growth import latency_summary, timings
from bench.scale import run_export

Log = Callable[[str], None]
DAYS = 30
BIG_TENANT = "org-scale"
BASE_EVENTS = 50_000
PAGE = 100
TARGETS_MS = {"first_page": 500.0, "facets": 1000.0}


def replicated_lines(count: int, *, start_copy: int = 0, now: datetime | None = None) -> Iterator[dict[str, Any]]:
    """Yield ``count`` events: copies of a base of emitter lines with fresh ids, spread over ``DAYS`` days.

    Args:
        count: events to yield.
        start_copy: number of the first copy (a second call continues a namespace without repeating ids).
        now: end of the newest day (default: the current time).

    Yields:
        Contract events (dicts) ready to index; every tenth copy belongs to ``BIG_TENANT`` (enterprise).
    """
    now = now or datetime.now(UTC)
    window = (now - timedelta(hours=23), now - timedelta(minutes=1))
    base = [orjson.loads(line) for line in event_lines(min(count, BASE_EVENTS), seed=31, window=window)]
    made, copy = 0, start_copy
    while made < count:
        shift = timedelta(days=copy % DAYS)
        prefix = f"{copy:06x}"
        big = copy % 10 == 0
        for event in base:
            if made == count:
                return
            doc = orjson.loads(orjson.dumps(event))
            doc["event"]["id"] = prefix + doc["event"]["id"][6:]
            moment = datetime.fromisoformat(doc["@timestamp"]) - shift
            doc["@timestamp"] = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
            if big:
                doc["organization"]["id"] = BIG_TENANT
                doc["audit"]["tier"] = "enterprise"
            made += 1
            yield doc
        copy += 1


def bulk_bodies(events: Iterator[dict[str, Any]], tiers: TierTable, batch: int = 2000) -> Iterator[bytes]:
    """Yield ``_bulk`` bodies of ``create`` actions with ``_id = event.id``, routed like the agent."""
    parts: list[bytes] = []
    for doc in events:
        index = tiers.index_for(doc["audit"]["tier"], datetime.fromisoformat(doc["@timestamp"]))
        parts.append(orjson.dumps({"create": {"_index": index, "_id": doc["event"]["id"]}}))
        parts.append(orjson.dumps(doc))
        if len(parts) >= 2 * batch:
            yield b"\n".join(parts) + b"\n"
            parts.clear()
    if parts:
        yield b"\n".join(parts) + b"\n"


def seed(cluster: Cluster, tiers: TierTable, count: int, *, start_copy: int = 0) -> int:
    """Index ``count`` replicated events into ``tiers``; return the next copy number."""
    post_bodies(cluster.url, bulk_bodies(replicated_lines(count, start_copy=start_copy), tiers), workers=2)
    cluster.client.indices.refresh(index=tiers.read_pattern)
    return start_copy + -(-count // BASE_EVENTS)


def _raw_search(client: Elasticsearch, pattern: str, **body: Any) -> Callable[[], object]:
    return lambda: client.search(index=pattern, **body)


def live_visibility(client: Elasticsearch, tiers: TierTable, tick: Callable[[], list[str]],
                    timeout: float = 30.0) -> float:
    """Index one new event and return the seconds until ``tick`` (a live-tail read) lists it on top."""
    event = next(replicated_lines(1))
    event["event"]["id"] = "live-" + uuid.uuid4().hex
    event["organization"]["id"] = "org-live"  # not the big tenant, whose slice the export measures
    event["@timestamp"] = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    index = tiers.index_for(event["audit"]["tier"], datetime.now(UTC))
    start = time.perf_counter()
    client.create(index=index, id=event["event"]["id"], document=event)
    while time.perf_counter() - start < timeout:
        if event["event"]["id"] in tick()[:1]:
            return time.perf_counter() - start
        time.sleep(0.05)
    raise RuntimeError(f"a new event did not appear in the live tail within {timeout:.0f} s")


def measure(cluster: Cluster, tiers: TierTable, events: int, *, repeats: int, work_dir: Path) -> dict[str, Any]:
    """Time every TUI read and the tenant export at the namespace's current size."""
    client, pattern = cluster.client, tiers.read_pattern
    everything = Filter()
    filtered = Filter(tenants=(BIG_TENANT,), actions=("update",))
    now = datetime.now(UTC)
    since = now - timedelta(days=DAYS)
    interval = choose_interval(since, now)
    sort = [{"@timestamp": "desc"}, {"event.id": "asc"}]

    def layer_page(flt: Filter) -> Callable[[], object]:
        def call() -> object:
            with Pager(client, tiers, flt, page_size=PAGE) as pager:
                return pager.page(0)
        return call

    def tick() -> list[str]:
        with Pager(client, tiers, everything, page_size=PAGE) as pager:
            return [hit.id for hit in pager.page(0).hits]

    def filtered_query() -> dict[str, Any]:
        return {"bool": {"filter": [{"term": {"organization.id": BIG_TENANT}}, {"term": {"event.action": "update"}}]}}

    row: dict[str, Any] = {"events": events}
    pairs: dict[str, tuple[Callable[[], object], Callable[[], object]]] = {
        "first_page": (layer_page(everything),
                       _raw_search(client, pattern, sort=sort, size=PAGE, track_total_hits=True)),
        "facets": (lambda: facet_counts(client, tiers, everything),
                   _raw_search(client, pattern, **facets_request(everything))),
        "histogram": (lambda: histogram(client, tiers, Filter(since=since), now=now),
                      _raw_search(client, pattern, **histogram_request(Filter(since=since), since, now, interval))),
        "filter_change": (layer_page(filtered),
                          _raw_search(client, pattern, query=filtered_query(), sort=sort, size=PAGE,
                                      track_total_hits=True)),
        "live_tick": (tick, _raw_search(client, pattern, sort=sort, size=PAGE, track_total_hits=True)),
    }
    for name, (layer, raw) in pairs.items():
        row[name] = {"layer": latency_summary(timings(layer, repeats)), "raw": latency_summary(timings(raw, repeats))}
    row["live_visibility_s"] = round(live_visibility(client, tiers, tick), 3)
    stats = client.indices.stats(index=pattern, metric="store,docs")["_all"]["primaries"]
    row["store_bytes_per_event"] = round(stats["store"]["size_in_bytes"] / max(stats["docs"]["count"], 1), 1)
    slice_count = int(client.count(index=pattern, query={"term": {"organization.id": BIG_TENANT}})["count"])
    row["tenant_slice"] = slice_count
    row["export"] = run_export(cluster, tiers, work_dir, raw=False, tenant=BIG_TENANT)
    row["export_raw"] = run_export(cluster, tiers, work_dir, raw=True, tenant=BIG_TENANT)
    return row


def run(cluster: Cluster, *, sizes: tuple[int, ...] = (1_000_000, 10_000_000), repeats: int = 20,
        work_dir: Path, log: Log = print, into: dict[str, Any] | None = None) -> dict[str, Any]:
    """Seed one namespace up to each size in turn and measure there.

    Returns:
        ``{"rows": [...], "targets_ms": ...}`` for the results file.
    """
    report = {} if into is None else into
    rows: list[dict[str, Any]] = []
    report.update(rows=rows, targets_ms=TARGETS_MS, days=DAYS, tenant=BIG_TENANT)
    now = datetime.now(UTC)
    tiers = cluster.new_namespace("big", ahead=(now - timedelta(days=DAYS), now))
    try:
        loaded, copy = 0, 0
        for size in sorted(sizes):
            log(f"bigscale: seeding {size - loaded:,} events (to {size:,})")
            began = time.perf_counter()
            copy = seed(cluster, tiers, size - loaded, start_copy=copy)
            loaded = size
            log(f"    seeded in {time.perf_counter() - began:.0f} s; measuring")
            row = measure(cluster, tiers, size, repeats=repeats, work_dir=work_dir)
            row["seed_s"] = round(time.perf_counter() - began, 1)
            rows.append(row)
            log(f"    first page p95 {row['first_page']['layer']['p95_ms']:.0f} ms, facets p95 "
                f"{row['facets']['layer']['p95_ms']:.0f} ms, tenant export {row['export']['seconds']:.0f} s "
                f"({row['tenant_slice']:,} rows)")
    finally:
        cluster.drop_namespace(tiers)
    return report
