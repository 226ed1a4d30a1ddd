"""Node loss under load: the agent ships into a three-node cluster whose busiest node is SIGKILLed.

The scenario (``run_scenario``), shared by ``tests/integration/test_agent_node_loss.py`` (CI size) and
``python -m bench --only nodeloss`` (full size):

1. a local three-node cluster (``indexer.es_cluster``, the code behind ``auditlog es start --nodes 3``);
   ``auditlog setup``'s own ``run_setup`` installs the namespace (so one replica per class) and the
   event window's daily indices are created ahead;
2. ``auditlog agent`` is given all three node URLs and ships a live file that a writer appends to at a
   steady rate;
3. once a third of the lines are written and a sixth delivered, the node holding the most started primary
   shards is SIGKILLed;
   while it is down the query layer the TUI uses (``Pager`` first page, ``facet_counts``) and
   ``auditlog export`` are run against the cluster (every URL, the dead one included) and timed;
4. after ``down_s`` the node is started again (same data) and rejoins; the writer finishes;
5. when every line is delivered (or nothing moves for ``settle_s``), every ``event.id`` in the namespace is
   counted (point-in-time scan) and the agent's dead-letter file is read.

Delivery is followed through the agent's own ``/metrics`` (201 created + 409 duplicate = delivered), sampled
every 0.2 s: the longest stall is the longest time without delivery progress while lines were waiting (over
the whole run, and from the kill on, which is the part the lost node can cause), the
catch-up the time from the writer's last line until the last one was delivered (0 when the agent kept up).
The agent's own counts of items re-sent and of 409 answers (re-sent events Elasticsearch already held) say
how it got there.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from elasticsearch import Elasticsearch

from auditlog.indexer.ahead import create_ahead
from auditlog.indexer.es_cluster import ClusterConfig, LocalCluster
from auditlog.indexer.es_node import free_port
from auditlog.indexer.query.facets import facet_counts
from auditlog.indexer.query.filter import Filter
from auditlog.indexer.query.pager import Pager
from auditlog.indexer.setup import run_setup
from auditlog.indexer.tiers import TierTable
from bench.cluster import delete_prefix
from bench.events import default_window, event_lines
from bench.reliability import Writer, scan_ids

Log = Callable[[str], None]
NODES = 3


@dataclass(frozen=True)
class NodeLossParams:
    """Sizes of one run."""

    events: int
    rate: int
    down_s: float
    settle_s: float = 60.0

    @classmethod
    def for_mode(cls, quick: bool) -> NodeLossParams:
        """The CI size for ``--quick``, the issue's 200k events otherwise."""
        if quick:
            return cls(events=20_000, rate=800, down_s=10.0)
        return cls(events=200_000, rate=2_000, down_s=30.0)


@dataclass(frozen=True)
class Probe:
    """One read made while the node was down: what, whether it answered, how long it took."""

    what: str
    ok: bool
    seconds: float
    detail: str


@dataclass
class NodeLossResult:
    """What one run measured."""

    events: int
    rate: int
    written: int = 0
    documents: int = 0
    lost: int = 0
    duplicated: int = 0
    dead_letters: int = 0
    killed_node: str = ""
    primaries_before: dict[str, int] = field(default_factory=dict)
    replicas: dict[str, int] = field(default_factory=dict)
    node_down_s: float = 0.0
    longest_stall_s: float = 0.0
    stall_began_after_kill_s: float | None = None
    longest_stall_after_kill_s: float = 0.0
    catch_up_s: float = 0.0
    duplicates_answered: int = 0
    items_retried: int = 0
    duration_s: float = 0.0
    probes: list[Probe] = field(default_factory=list)
    agent_exit: int | None = None
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        """Return the result as plain JSON data."""
        return asdict(self)


class DeliveryWatch(threading.Thread):
    """Samples the agent's delivered count (created + duplicate) and the writer's count every 0.2 s."""

    def __init__(self, metrics_port: int, writer: Writer) -> None:
        super().__init__(name="delivery-watch", daemon=True)
        self.url = f"http://127.0.0.1:{metrics_port}/metrics"
        self.writer = writer
        self.samples: list[tuple[float, int, int]] = []  # (monotonic, written, delivered)
        self._halt = threading.Event()

    def counters(self) -> dict[str, int] | None:
        """Return the agent's unlabelled counters now (``None`` while its endpoint does not answer)."""
        try:
            text = urllib.request.urlopen(self.url, timeout=2).read().decode()
        except OSError:
            return None
        return {line.split(" ", 1)[0]: int(float(line.rsplit(" ", 1)[1])) for line in text.splitlines()
                if line.startswith("auditlog_agent_") and "{" not in line}

    def delivered(self) -> int | None:
        """Return the agent's delivered events now: created (201) + duplicate (409)."""
        counters = self.counters()
        if counters is None:
            return None
        return counters.get("auditlog_agent_events_shipped_total", 0) + counters.get(
            "auditlog_agent_events_duplicate_total", 0)

    def run(self) -> None:
        while not self._halt.is_set():
            delivered = self.delivered()
            if delivered is not None:
                self.samples.append((time.monotonic(), self.writer.written, delivered))
            self._halt.wait(0.2)

    def stop(self) -> None:
        """End sampling."""
        self._halt.set()
        self.join(5)

    def longest_stall(self, after: float | None = None) -> tuple[float, float | None]:
        """Return the longest time without delivery progress while written lines waited, and when it began.

        Args:
            after: only count samples from this moment on (``None``: the whole run).
        """
        longest, began, since = 0.0, None, None
        last = -1
        for moment, written, delivered in self.samples:
            if after is not None and moment < after:
                continue
            if delivered != last or delivered >= written:
                since = moment if delivered < written else None
                last = delivered
                continue
            if since is None:
                since = moment
            if moment - since > longest:
                longest, began = moment - since, since
        return longest, began

    def written_at(self, total: int) -> float | None:
        """Return when the writer had written ``total`` lines (``None``: never)."""
        return next((moment for moment, written, _d in self.samples if written >= total), None)

    def caught_up_at(self, total: int) -> float | None:
        """Return when ``total`` events had been delivered (``None``: never)."""
        return next((moment for moment, _w, delivered in self.samples if delivered >= total), None)


def agent_config(path: Path, *, urls: list[str], prefix: str, log_path: Path, state: Path, metrics_port: int) -> Path:
    """Write the agent's TOML: every node's URL, the namespace, metrics on ``metrics_port``."""
    path.write_text(
        "# written by bench/node_loss.py\n"
        f"[inputs]\npaths = [{orjson.dumps(str(log_path)).decode()}]\n\n"
        f"[state]\ndir = {orjson.dumps(str(state)).decode()}\n\n"
        f"[elasticsearch]\nurl = {orjson.dumps(','.join(urls)).decode()}\n"
        f"index_prefix = {orjson.dumps(prefix).decode()}\nrequest_timeout = 30.0\n\n"
        f"[metrics]\nport = {metrics_port}\n"
    )
    return path


def _timed(what: str, call: Callable[[], str]) -> Probe:
    start = time.monotonic()
    try:
        detail = call()
    except Exception as exc:  # a probe reports any failure as its answer
        return Probe(what, False, round(time.monotonic() - start, 3), f"{type(exc).__name__}: {exc}"[:300])
    return Probe(what, True, round(time.monotonic() - start, 3), detail)


def probe_reads(urls: list[str], tiers: TierTable, tenant: str, work_dir: Path) -> list[Probe]:
    """Run the TUI's first page and facets and an export, each through every node URL, and time them."""
    from auditlog.indexer.client import ConnectionSettings, make_client

    client = make_client(ConnectionSettings(url=",".join(urls), request_timeout=30.0))

    def first_page() -> str:
        with Pager(client, tiers, Filter(), page_size=100) as pager:
            page = pager.page(0)
            return f"{len(page.hits)} hits of {page.total}"

    def facets() -> str:
        counts = facet_counts(client, tiers, Filter())
        return f"{counts.total} events"

    def export() -> str:
        out = work_dir / "during-outage.xlsx"
        done = subprocess.run(
            [sys.executable, "-m", "auditlog.cli", "export", "--es", ",".join(urls), "--prefix", tiers.prefix,
             "--tenant", tenant, "-o", str(out)],
            capture_output=True, text=True, timeout=300, check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"exit {done.returncode}: {done.stderr.strip()[-300:]}")
        return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else f"{out.stat().st_size} bytes"

    try:
        return [_timed("tui first page", first_page), _timed("tui facets", facets), _timed("export", export)]
    finally:
        client.close()


def run_scenario(cluster: LocalCluster, params: NodeLossParams, work_dir: Path, log: Log = print) -> NodeLossResult:
    """Run the scenario once against a running cluster (see the module docs).

    Args:
        cluster: a started three-node cluster without security; the killed member is running again at the end.
        params: sizes.
        work_dir: scratch folder (the live file, the agent's state).
        log: progress lines.

    Returns:
        What was measured.
    """
    urls = [cluster.member(i).running_info().url for i in range(NODES)]  # type: ignore[union-attr]
    client = Elasticsearch(urls, request_timeout=60, max_retries=5, retry_on_timeout=True)
    tiers = TierTable(prefix=f"nl{int(time.time()) % 100000}-audit")
    root = Path(tempfile.mkdtemp(prefix="node-loss-", dir=work_dir))
    window = default_window()
    lines = list(event_lines(params.events, seed=31, window=window))
    ids = {str(orjson.loads(line)["event"]["id"]) for line in lines}
    tenant = str(orjson.loads(lines[0])["organization"]["id"])
    result = NodeLossResult(events=params.events, rate=params.rate)
    agent: subprocess.Popen[bytes] | None = None
    watch: DeliveryWatch | None = None
    writer: Writer | None = None
    began = time.monotonic()
    try:
        report = run_setup(client, tiers)
        result.replicas = {c.retention_class: c.replicas for c in report.replicas}
        day = window[0]
        while day <= window[1]:
            create_ahead(client, tiers, day)
            day += timedelta(days=1)
        client.cluster.health(wait_for_status="green", timeout="120s")
        live = root / "audit.jsonl"
        live.touch()
        metrics_port = free_port()
        config = agent_config(root / "agent.toml", urls=urls, prefix=tiers.prefix, log_path=live,
                              state=root / "state", metrics_port=metrics_port)
        with (root / "agent.log").open("ab") as err:
            agent = subprocess.Popen([sys.executable, "-m", "auditlog.cli", "agent", "--config", str(config)],
                                     stdout=subprocess.DEVNULL, stderr=err)
        writer = Writer(lines, live, params.rate, None, 0)
        watch = DeliveryWatch(metrics_port, writer)
        writer.start()
        watch.start()
        # mid-run means the agent is delivering too: on a loaded machine its start can lag the writer by seconds
        while (writer.written < len(lines) // 3 or (watch.delivered() or 0) < len(lines) // 6) and writer.is_alive():
            time.sleep(0.1)
        result.primaries_before = cluster.primaries_by_node()
        victim_name = max(result.primaries_before, key=lambda n: result.primaries_before[n])
        victim = cluster.index_of(victim_name)
        if victim is None:
            raise RuntimeError(f"the busiest node {victim_name!r} is not a member of the cluster")
        result.killed_node = victim_name
        log(f"node loss: SIGKILL {victim_name} ({result.primaries_before[victim_name]} primaries) "
            f"after {writer.written:,} lines")
        killed_at = time.monotonic()
        cluster.kill_node(victim)
        result.probes = probe_reads(urls, tiers, tenant, root)
        for probe in result.probes:
            state = "ok" if probe.ok else "FAILED"
            log(f"    while down: {probe.what:<16} {state} {probe.seconds:.2f} s  {probe.detail}")
        time.sleep(max(0.0, params.down_s - (time.monotonic() - killed_at)))
        log(f"node loss: starting {victim_name} again")
        cluster.start_node(victim)
        result.node_down_s = round(time.monotonic() - killed_at, 1)
        writer.join()
        result.written = writer.written
        quiet_since, last = time.monotonic(), -1
        while True:
            delivered = watch.delivered()
            if delivered is not None and delivered >= len(lines):
                break
            if delivered != last:
                quiet_since, last = time.monotonic(), delivered if delivered is not None else last
            elif time.monotonic() - quiet_since > params.settle_s:
                result.note = f"delivery stopped at {last:,} of {len(lines):,}"
                break
            time.sleep(0.2)
        counters = watch.counters() or {}
        result.duplicates_answered = counters.get("auditlog_agent_events_duplicate_total", 0)
        result.items_retried = counters.get("auditlog_agent_bulk_retries_total", 0)
        watch.stop()
        caught, written_at = watch.caught_up_at(len(lines)), watch.written_at(len(lines))
        if written_at is not None:
            result.catch_up_s = round(max(0.0, (caught or time.monotonic()) - written_at), 1)
        stall, stall_began = watch.longest_stall()
        result.longest_stall_s = round(stall, 1)
        if stall_began is not None:
            result.stall_began_after_kill_s = round(stall_began - killed_at, 1)
        result.longest_stall_after_kill_s = round(watch.longest_stall(after=killed_at)[0], 1)
        client.cluster.health(wait_for_status="green", timeout="120s")
        seen = scan_ids(client, tiers.read_pattern)
        result.documents = sum(seen.values())
        result.lost = len(ids - set(seen))
        result.duplicated = sum(n - 1 for n in seen.values() if n > 1)
        dead = root / "state" / "deadletter.jsonl"
        result.dead_letters = len(dead.read_bytes().splitlines()) if dead.is_file() else 0
        return result
    finally:
        if watch is not None and watch.is_alive():
            watch.stop()
        if agent is not None:
            agent.terminate()
            try:
                result.agent_exit = agent.wait(30)
            except subprocess.TimeoutExpired:
                agent.kill()
                agent.wait(10)
        if writer is not None and writer.is_alive():
            writer.join()
        if result.note or result.lost or result.dead_letters:
            agent_log = root / "agent.log"
            tail = agent_log.read_text(errors="replace")[-1500:] if agent_log.is_file() else ""
            result.note = (result.note + " | agent log: " + tail).strip(" |")
        result.duration_s = round(time.monotonic() - began, 1)
        try:
            delete_prefix(client, tiers.prefix)
        finally:
            client.close()
            shutil.rmtree(root, ignore_errors=True)


def run(params: NodeLossParams, work_dir: Path, log: Log = print, into: dict[str, Any] | None = None) -> dict[str, Any]:
    """Start a three-node cluster, run the scenario once, stop the cluster.

    Args:
        params: sizes.
        work_dir: scratch folder.
        log: progress lines.
        into: dict to fill (an interrupted run keeps what it measured).

    Returns:
        ``{"params": ..., "result": ...}``.
    """
    report = {} if into is None else into
    report["params"] = asdict(params)
    state = Path(tempfile.mkdtemp(prefix="auditlog-bench-cluster-", dir="/var/tmp"))
    state.chmod(0o755)
    cluster = LocalCluster(ClusterConfig(state_dir=state, port=0, nodes=NODES), log=lambda _m: None)
    try:
        log(f"node loss: starting a {NODES}-node cluster")
        started = time.monotonic()
        cluster.start()
        report["cluster_start_s"] = round(time.monotonic() - started, 1)
        report["started"] = datetime.now(UTC).isoformat(timespec="seconds")
        log(f"node loss: {params.events:,} events at {params.rate:,}/s")
        result = run_scenario(cluster, params, work_dir, log)
        report["result"] = result.to_json()
        log(f"node loss: lost {result.lost:,}  duplicated {result.duplicated:,}  dead letters {result.dead_letters:,}  "
            f"longest stall {result.longest_stall_s} s  catch-up {result.catch_up_s} s")
        return report
    finally:
        cluster.stop()
        shutil.rmtree(state, ignore_errors=True)
