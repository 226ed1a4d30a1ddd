"""Benchmark 1: file -> Elasticsearch until every event is searchable, for each shipper side by side.

One measured run = a fresh index namespace, a fresh state folder, the complete file handed to the shipper
(see ``run_shipper``), the clock stopped when ``_count`` after ``_refresh`` equals the number of lines. The shipper's
CPU seconds and peak RSS are read from ``/proc`` at that moment (before it is stopped), the node's CPU
from its stats. Shippers take turns within a repetition so slow drift of the shared machine hits all.
"""

from __future__ import annotations

import os
import shutil
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from auditlog.indexer.tiers import TierTable
from bench import agent_split
from bench.ceiling import agent_entries, bodies_of, line_entries, post_bodies
from bench.cluster import Cluster
from bench.events import EventFile
from bench.shippers.base import Launcher, ShipperProcess, ShipTarget

CEILING = "ceiling (pre-built _bulk)"
#: the same, of the documents the agent makes of the lines (its ECS fields added): the node's limit for them
CEILING_AGENT_DOCS = "ceiling, agent's documents"
Log = Callable[[str], None]


class RunFailed(RuntimeError):
    """A measured run did not reach ``count == N``; the message says how far it got and why."""


@dataclass
class IngestRun:
    """One measured run of one shipper."""

    shipper: str
    events: int
    seconds: float
    cpu_seconds: float | None
    peak_rss_bytes: int | None
    es_cpu_seconds: float | None
    startup_cpu_seconds: float | None = None
    #: the agent's own time split over the run, seconds per part (``bench/agent_split.py``); None for others
    time_split: dict[str, float] | None = None

    def time_share(self, part: str) -> float | None:
        """Seconds of ``part`` per wall second of the run (for ``response_wait``: requests in flight on average)."""
        if self.time_split is None or part not in self.time_split:
            return None
        return self.time_split[part] / self.seconds

    @property
    def events_per_s(self) -> float:
        """Throughput until searchable."""
        return self.events / self.seconds

    @property
    def node_cores_busy(self) -> float | None:
        """How many cores the node kept busy on average while the run was timed (its CPU s / wall s)."""
        return None if self.es_cpu_seconds is None else self.es_cpu_seconds / self.seconds

    @property
    def cpu_s_per_100k(self) -> float | None:
        """Shipper CPU seconds per 100k events."""
        return None if self.cpu_seconds is None else self.cpu_seconds * 100_000 / self.events


@dataclass
class IngestSummary:
    """Medians over the repetitions of one shipper at one size (or why there are none)."""

    shipper: str
    events: int
    runs: list[IngestRun]
    failures: list[str]
    unavailable: str | None = None

    def median(self, attr: str) -> float | None:
        """Return the median of a run attribute over the successful runs."""
        values = [v for v in (getattr(r, attr) for r in self.runs) if v is not None]
        return statistics.median(values) if values else None

    def median_shares(self) -> dict[str, float] | None:
        """Median share of the wall time per part of the agent's time split (None without a split)."""
        parts = sorted({p for r in self.runs for p in (r.time_split or {})})
        out = {}
        for part in parts:
            values = [v for v in (r.time_share(part) for r in self.runs) if v is not None]
            if values:
                out[part] = round(statistics.median(values), 3)
        return out or None

    def to_json(self) -> dict[str, Any]:
        """Serialise with the medians spelled out."""
        return {
            "shipper": self.shipper, "events": self.events, "unavailable": self.unavailable,
            "failures": self.failures, "runs": [asdict(r) for r in self.runs],
            "median": {
                "events_per_s": self.median("events_per_s"),
                "seconds": self.median("seconds"),
                "cpu_s_per_100k": self.median("cpu_s_per_100k"),
                "peak_rss_bytes": self.median("peak_rss_bytes"),
                "es_cpu_s_per_100k": _per_100k(self.median("es_cpu_seconds"), self.events),
                "node_cores_busy": self.median("node_cores_busy"),
                "time_shares": self.median_shares(),
            },
        }


def _per_100k(value: float | None, events: int) -> float | None:
    return None if value is None else value * 100_000 / events


def wait_searchable(cluster: Cluster, tiers: TierTable, expected: int, *, proc: ShipperProcess | None = None,
                    stall_s: float = 90.0, poll_s: float = 0.1) -> None:
    """Block until ``expected`` documents are searchable in ``tiers``' namespace.

    While the shipper writes, only the primaries' indexing statistics are read (``Cluster.indexed``): no
    forced refresh. Once they reach ``expected``, the namespace is refreshed and counted until the count
    is exact, as for the ceiling, which posts everything before its first count. Before this, the poll
    forced a refresh of every index each half-second of a shipper's run (on top of the scheduled one a
    second that both runs have), which cost the node small segments and their merges in shippers' runs
    only. What remains unlike the ceiling's run is the statistics read every ``poll_s``.

    Raises:
        RunFailed: when the progress stops for ``stall_s`` seconds, overshoots, or the process fails.
    """
    for writing, measure in ((True, cluster.indexed), (False, cluster.searchable)):
        last, last_change = -1, time.monotonic()
        while True:
            count = measure(tiers)
            # statistics above the count (a document indexed twice under one id) hand over to the exact count
            if count == expected or (writing and count > expected):
                break
            if count > expected:
                raise RunFailed(f"{count} documents for {expected} lines (duplicates)")
            now = time.monotonic()
            if count != last:
                last, last_change = count, now
            elif now - last_change > stall_s:
                raise RunFailed(f"stalled at {count}/{expected} for {stall_s:.0f}s")
            if proc is not None:
                code = proc.exit_code()
                if code not in (None, 0):
                    raise RunFailed(f"exited with {code} at {count}/{expected}: {proc.log_tail()}")
            time.sleep(poll_s)


def run_ceiling(cluster: Cluster, events: EventFile, batch_size: int, workers: int, *,
                agent_documents: bool = False) -> IngestRun:
    """Measure the ceiling once in a fresh namespace.

    Args:
        agent_documents: post the documents the agent makes of the lines (``CEILING_AGENT_DOCS``), not the lines.

    Returns:
        The run, named ``CEILING`` or ``CEILING_AGENT_DOCS``.
    """
    tiers = cluster.new_namespace("ceilingagent" if agent_documents else "ceiling")
    try:
        entries = agent_entries(events.path, tiers) if agent_documents else line_entries(events.path, tiers)
        bodies = bodies_of(entries, batch_size)
        es_before = cluster.cpu_millis()
        start = time.perf_counter()
        cpu = post_bodies(cluster.url, bodies, workers)
        wait_searchable(cluster, tiers, events.count)
        seconds = time.perf_counter() - start
        es_cpu = (cluster.cpu_millis() - es_before) / 1000
        return IngestRun(CEILING_AGENT_DOCS if agent_documents else CEILING, events.count, seconds, cpu, None, es_cpu)
    finally:
        cluster.drop_namespace(tiers)


def wait_idle(proc: ShipperProcess, *, settle_s: float = 1.0, timeout_s: float = 30.0) -> float:
    """Wait until a freshly started shipper stops burning CPU (startup done); return its CPU seconds so far.

    Raises:
        RunFailed: when the process exits during startup.
    """
    start = time.monotonic()
    prev = proc.usage().cpu_seconds
    while True:
        time.sleep(0.25)
        if proc.exit_code() is not None:
            raise RunFailed(f"exited with {proc.exit_code()} during startup: {proc.log_tail()}")
        now = proc.usage().cpu_seconds
        elapsed = time.monotonic() - start
        if (now - prev < 0.005 and elapsed >= settle_s) or elapsed > timeout_s:
            return now
        prev = now


def run_shipper(cluster: Cluster, launcher: Launcher, events: EventFile, batch_size: int, work_dir: Path) -> IngestRun:
    """Measure one shipper once: fresh namespace and state, clock from the file's arrival to all searchable.

    A tailing shipper is started first on an empty folder and left to finish starting up; then the complete
    file is renamed into the folder (atomically, via a hard link of the shared event file) and the clock
    starts, so interpreter start-up is neither timed nor counted as CPU (it is recorded separately).
    A one-shot reader is timed from its start, start-up included (that is what running it costs).
    """
    tiers = cluster.new_namespace(launcher.name)
    state = work_dir / f"state-{tiers.prefix}"
    shutil.rmtree(state, ignore_errors=True)
    inbox = state / "in"
    inbox.mkdir(parents=True)
    paths = (str(inbox / "*.jsonl"),) if launcher.tails else (str(events.path),)
    target = ShipTarget(es_url=cluster.url, tiers=tiers, paths=paths, state_dir=state / "state",
                        batch_size=batch_size)
    target.state_dir.mkdir()
    proc = ShipperProcess(launcher.command(target), log_path=state / "shipper.log")
    try:
        startup_cpu: float | None = None
        url: str | None = None
        parts_before: dict[str, float] = {}
        if launcher.tails:
            staged = state / "audit.jsonl"
            os.link(events.path, staged)
            proc.start()
            startup_cpu = wait_idle(proc)
            url = agent_split.metrics_url(proc.log_path)
            parts_before = agent_split.scrape_parts(url) if url else {}
            es_before = cluster.cpu_millis()
            start = time.perf_counter()
            staged.rename(inbox / staged.name)
        else:
            es_before = cluster.cpu_millis()
            start = time.perf_counter()
            proc.start()
        wait_searchable(cluster, tiers, events.count, proc=proc)
        seconds = time.perf_counter() - start
        use = proc.usage()
        es_cpu = (cluster.cpu_millis() - es_before) / 1000
        split = agent_split.difference(parts_before, agent_split.scrape_parts(url)) if url else None
        return IngestRun(launcher.name, events.count, seconds, use.cpu_seconds - (startup_cpu or 0.0),
                         use.peak_rss_bytes, es_cpu, startup_cpu, split)
    finally:
        proc.stop()
        cluster.drop_namespace(tiers)
        shutil.rmtree(state, ignore_errors=True)


def ingest_suite(cluster: Cluster, files: Sequence[EventFile], launchers: Sequence[Launcher], *,
                 repeats: dict[int, int], batch_size: int, ceiling_workers: int, work_dir: Path,
                 log: Log = print, summaries: list[IngestSummary] | None = None) -> list[IngestSummary]:
    """Run the ceiling and every available shipper ``repeats[size]`` times at each size.

    Args:
        summaries: list to fill as runs complete (so an interrupted suite keeps what it measured).

    Returns:
        One summary per (size, shipper), ceiling first.
    """
    summaries = [] if summaries is None else summaries
    for events in files:
        row = [IngestSummary(CEILING, events.count, [], []), IngestSummary(CEILING_AGENT_DOCS, events.count, [], [])]
        row += [IngestSummary(x.name, events.count, [], [], x.unavailable()) for x in launchers]
        summaries.extend(row)
        times = repeats[events.count]
        for rep in range(times):
            for summary in row:
                if summary.unavailable:
                    continue
                log(f"ingest {events.count:>9,} events  {summary.shipper:<28} run {rep + 1}/{times}")
                try:
                    if summary.shipper in (CEILING, CEILING_AGENT_DOCS):
                        run = run_ceiling(cluster, events, batch_size, ceiling_workers,
                                          agent_documents=summary.shipper == CEILING_AGENT_DOCS)
                    else:
                        launcher = next(x for x in launchers if x.name == summary.shipper)
                        run = run_shipper(cluster, launcher, events, batch_size, work_dir)
                except RunFailed as exc:
                    summary.failures.append(str(exc))
                    log(f"    FAILED: {exc}")
                    continue
                summary.runs.append(run)
                log(f"    {run.events_per_s:>10,.0f} ev/s  {run.seconds:7.1f} s  cpu/100k "
                    f"{_fmt(run.cpu_s_per_100k)} s  rss {_fmt_mib(run.peak_rss_bytes)}")
    return summaries


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _fmt_mib(value: int | None) -> str:
    return "-" if value is None else f"{value / 2**20:.0f} MiB"
