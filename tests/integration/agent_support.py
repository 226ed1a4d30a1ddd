"""Helpers for the agent's integration tests: run ``auditlog agent`` as a subprocess (or one whole run over a
prepared log, :func:`agent_run`), write logs, count what arrived, and put an HTTP proxy in front of the node
(:class:`NodeProxy`: one that injects 429s, one whose callback answers requests itself)."""

from __future__ import annotations

import http.client
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
from elasticsearch import ApiError, Elasticsearch, helpers

from auditlog.agent.categorize import categorize
from auditlog.agent.deadletter import read_records
from auditlog.indexer.setup import install_templates
from auditlog.indexer.tiers import TierTable
from tests.support.seed import cleanup_namespace

TIERS = ("enterprise", "business", "professional", "whitelabel", "flatrate", "basic")


#: the first of the three days test events are spread over: recent, so inside the agent's time bounds
BASE_DAY = datetime.now(UTC).date() - timedelta(days=3)


def event_line(i: int, *, with_id: bool = True) -> bytes:
    """A valid contract event line (with newline); ``event.id`` = ``ev-<i>`` unless ``with_id`` is False.

    Even lines with an id are shaped as the emitter writes them (ECS categories, ``audit.changed_fields``)
    and ship through the agent's pass-through (``agent/fastpath.py``); the others lack those and take
    its full path, so every agent test covers both.
    """
    ev: dict[str, Any] = {
        "@timestamp": f"{BASE_DAY + timedelta(days=i % 3)}T10:{i % 60:02d}:00.000Z",
        "event": {"action": ("auth", "create", "update", "delete")[i % 4]},
        "audit": {"source": "appointments", "tier": TIERS[i % len(TIERS)],
                  "changes": {"start": {"old": "10:00", "new": "11:00"}}},
        "organization": {"id": f"org-{i % 7}", "name": "Org"},
        "user": {"id": f"w-{i % 13}", "name": "Worker"},
        "message": f"line {i} " + "x" * 200,
    }
    if with_id:
        ev["event"]["id"] = f"ev-{i:08d}"
        if i % 2 == 0:
            ev["event"].update(categorize(ev["event"]["action"]))
            ev["audit"]["changed_fields"] = ["start"]
    return orjson.dumps(ev) + b"\n"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(path: Path, *, paths: Iterable[str], state: Path, es_url: str, prefix: str,
                 metrics_port: int = 0, **sections: dict[str, Any]) -> Path:
    """Write an agent TOML tuned for fast tests (short latencies and backoffs)."""
    cfg: dict[str, dict[str, Any]] = {
        "inputs": {"paths": list(paths), "rescan_interval": 0.5, "poll_interval": 0.05, "close_inactive": 1.0},
        "state": {"dir": str(state)},
        "elasticsearch": {"url": es_url, "index_prefix": prefix, "request_timeout": 10.0},
        "batch": {"max_events": 500, "max_latency": 0.2},
        "retry": {"initial_backoff": 0.05, "max_backoff": 0.5},
        "metrics": {"port": metrics_port},
        "shutdown": {"timeout": 5.0},
    }
    for name, values in sections.items():
        cfg.setdefault(name, {}).update(values)
    lines = []
    for name, values in cfg.items():
        lines.append(f"[{name}]")
        for k, v in values.items():
            lines.append(f"{k} = {orjson.dumps(v).decode()}" if not isinstance(v, bool) else f"{k} = {str(v).lower()}")
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass
class AgentProcess:
    """``auditlog agent --config FILE`` as a child process, its stderr kept in a file."""

    config: Path
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    env: dict[str, str] = field(default_factory=dict)
    nofile: int | None = None  # RLIMIT_NOFILE (soft and hard) of the agent process
    #: how the agent is started: this checkout's, or an installed ``auditlog`` program (its environment clean)
    command: tuple[str, ...] = (sys.executable, "-m", "auditlog.cli")
    unset: tuple[str, ...] = ()  # variables of this process's environment the agent does not get
    _seen_started: int = 0

    def _started_lines(self) -> int:
        return self.log.read_text(errors="replace").count('"agent started"') if self.log.exists() else 0

    def start(self) -> None:
        self.starts += 1
        self._seen_started = self._started_lines()
        kept = {k: v for k, v in os.environ.items() if not k.startswith("AUDITLOG_ES_") and k not in self.unset}
        env = kept | self.env
        with self.log.open("ab") as err:
            self.proc = subprocess.Popen(
                [*self.command, "agent", "--config", str(self.config)],
                stdout=subprocess.DEVNULL, stderr=err, env=env, preexec_fn=self._limits,
            )

    def _limits(self) -> None:
        if self.nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, self.nofile))

    def wait_started(self, timeout: float = 30.0) -> None:
        """Wait until this run logged "agent started" (its signal handlers are in place)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end and self.alive():
            if self._started_lines() > self._seen_started:
                return
            time.sleep(0.05)
        raise AssertionError(f"agent did not start; log tail: {self.log.read_text(errors='replace')[-2000:]}")

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM and wait; returns the exit status."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def rss_kib(self) -> int:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def ensure_stopped(self) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.kill()
            self.proc.wait(10)


@dataclass
class AgentRun:
    """One finished agent run over a prepared log: its namespace, state folder, log, exit status and arrivals."""

    tiers: TierTable
    state: Path
    log: Path
    exit_status: int
    arrived: int


@contextmanager
def agent_run(es: Elasticsearch, es_url: str, folder: Path, lines: Iterable[bytes], *, arrivals: int,
              dead_letters: int, name: bytes = b"audit.jsonl") -> Iterator[AgentRun]:
    """Ship ``lines`` (one log file) with ``auditlog agent`` into a new namespace; yield the finished run.

    The agent is stopped (SIGTERM) once ``arrivals`` documents arrived and ``dead_letters`` records were
    written (a document Elasticsearch refuses is dead-lettered only when its batch is answered); the
    namespace is deleted afterwards. ``name`` is the log's file name (any bytes: the configuration then
    names the folder's ``*.jsonl``, as TOML holds text only).
    """
    tiers = TierTable(prefix=f"t{uuid.uuid4().hex[:10]}-audit")
    install_templates(es, tiers)
    log = folder / os.fsdecode(name)
    with log.open("wb") as fh:
        fh.writelines(lines)
    state = folder / "state"
    pattern = str(log) if name == b"audit.jsonl" else str(folder / "*.jsonl")
    agent = AgentProcess(write_config(folder / "agent.toml", paths=[pattern], state=state, es_url=es_url,
                                      prefix=tiers.prefix), folder / "agent.log")
    agent.start()
    try:
        arrived = wait_count(es, tiers, arrivals)
        for _ in range(50):
            if len(list(read_records(state))) >= dead_letters:
                break
            wait_count(es, tiers, arrivals + 1, timeout=0.2)
        status = agent.stop()
    finally:
        agent.ensure_stopped()
    try:
        yield AgentRun(tiers, state, log, status, arrived)
    finally:
        cleanup_namespace(es, tiers)


def stored_documents(es: Elasticsearch, tiers: TierTable) -> dict[str, dict[str, Any]]:
    """Every document of the namespace as ``{_id: _source}`` (after a refresh)."""
    es.indices.refresh(index=tiers.read_pattern)
    return {hit["_id"]: hit["_source"] for hit in helpers.scan(es, index=tiers.read_pattern, size=1000)}


#: the objects the agent adds to every document as a shipper (besides ``event.ingested``)
SHIPPER_OBJECTS = ("ecs", "agent", "host")


def as_written(doc: dict[str, Any]) -> dict[str, Any]:
    """A stored document without the fields the agent adds as a shipper."""
    out = {k: v for k, v in doc.items() if k not in SHIPPER_OBJECTS}
    out["event"] = {k: v for k, v in doc["event"].items() if k != "ingested"}
    return out


def dead_letter_at(run: AgentRun, line: bytes) -> dict[str, Any] | None:
    """The dead-letter record of ``line`` (found by its offset in the run's log), or ``None``."""
    offset = run.log.read_bytes().index(line)
    return {r["offset"]: r for r in read_records(run.state)}.get(offset)


def count(es: Elasticsearch, tiers: TierTable) -> int:
    """Documents in the namespace after a refresh; -1 while a just-created index has no active shard yet."""
    try:
        es.options(ignore_status=404).indices.refresh(index=tiers.read_pattern, allow_no_indices=True)
        return int(es.count(index=tiers.read_pattern, allow_no_indices=True)["count"])
    except ApiError as exc:
        # The agent creates daily indices on the fly; on a loaded machine a count can land before the new
        # index's primary shard is active and gets 503 "all shards failed". That is "not yet", not an answer.
        if exc.meta.status == 503:
            return -1
        raise


def wait_count(es: Elasticsearch, tiers: TierTable, expected: int, timeout: float = 60.0) -> int:
    """Poll until the namespace holds ``expected`` documents (or the timeout); return the last count."""
    end = time.monotonic() + timeout
    n = -1
    while time.monotonic() < end:
        n = count(es, tiers)
        if n >= expected:
            return n
        time.sleep(0.3)
    return n


def wait_stable(es: Elasticsearch, tiers: TierTable, quiet: float = 1.5, timeout: float = 60.0) -> int:
    """Poll until the document count is non-zero and unchanged for ``quiet`` seconds; return it."""
    end = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < end:
        n = count(es, tiers)
        if n != last:
            last, since = n, time.monotonic()
        elif n > 0 and time.monotonic() - since >= quiet:
            return n
        time.sleep(0.2)
    return last


def ids(es: Elasticsearch, tiers: TierTable) -> list[tuple[str, str | None]]:
    """(_id, event.id) of every document in the namespace."""
    es.indices.refresh(index=tiers.read_pattern)
    return [(hit["_id"], hit["_source"].get("event", {}).get("id"))
            for hit in helpers.scan(es, index=tiers.read_pattern, _source=["event.id"], size=5000)]


#: one HTTP reply: status, headers, body.
Reply = tuple[int, list[tuple[str, str]], bytes]
_HOP_HEADERS = ("content-length", "transfer-encoding", "connection")


class DropConnection(Exception):
    """Raised by a proxy's ``answer``: close the connection without a reply (a node dying mid-request)."""


class _ProxyHandler(BaseHTTPRequestHandler):
    """Reads one request, asks the proxy for the reply and writes it (hop-by-hop headers replaced)."""

    protocol_version = "HTTP/1.1"
    server: _ProxyServer

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            status, headers, data = self.server.proxy.answer(self.command, self.path, dict(self.headers.items()), body)
        except DropConnection:
            self.close_connection = True
            return
        self.send_response(status)
        for k, v in headers:
            if k.lower() not in _HOP_HEADERS:
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _handle

    def log_message(self, format: str, *args: object) -> None:
        return


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, proxy: NodeProxy) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.proxy = proxy


@dataclass
class NodeProxy:
    """HTTP proxy on a free local port in front of the node; subclasses decide replies in :meth:`answer`."""

    target_url: str
    _server: _ProxyServer | None = field(default=None, init=False, repr=False)

    def answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        """Return the reply to one request (the base forwards it unchanged)."""
        return self.forward(method, path, headers, body)

    def forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        """Send the request to the node and return its reply."""
        u = urlsplit(self.target_url)
        conn = http.client.HTTPConnection(u.hostname or "127.0.0.1", u.port, timeout=30)
        fwd = {k: v for k, v in headers.items() if k.lower() not in ("host", "content-length")}
        conn.request(method, path, body=body or None, headers=fwd)
        r = conn.getresponse()
        data = r.read()
        conn.close()
        return r.status, r.getheaders(), data

    def start(self) -> str:
        """Start serving in a daemon thread; return the proxy's URL."""
        self._server = _ProxyServer(self)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@dataclass
class Reject429Proxy(NodeProxy):
    """HTTP proxy to the node answering 429 for the first ``budget`` bulk items it sees."""

    budget: int = 0
    rejected: int = 0
    bulk_requests: int = 0

    def answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        """Answer the first ``budget`` bulk items 429 and forward the rest of their request."""
        if not body or "/_bulk" not in path:
            return self.forward(method, path, headers, body)
        self.bulk_requests += 1
        lines = body.split(b"\n")
        pairs = [lines[i:i + 2] for i in range(0, len(lines) - 1, 2)]
        k = min(max(self.budget - self.rejected, 0), len(pairs))
        if not k:
            return self.forward(method, path, headers, body)
        self.rejected += k
        fake = [{"create": {"status": 429, "error": {"type": "es_rejected_execution_exception",
                                                     "reason": "injected by test proxy"}}}] * k
        items: list[Any] = []
        reply_headers = [("X-Elastic-Product", "Elasticsearch"), ("Content-Type", "application/json")]
        if k < len(pairs):
            rest = b"".join(a + b"\n" + d + b"\n" for a, d in pairs[k:])
            _status, reply_headers, data = self.forward(method, path, headers, rest)
            items = orjson.loads(data)["items"]
        return 200, reply_headers, orjson.dumps({"errors": True, "took": 1, "items": fake + items})


def append_lines(path: Path, lines: Iterable[bytes]) -> None:
    """Append lines with O_APPEND, one write each (like the emitter)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        for ln in lines:
            os.write(fd, ln)
    finally:
        os.close(fd)


#: an interception: (status, content type, body) to answer instead of forwarding, or None to forward.
Answer = tuple[int, str, bytes]


@dataclass
class InterceptProxy(NodeProxy):
    """HTTP proxy to the node whose ``intercept(method, path, body)`` may answer a request itself.

    Stages what a reverse proxy in front of Elasticsearch does (a body-size limit answered 413, a
    wrong path answered 404) while every other request reaches the real node.
    """

    intercept: Any = None  # Callable[[str, str, bytes], Answer | None]
    intercepted: int = 0

    def answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        """Answer with ``intercept``'s reply when it gives one, else forward."""
        caught = self.intercept(method, path, body) if self.intercept else None
        if caught is None:
            return self.forward(method, path, headers, body)
        self.intercepted += 1
        status, ctype, data = caught
        return status, [("Content-Type", ctype)], data


def scrape(port: int) -> dict[str, float]:
    """The agent's /metrics as {series (with labels): value}."""
    import urllib.request

    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return {ln.rsplit(" ", 1)[0]: float(ln.rsplit(" ", 1)[1]) for ln in text.splitlines()
            if ln.startswith("auditlog_agent_")}


def wait_metric(port: int, series: str, minimum: float = 1, timeout: float = 60.0) -> float:
    """Poll /metrics until ``series`` reaches ``minimum``; return its last value."""
    end = time.monotonic() + timeout
    value = 0.0
    while time.monotonic() < end:
        try:
            value = scrape(port).get(series, 0.0)
        except OSError:
            value = 0.0
        if value >= minimum:
            return value
        time.sleep(0.2)
    return value
