"""Agent metrics: counters kept by the pipeline, served as Prometheus text on ``/metrics``.

Counters are plain integers updated once per batch (not per event) by the thread that owns the
stage; reads from the HTTP thread may be a batch stale, never torn (int assignment is atomic under
the GIL). Exposed families (all prefixed ``auditlog_agent_``):

- ``lines_read_total``, ``events_shipped_total`` (201), ``events_duplicate_total`` (409: already
  delivered), ``id_conflicts_total`` (409 for an id sent before with other content: dead-lettered),
  ``dead_letters_total{stage}``, ``bulk_retries_total`` (items re-sent),
  ``backpressure_total{cause}`` (items held because the cluster refused writes, see
  :mod:`agent.responses`), ``bulk_requests_total``, ``bulk_latency_seconds`` (histogram),
  ``lost_bytes_total``;
- ``lag_bytes{path,identity}`` (file size minus acknowledged offset), ``open_files``,
  ``batches_in_flight``, ``up``.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import structlog

log = structlog.get_logger("auditlog.agent.metrics")

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

#: (path, identity, lag bytes) of every file the agent knows about.
LagProvider = Callable[[], Iterable[tuple[str, str, int]]]


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    """The agent's counters and gauges."""

    def __init__(self) -> None:
        self.lines_read = 0
        self.events_shipped = 0
        self.events_duplicate = 0
        self.dead_letters: dict[str, int] = {}
        self.backpressure: dict[str, int] = {}
        self.bulk_retries = 0
        self.id_conflicts = 0
        self.bulk_requests = 0
        self.lost_bytes = 0
        self.open_files = 0
        self.batches_in_flight = 0
        self._lat_counts = [0] * (len(_BUCKETS) + 1)
        self._lat_sum = 0.0
        self._lock = threading.Lock()
        self.lag: LagProvider = lambda: ()

    def dead_lettered(self, stage: str, n: int = 1) -> None:
        """Count ``n`` dead letters of ``stage``."""
        with self._lock:
            self.dead_letters[stage] = self.dead_letters.get(stage, 0) + n

    def held_back(self, cause: str, n: int) -> None:
        """Count ``n`` items held back (not dead-lettered) because the cluster refuses writes for ``cause``."""
        with self._lock:
            self.backpressure[cause] = self.backpressure.get(cause, 0) + n

    def observe_bulk(self, seconds: float) -> None:
        """Record one bulk request's latency."""
        with self._lock:
            self.bulk_requests += 1
            self._lat_sum += seconds
            self._lat_counts[bisect.bisect_left(_BUCKETS, seconds)] += 1

    @property
    def dead_lettered_total(self) -> int:
        """All dead letters, every stage."""
        return sum(self.dead_letters.values())

    def render(self) -> str:
        """Return the Prometheus text exposition (format 0.0.4)."""
        p = "auditlog_agent_"
        out: list[str] = []

        def counter(name: str, help_: str, value: float, kind: str = "counter") -> None:
            out.append(f"# HELP {p}{name} {help_}\n# TYPE {p}{name} {kind}\n{p}{name} {value}")

        out.append(f"# HELP {p}up 1 while the agent runs\n# TYPE {p}up gauge\n{p}up 1")
        counter("lines_read_total", "Lines read from files.", self.lines_read)
        counter("events_shipped_total", "Events Elasticsearch created (201).", self.events_shipped)
        counter("events_duplicate_total", "Events already in Elasticsearch (409), counted as delivered.",
                self.events_duplicate)
        with self._lock:
            dls = dict(self.dead_letters)
            held = dict(self.backpressure)
            counts, total = list(self._lat_counts), self._lat_sum
        out.append(f"# HELP {p}dead_letters_total Lines written to the dead-letter file.\n"
                   f"# TYPE {p}dead_letters_total counter")
        for stage in sorted(dls or {"parse": 0}):
            out.append(f'{p}dead_letters_total{{stage="{_label(stage)}"}} {dls.get(stage, 0)}')
        out.append(f"# HELP {p}backpressure_total Bulk items held back and re-sent because the cluster refused "
                   f"writes (write block, shard limit, credentials...), by cause.\n"
                   f"# TYPE {p}backpressure_total counter")
        for cause in sorted(held or {"cluster_block": 0}):
            out.append(f'{p}backpressure_total{{cause="{_label(cause)}"}} {held.get(cause, 0)}')
        counter("id_conflicts_total", "Events answered 409 whose id was sent before with other content "
                "(dead-lettered as id_conflict).", self.id_conflicts)
        counter("bulk_requests_total", "Bulk requests sent (retries included).", self.bulk_requests)
        counter("bulk_retries_total", "Bulk items re-sent after 429/5xx/connection errors.", self.bulk_retries)
        counter("lost_bytes_total", "Bytes that could not be read (truncated or removed before shipping).",
                self.lost_bytes)
        counter("open_files", "Files being harvested.", self.open_files, "gauge")
        counter("batches_in_flight", "Batches sealed but not yet acknowledged.", self.batches_in_flight, "gauge")
        out.append(f"# HELP {p}bulk_latency_seconds Bulk request latency.\n# TYPE {p}bulk_latency_seconds histogram")
        cum = 0
        for bound, n in zip((*_BUCKETS, float("inf")), counts, strict=True):
            cum += n
            le = "+Inf" if bound == float("inf") else repr(bound)
            out.append(f'{p}bulk_latency_seconds_bucket{{le="{le}"}} {cum}')
        out.append(f"{p}bulk_latency_seconds_sum {total}\n{p}bulk_latency_seconds_count {cum}")
        out.append(f"# HELP {p}lag_bytes Bytes written to a file but not yet acknowledged.\n# TYPE {p}lag_bytes gauge")
        for path, key, lag in self.lag():
            out.append(f'{p}lag_bytes{{path="{_label(path)}",identity="{_label(key)}"}} {lag}')
        return "\n".join(out) + "\n"


class MetricsServer:
    """A tiny ``http.server`` in a daemon thread serving ``GET /metrics``."""

    def __init__(self, metrics: Metrics, host: str = "127.0.0.1", port: int = 9108) -> None:
        """Bind the socket (port 0 picks a free one; see :attr:`port`).

        Raises:
            OSError: when the address is taken.
        """
        handler = _handler(metrics)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics", daemon=True)

    def start(self) -> None:
        """Start serving."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()


def _handler(metrics: Metrics) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] != "/metrics":
                self.send_error(404, "only /metrics here")
                return
            body = metrics.render().encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # quiet: the agent logs JSON
            return

    return Handler
