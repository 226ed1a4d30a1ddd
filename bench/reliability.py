"""Benchmark 2: reliability as numbers. Events lost and duplicated per shipper under four scenarios.

Each scenario writes the same events to a live file at a steady rate while the shipper runs, then waits
until the shipper stops making progress and compares every ``event.id`` in Elasticsearch with the lines
written (a full point-in-time scan, so duplicates with different ``_id`` would be seen too):

- ``kill9``: the shipper is SIGKILLed N times at random moments (while writing and while catching up) and
  restarted at once with the same state;
- ``outage``: Elasticsearch becomes unreachable for M seconds in the middle of the load (a proxy in front of
  the node refuses and resets connections); the shipper's RSS is sampled before, during and after;
- ``rename``: logrotate-style rename + create every K lines (the old file is only reachable through an
  already open descriptor);
- ``copytruncate``: copy + truncate every K lines (the classic lossy rotation; measures the loss window);
- ``rename*`` / ``copytruncate*``: the same rotations with the shipper told to read ``audit.jsonl*`` (the live
  file and its rotated copies), the usual Filebeat-style configuration;
- ``copytruncate@midnight``: copytruncate on the live path while the events' timestamps cross the next UTC
  midnight at the pace they are written (the day's first events go to the new day's indices mid-run), the
  indices of both days created ahead as production does (``indexer.ahead``): a stall at the day's first
  write would show here as lines lost to the truncation.

The plain rotation scenarios give the shipper the live file's path only: a file rotated away before the
shipper opened it is then never read, so they measure how quickly new files are picked up.

Only shippers that tail files (the agent, rsyslog) take part; the ceiling and the one-shot reader have no
notion of a live file.
"""

from __future__ import annotations

import random
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from elasticsearch import Elasticsearch

from auditlog.indexer.tiers import TierTable
from bench.cluster import Cluster
from bench.events import event_lines
from bench.fidelity import FidelityTally
from bench.procstat import current_rss_bytes
from bench.proxy import CuttableProxy
from bench.shippers.base import Launcher, ShipperProcess, ShipTarget

Log = Callable[[str], None]
MIDNIGHT = "copytruncate@midnight"
SCENARIOS = ("kill9", "outage", "rename", "copytruncate", "rename*", "copytruncate*", MIDNIGHT)


@dataclass(frozen=True)
class Params:
    """Sizes of the scenarios."""

    events: int
    rate: int
    kills: int
    outage_s: float
    rotate_every: int
    settle_s: float

    @classmethod
    def for_mode(cls, quick: bool) -> Params:
        """Short scenarios for ``--quick``, the issue's sizes otherwise."""
        if quick:
            return cls(events=20_000, rate=5_000, kills=3, outage_s=5, rotate_every=2_000, settle_s=20)
        return cls(events=100_000, rate=10_000, kills=20, outage_s=30, rotate_every=5_000, settle_s=30)


class Writer(threading.Thread):
    """Appends lines to a live file at a steady rate, rotating it as the scenario asks."""

    def __init__(self, lines: Sequence[bytes], path: Path, rate: int, rotate: str | None, rotate_every: int) -> None:
        super().__init__(name="bench-writer", daemon=True)
        self.lines, self.path, self.rate = lines, path, rate
        self.rotate, self.rotate_every = rotate, rotate_every
        self.written = 0
        self.rotations = 0

    def run(self) -> None:
        """Write everything in chunks of 250 lines, sleeping to hold the rate."""
        start = time.monotonic()
        out = self.path.open("ab")
        try:
            for begin in range(0, len(self.lines), 250):
                chunk = self.lines[begin:begin + 250]
                out.write(b"".join(chunk))
                out.flush()
                self.written += len(chunk)
                if self.rotate and self.written % self.rotate_every < len(chunk):
                    out = self._rotate(out)
                ahead = self.written / self.rate - (time.monotonic() - start)
                if ahead > 0:
                    time.sleep(ahead)
        finally:
            out.close()

    def _rotate(self, out: Any) -> Any:
        self.rotations += 1
        rotated = self.path.with_name(f"{self.path.name}.{self.rotations}")
        if self.rotate == "rename":
            out.close()
            self.path.rename(rotated)
            return self.path.open("ab")
        shutil.copyfile(self.path, rotated)
        out.truncate(0)  # O_APPEND: the next write lands at the new end
        return out


def scan_ids(client: Elasticsearch, pattern: str, written: dict[str, bytes] | None = None,
             tally: FidelityTally | None = None) -> Counter[str]:
    """Return how often each ``event.id`` occurs in ``pattern`` (full point-in-time scan).

    Args:
        client: the cluster.
        pattern: the indices to scan.
        written: ``event.id`` -> the line written; when given, each document is compared with its line.
        tally: filled with the documents that differ from their line and how (``bench.fidelity``).
    """
    seen: Counter[str] = Counter()
    client.options(ignore_status=404).indices.refresh(index=pattern, allow_no_indices=True)
    if int(client.count(index=pattern, allow_no_indices=True)["count"]) == 0:
        return seen
    pit = client.open_point_in_time(index=pattern, keep_alive="2m")["id"]
    after = None
    try:
        while True:
            body: dict[str, Any] = {"size": 10_000, "sort": [{"_shard_doc": "asc"}],
                                    "_source": True if written is not None else ["event.id"],
                                    "pit": {"id": pit, "keep_alive": "2m"}, "track_total_hits": False}
            if after is not None:
                body["search_after"] = after
            hits = client.search(body=body)["hits"]["hits"]
            for hit in hits:
                event_id = str(hit["_source"].get("event", {}).get("id") or f"_id:{hit['_id']}")
                seen[event_id] += 1
                if written is not None and tally is not None and event_id in written:
                    tally.add(orjson.loads(written[event_id]), hit["_source"])
            if len(hits) < 10_000:
                return seen
            after = hits[-1]["sort"]
    finally:
        client.close_point_in_time(id=pit)


def settle(cluster: Cluster, tiers: TierTable, expected: int, quiet_s: float) -> tuple[int, float]:
    """Wait until ``expected`` documents are searchable or the count stops moving for ``quiet_s``.

    Returns:
        The last count and the seconds waited.
    """
    start = last_change = time.monotonic()
    last = -1
    while True:
        count = cluster.searchable(tiers)
        now = time.monotonic()
        if count >= expected:
            return count, now - start
        if count != last:
            last, last_change = count, now
        elif now - last_change > quiet_s:
            return count, now - start
        time.sleep(0.5)


def midnight_window(params: Params, now: datetime | None = None) -> tuple[datetime, datetime]:
    """Event times for the midnight scenario: the writing time centred on the next UTC midnight."""
    now = now or datetime.now(UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    half = timedelta(seconds=params.events / params.rate / 2)
    return midnight - half, midnight + half


def run_scenario(cluster: Cluster, launcher: Launcher, scenario: str, lines: Sequence[bytes], ids: set[str],
                 params: Params, batch_size: int, work_dir: Path, seed: int = 11,
                 ahead: tuple[datetime, datetime] | None = None) -> dict[str, Any]:
    """Run one scenario against one shipper and count lost / duplicated / altered events.

    Args:
        ahead: first and last event time whose days' indices are created before the run (default: the
            bench's event window).
    """
    written = {str(orjson.loads(line)["event"]["id"]): line for line in lines}
    tiers = cluster.new_namespace(f"rel{scenario.rstrip('*')}", ahead)
    root = work_dir / f"rel-{tiers.prefix}"
    data = root / "in"
    data.mkdir(parents=True)
    live = data / "audit.jsonl"
    live.touch()
    proxy = CuttableProxy(cluster.url).start() if scenario == "outage" else None
    rotate = scenario.rstrip("*").split("@")[0] if scenario.startswith(("rename", "copytruncate")) else None
    paths = (str(live) + ("*" if scenario.endswith("*") else ""),)
    target = ShipTarget(es_url=proxy.url if proxy else cluster.url, tiers=tiers, paths=paths,
                        state_dir=root / "state", batch_size=batch_size)
    target.state_dir.mkdir(parents=True)
    argv = launcher.command(target)
    log_path = root / "shipper.log"
    proc = ShipperProcess(argv, log_path=log_path)
    writer = Writer(lines, live, params.rate, rotate, params.rotate_every)
    result: dict[str, Any] = {"shipper": launcher.name, "scenario": scenario, "written": len(lines)}
    try:
        proc.start()
        writer.start()
        duration = len(lines) / params.rate
        if scenario == "kill9":
            rnd = random.Random(seed)
            moments = sorted(rnd.uniform(0.05, 1.3) * duration for _ in range(params.kills))
            began = time.monotonic()
            for moment in moments:
                time.sleep(max(0.0, moment - (time.monotonic() - began)))
                proc.kill9()
                proc = ShipperProcess(argv, log_path=log_path)
                proc.start()
            result["kills"] = len(moments)
        elif scenario == "outage" and proxy is not None:
            time.sleep(duration / 3)
            before = current_rss_bytes(proc.pid)
            proxy.cut()
            samples = []
            end = time.monotonic() + params.outage_s
            while time.monotonic() < end:
                samples.append(current_rss_bytes(proc.pid))
                time.sleep(1)
            proxy.restore()
            result.update(outage_s=params.outage_s, rss_before_bytes=before, rss_max_during_bytes=max(samples),
                          rss_after_bytes=current_rss_bytes(proc.pid))
        writer.join()
        result["rotations"] = writer.rotations
        _, waited = settle(cluster, tiers, len(lines), params.settle_s)
        result["settle_s"] = round(waited, 1)
        if proc.exit_code() not in (None, 0):
            result["note"] = f"shipper exited with {proc.exit_code()}: {proc.log_tail(400)}"
        tally = FidelityTally()
        seen = scan_ids(cluster.client, tiers.read_pattern, written, tally)
        result.update(
            altered=tally.altered,
            altered_kinds=tally.top(),
            documents=sum(seen.values()),
            lost=len(ids - set(seen)),
            duplicated=sum(n - 1 for n in seen.values() if n > 1),
            unexpected=len(set(seen) - ids),
        )
        return result
    finally:
        proc.stop()
        if writer.is_alive():
            writer.join()
        if proxy is not None:
            proxy.close()
        cluster.drop_namespace(tiers)
        shutil.rmtree(root, ignore_errors=True)


def run(cluster: Cluster, launchers: Sequence[Launcher], *, quick: bool, batch_size: int, work_dir: Path,
        log: Log = print, into: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run every scenario against every tailing shipper that is available.

    Args:
        into: dict to fill as scenarios complete (an interrupted run keeps what it measured).

    Returns:
        ``{"params": ..., "results": [...], "unavailable": {shipper: reason}}``.
    """
    params = Params.for_mode(quick)
    lines = list(event_lines(params.events, seed=23))
    ids = {str(orjson.loads(line)["event"]["id"]) for line in lines}
    window = midnight_window(params)
    night = list(event_lines(params.events, seed=29, window=window))
    night_ids = {str(orjson.loads(line)["event"]["id"]) for line in night}
    results: list[dict[str, Any]] = []
    unavailable: dict[str, str] = {}
    report = {} if into is None else into
    report.update(params=params.__dict__, results=results, unavailable=unavailable)
    for launcher in launchers:
        if not launcher.tails:
            continue
        reason = launcher.unavailable()
        if reason:
            unavailable[launcher.name] = reason
            continue
        for scenario in SCENARIOS:
            log(f"reliability {launcher.name:<16} {scenario:<13} {params.events:,} events")
            if scenario == MIDNIGHT:
                outcome = run_scenario(cluster, launcher, scenario, night, night_ids, params, batch_size, work_dir,
                                       ahead=window)
            else:
                outcome = run_scenario(cluster, launcher, scenario, lines, ids, params, batch_size, work_dir)
            log(f"    lost {outcome['lost']:,}  duplicated {outcome['duplicated']:,}  "
                f"documents {outcome['documents']:,}/{outcome['written']:,}")
            results.append(outcome)
    return report
