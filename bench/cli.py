"""``python -m bench``: run the benchmarks, print the tables, write the results and the docs page.

Usage:
    python -m bench                  # full run: 10k/100k/1M events, 3 repetitions (2 at 1M), every benchmark
    python -m bench --quick          # sanity run: 20k events, 2 repetitions, short chaos scenarios
    python -m bench --only ingest,emitter --size 200000
    python -m bench --only nodeloss  # a three-node cluster loses its busiest node under load (200k events)

Ingest runs twice: with the node and the shippers sharing every core (as on one machine), then at the largest
size with the node pinned to its own cores and the shippers to another (``bench/affinity.py``).

The Elasticsearch node is ``AUDITLOG_BENCH_ES_URL`` when set, otherwise a dedicated node started for the
run (``indexer.es_node``). Results go to ``bench/results/<date>[-quick].{md,json}``; ``docs/benchmarks.md``
and ``docs/benchmarks.png`` are regenerated from the run (``--no-docs`` leaves them alone).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from auditlog.indexer.tiers import TierTable
from bench import bigscale, emitter_cost, ingest, node_loss, reliability, scale, stage_cost, tui_latency
from bench.affinity import split_cores
from bench.cluster import BENCH_URL_ENV, open_cluster
from bench.events import EventFile, default_window, write_events
from bench.machine import machine, versions
from bench.neighbour import cpu_neighbours
from bench.report import render, write_outputs
from bench.shippers.agent import AgentLauncher
from bench.shippers.base import Launcher
from bench.shippers.filebeat import FilebeatLauncher
from bench.shippers.naive import NaiveLauncher
from bench.shippers.rsyslog import RsyslogLauncher
from bench.shippers.syslog_ng import SyslogNgLauncher

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = ("ingest", "reliability", "nodeloss", "scale", "bigscale", "emitter", "tui")


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fast sanity run (20k events, 2 repetitions)")
    parser.add_argument("--size", type=int, help="largest ingest size in events (default 1,000,000; quick 20,000)")
    parser.add_argument("--repeat", type=int, help="repetitions per measurement, medians reported (default 3)")
    parser.add_argument("--repeat-largest", type=int,
                        help="ingest repetitions at the largest size (default: --repeat, but 2 from 500k events)")
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(BENCHMARKS)}")
    parser.add_argument("--batch-size", type=int, default=2000, help="events per _bulk request for every shipper")
    parser.add_argument("--ceiling-workers", type=int, default=2, help="parallel connections of the ceiling")
    parser.add_argument("--work-dir", type=Path, help="scratch folder for event files and state (default /var/tmp)")
    parser.add_argument("--results-dir", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/benchmarks.md and its plot")
    parser.add_argument("--es-heap", default="2g", help="heap of a node started for the run")
    parser.add_argument("--slow-cores", action="store_true",
                        help="run the ingest benchmarks beside one CPU-burning neighbour per core (about half-speed "
                             "cores for the node and the shippers: the slow-machine case, reproducible)")
    return parser


def _selected(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[str]:
    if not args.only:
        return list(BENCHMARKS)
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in BENCHMARKS]
    if unknown or not chosen:
        parser.error(f"--only: unknown benchmark(s) {', '.join(unknown) or repr(args.only)} "
                     f"(known: {', '.join(BENCHMARKS)})")
    return chosen


def check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse bad flags before anything runs, one line and exit 2 (a run takes hours; failing at its end loses it).

    The work folder must exist (its scratch subfolder is made and removed inside it); the results folder
    is created when missing, so an unwritable one is found now rather than after the run.
    """
    for flag, value in (("--repeat", args.repeat), ("--repeat-largest", args.repeat_largest)):
        if value is not None and value < 1:
            parser.error(f"{flag} must be >= 1, got {value}")
    if args.size is not None and args.size < 1000:
        parser.error(f"--size must be >= 1000, got {args.size}")
    for flag, value in (("--batch-size", args.batch_size), ("--ceiling-workers", args.ceiling_workers)):
        if value < 1:
            parser.error(f"{flag} must be >= 1, got {value}")
    if not re.fullmatch(r"[1-9]\d*[kmgKMG]", args.es_heap):
        parser.error(f"--es-heap must be a size like 512m or 2g, got {args.es_heap!r}")
    if args.work_dir is not None and not args.work_dir.is_dir():
        parser.error(f"--work-dir {args.work_dir}: not an existing folder")
    if args.work_dir is not None and not os.access(args.work_dir, os.W_OK | os.X_OK):
        parser.error(f"--work-dir {args.work_dir}: not writable")
    try:
        args.results_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        parser.error(f"--results-dir {args.results_dir}: cannot create it ({exc.strerror or exc})")
    if not os.access(args.results_dir, os.W_OK):
        parser.error(f"--results-dir {args.results_dir}: not writable")


def sizes_for(largest: int) -> list[int]:
    """Return the input sizes of the scale series: largest/100, largest/10 and largest (at least 1,000)."""
    return sorted({max(1000, largest // 100), max(1000, largest // 10), largest})


def log(message: str) -> None:
    """Print a progress line with the wall-clock time."""
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


NODE_BENCHMARKS = ("ingest", "reliability", "scale", "bigscale", "tui")


def node_benchmarks(args: argparse.Namespace, selected: list[str], results: dict[str, Any], work_dir: Path) -> None:
    """Run the benchmarks that need Elasticsearch, filling ``results``."""
    settings = results["settings"]
    sizes, repeats, largest = settings["sizes"], settings["repeats"], settings["sizes"][-1]
    launchers: list[Launcher] = [AgentLauncher(), RsyslogLauncher(), SyslogNgLauncher(),
                                 FilebeatLauncher(preset="throughput"), FilebeatLauncher(), NaiveLauncher()]
    with open_cluster(heap=args.es_heap) as cluster:
        settings["es"] = (f"{BENCH_URL_ENV}={cluster.url}" if not cluster.started_here
                          else f"dedicated node started for the run ({cluster.url})")
        results["versions"]["elasticsearch_node"] = cluster.version()
        for launcher in launchers:
            results["versions"][launcher.name] = launcher.version() if not launcher.unavailable() else "-"
        files: dict[int, EventFile] = {}
        window = default_window(datetime.fromisoformat(results["started"]))

        def events(count: int) -> EventFile:
            if count not in files:
                log(f"writing {count:,} events")
                files[count] = write_events(work_dir / "data" / str(count) / "audit.jsonl", count, window=window)
            return files[count]

        every_core = os.sched_getaffinity(0)

        def run_ingest() -> None:
            with slowed():
                run_shared_ingest()

        def slowed() -> contextlib.AbstractContextManager[object]:
            if not args.slow_cores:
                return contextlib.nullcontext()
            settings["slow_cores"] = "one busy-looping neighbour process per core during the ingest runs"
            return cpu_neighbours(every_core)  # also in the split run, where this process is pinned to one core

        def run_shared_ingest() -> None:
            ingest_files = [events(n) for n in sizes]
            settings["events_source"] = ingest_files[-1].source
            settings["mean_line_bytes"] = round(ingest_files[-1].mean_line_bytes, 1)
            live: list[ingest.IngestSummary] = []
            try:
                ingest.ingest_suite(cluster, ingest_files, launchers,
                                    repeats={n: settings["repeats_by_size"][str(n)] for n in sizes},
                                    batch_size=args.batch_size, ceiling_workers=args.ceiling_workers,
                                    work_dir=work_dir, log=log, summaries=live)
            finally:
                results["ingest"] = [s.to_json() for s in live]

        def run_split_ingest() -> None:
            pid = cluster.local_pid()
            split: dict[str, Any] = {"summaries": []}
            results["ingest_split"] = split
            if pid is None:
                split["unavailable"] = "the node does not run on this machine (cannot pin it)"
                return
            live: list[ingest.IngestSummary] = []
            try:
                with split_cores(pid) as (node_cores, shipper_cores), slowed():
                    split.update(node_cores=sorted(node_cores), shipper_cores=sorted(shipper_cores))
                    log(f"ingest with the node on cores {sorted(node_cores)}, shippers on {sorted(shipper_cores)}")
                    ingest.ingest_suite(cluster, [events(largest)], launchers,
                                        repeats={largest: settings["repeats_by_size"][str(largest)]},
                                        batch_size=args.batch_size, ceiling_workers=args.ceiling_workers,
                                        work_dir=work_dir, log=log, summaries=live)
            finally:
                split["summaries"] = [s.to_json() for s in live]

        def tui_bench(tiers: TierTable, tenant: str, count: int) -> None:
            def run() -> None:
                results["tui"] = tui_latency.run(cluster, tiers, events=count, tenant=tenant,
                                                 repeats=max(10, repeats * 5), work_dir=work_dir, log=log)

            guarded(results, "tui", run)

        def run_scale() -> None:
            scale.run(cluster, [events(n) for n in sizes], repeats=max(5, repeats * 3), batch_size=args.batch_size,
                      work_dir=work_dir, log=log, on_largest=tui_bench if "tui" in selected else None,
                      into=results.setdefault("scale", {}))

        def run_tui_alone() -> None:
            loaded = scale.load(cluster, events(largest), args.batch_size, "tui")
            try:
                tui_bench(loaded, scale.sample_tenant(events(largest)), largest)
            finally:
                cluster.drop_namespace(loaded)

        def run_reliability() -> None:
            reliability.run(cluster, launchers, quick=args.quick, batch_size=args.batch_size, work_dir=work_dir,
                            log=log, into=results.setdefault("reliability", {}))

        if "ingest" in selected or "scale" in selected:
            guarded(results, "ingest", run_ingest)
        if "ingest" in selected:
            guarded(results, "ingest_split", run_split_ingest)
        if "scale" in selected:
            guarded(results, "scale", run_scale)
        elif "tui" in selected:
            guarded(results, "tui", run_tui_alone)
        if "reliability" in selected:
            guarded(results, "reliability", run_reliability)
        if "bigscale" in selected:
            def run_bigscale() -> None:
                big_sizes = (20_000, 200_000) if args.quick else (1_000_000, 10_000_000)
                bigscale.run(cluster, sizes=big_sizes, repeats=max(10, repeats * 5), work_dir=work_dir, log=log,
                             into=results.setdefault("bigscale", {}))

            guarded(results, "bigscale", run_bigscale)


def guarded(results: dict[str, Any], name: str, run: Callable[[], None]) -> None:
    """Run one benchmark; a harness or product error is recorded in the results instead of ending the run."""
    try:
        run()
    except Exception as exc:
        results.setdefault("errors", {})[name] = f"{type(exc).__name__}: {exc}"[:1000]
        log(f"{name} FAILED: {type(exc).__name__}: {exc}")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the selected benchmarks and write the results.

    SIGINT and SIGTERM stop the run cleanly: children and a node started here are stopped, and what was
    measured so far is written (marked as interrupted).

    Returns:
        0 when the selected benchmarks ran (parts not built yet are reported in the results, not errors).
    """
    signal.signal(signal.SIGINT, _interrupt)  # also when started in the background, where SIGINT is ignored
    signal.signal(signal.SIGTERM, _interrupt)
    parser = build_parser()
    args = parser.parse_args(argv)
    check_args(parser, args)
    selected = _selected(parser, args)
    largest = args.size or (20_000 if args.quick else 1_000_000)
    repeats = args.repeat or (2 if args.quick else 3)
    sizes = sizes_for(largest)
    at_largest = args.repeat_largest or (min(repeats, 2) if largest >= 500_000 else repeats)
    by_size = {str(n): (at_largest if n == largest else repeats) for n in sizes}
    started = datetime.now(UTC)
    work_dir = Path(tempfile.mkdtemp(prefix="auditlog-bench-", dir=args.work_dir or "/var/tmp"))
    results: dict[str, Any] = {
        "schema": 1,
        "mode": "quick" if args.quick else "full",
        "argv": list(sys.argv[1:] if argv is None else argv),
        "started": started.isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": versions(REPO),
        "settings": {"sizes": sizes, "repeats": repeats, "repeats_by_size": by_size, "batch_size": args.batch_size,
                     "ceiling_workers": args.ceiling_workers, "benchmarks": selected},
    }
    log(f"benchmarks {', '.join(selected)}; sizes {sizes}; repetitions {by_size}; work dir {work_dir}")
    try:
        if "emitter" in selected:
            def run_emitter() -> None:
                results["emitter"] = emitter_cost.run(events=20_000 if args.quick else 100_000,
                                                      repeats=max(3, repeats), work_dir=work_dir, log=log)

            guarded(results, "emitter", run_emitter)

            def run_agent_lines() -> None:
                results["agent_lines"] = stage_cost.run(events=20_000 if args.quick else 100_000,
                                                        repeats=max(3, repeats), log=log)

            guarded(results, "agent_lines", run_agent_lines)
        if any(name in selected for name in NODE_BENCHMARKS):
            node_benchmarks(args, selected, results, work_dir)
        if "nodeloss" in selected:
            # a three-node cluster of its own, started after the single bench node is gone
            def run_node_loss() -> None:
                results["settings"].setdefault("es", "a three-node cluster started for the node-loss run")
                node_loss.run(node_loss.NodeLossParams.for_mode(args.quick), work_dir, log=log,
                              into=results.setdefault("nodeloss", {}))

            guarded(results, "nodeloss", run_node_loss)
    except KeyboardInterrupt:
        results["interrupted"] = True
        log("interrupted: writing what was measured so far")
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    finished = datetime.now(UTC)
    results["finished"] = finished.isoformat(timespec="seconds")
    results["duration_s"] = round((finished - started).total_seconds(), 1)
    print(render(results), flush=True)
    paths = write_outputs(results, results_dir=args.results_dir, docs_dir=None if args.no_docs else REPO / "docs",
                          repo=REPO)
    for path in paths:
        log(f"wrote {os.path.relpath(path, REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
