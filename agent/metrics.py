"""Agent metrics: counters shared by the agent's threads, served as Prometheus text on ``/metrics``.

Safe across threads by design: every update goes through a method of :class:`Metrics` that takes its
one lock (the reader, the sink's senders and the acknowledger all update counters, and the HTTP thread
reads them). Updates are per block or per batch, never per event, so the lock costs nothing measurable.
Every counter the code can update is a member of :class:`Counter`, :class:`Gauge` or :class:`Part`, and
:meth:`Metrics.render` exports every member, so a counter cannot be kept without being exported.

Exposed families (all prefixed ``auditlog_agent_``):

- ``lines_read_total``, ``events_shipped_total`` (201), ``events_duplicate_total`` (409: already
  delivered), ``id_conflicts_total`` (409 for an id sent before with other content: dead-lettered),
  ``dead_letters_total{stage}``, ``bulk_requests_total`` (requests sent, retries included),
  ``bulk_retries_total`` (items re-sent), ``backpressure_total{cause}`` (items held because the cluster
  refused writes, see :mod:`agent.responses`), ``bulk_latency_seconds`` (histogram), ``lost_bytes_total``,
  ``digest_rows_quarantined_total`` (pending digest rows that could not be read back, see
  :mod:`agent.digest_writer`);
- ``time_seconds_total{part}``: where the agent's time goes (:class:`Part`);
- ``lag_bytes{path,identity}`` (file size minus acknowledged offset), ``open_files``,
  ``batches_in_flight``, ``requests_in_flight``, ``request_slots``, ``up``.
"""

from __future__ import annotations

import bisect
import contextlib
import errno
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import structlog

log = structlog.get_logger("auditlog.agent.metrics")

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_P = "auditlog_agent_"

#: (path, identity, lag bytes) of every file the agent knows about.
LagProvider = Callable[[], Iterable[tuple[str, str, int]]]


class Counter(StrEnum):
    """Monotonic counters (exported as ``<name>_total``)."""

    LINES_READ = "lines_read"
    EVENTS_SHIPPED = "events_shipped"
    EVENTS_DUPLICATE = "events_duplicate"
    ID_CONFLICTS = "id_conflicts"
    BULK_REQUESTS = "bulk_requests"
    BULK_RETRIES = "bulk_retries"
    LOST_BYTES = "lost_bytes"
    DIGEST_ROWS_QUARANTINED = "digest_rows_quarantined"
    FILES_REFUSED = "files_refused"


class Gauge(StrEnum):
    """Values that go up and down."""

    OPEN_FILES = "open_files"
    BATCHES_IN_FLIGHT = "batches_in_flight"
    REQUESTS_IN_FLIGHT = "requests_in_flight"
    REQUEST_SLOTS = "request_slots"


class Part(StrEnum):
    """Where the agent's time goes (``time_seconds_total{part}``), measured per block or per request."""

    READING = "reading"  # the reader reading files (discovery scans included)
    BUILDING = "building"  # the reader turning lines into bulk entries, batches and request bodies
    SLOT_WAIT = "slot_wait"  # the reader holding a sealed batch while every request slot and buffer is taken
    RESPONSE_WAIT = "response_wait"  # requests in flight, summed over requests (per wall second: mean in flight)
    ACKNOWLEDGING = "acknowledging"  # settling answers, dead letters fsynced, checkpoints committed


_HELP: dict[str, str] = {
    Counter.LINES_READ: "Lines read from files.",
    Counter.EVENTS_SHIPPED: "Events Elasticsearch created (201).",
    Counter.EVENTS_DUPLICATE: "Events already in Elasticsearch (409), counted as delivered.",
    Counter.ID_CONFLICTS: "Events answered 409 whose id was sent before with other content (dead-lettered as "
                          "id_conflict).",
    Counter.BULK_REQUESTS: "Bulk requests sent (retries included).",
    Counter.BULK_RETRIES: "Bulk items re-sent after 429/5xx/connection errors.",
    Counter.LOST_BYTES: "Bytes that could not be read (truncated or removed before shipping).",
    Counter.DIGEST_ROWS_QUARANTINED: "Pending digest rows that could not be read back, moved aside (their events "
                                     "stay unproven).",
    Counter.FILES_REFUSED: "Matched paths not read (not a regular file, a link not followed, no permission...), "
                           "each counted when its warning is logged: once per path until the reason changes.",
    Gauge.OPEN_FILES: "Files being harvested.",
    Gauge.BATCHES_IN_FLIGHT: "Batches sealed but not yet acknowledged.",
    Gauge.REQUESTS_IN_FLIGHT: "Bulk requests sent and not yet answered.",
    Gauge.REQUEST_SLOTS: "Bulk requests allowed in flight now (adapted to the measured latency).",
}


def _label(value: str) -> str:
    # a file name that is not UTF-8 holds lone surrogates, which the UTF-8 exposition cannot carry
    value = value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    """The agent's counters and gauges, updated from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters = dict.fromkeys(Counter, 0)
        self._gauges = dict.fromkeys(Gauge, 0)
        self._time = dict.fromkeys(Part, 0.0)
        self._dead_letters: dict[str, int] = {}
        self._backpressure: dict[str, int] = {}
        self._lat_counts = [0] * (len(_BUCKETS) + 1)
        self._lat_sum = 0.0

    # -- updates (any thread) ------------------------------------------------------------------

    def add(self, counter: Counter, n: int = 1) -> None:
        """Add ``n`` to ``counter``."""
        with self._lock:
            self._counters[counter] += n

    def set(self, gauge: Gauge, value: int) -> None:
        """Set ``gauge`` to ``value``."""
        with self._lock:
            self._gauges[gauge] = value

    def shift(self, gauge: Gauge, delta: int) -> None:
        """Move ``gauge`` by ``delta``."""
        with self._lock:
            self._gauges[gauge] += delta

    def spent(self, part: Part, seconds: float) -> None:
        """Add ``seconds`` to the time of ``part``."""
        with self._lock:
            self._time[part] += seconds

    def dead_lettered(self, stage: str, n: int = 1) -> None:
        """Count ``n`` dead letters of ``stage``."""
        with self._lock:
            self._dead_letters[stage] = self._dead_letters.get(stage, 0) + n

    def held_back(self, cause: str, n: int) -> None:
        """Count ``n`` items held back (not dead-lettered) because the cluster refuses writes for ``cause``."""
        with self._lock:
            self._backpressure[cause] = self._backpressure.get(cause, 0) + n

    def observe_bulk(self, seconds: float, *, answered: bool = True) -> None:
        """Record one bulk request: its count, the time it was in flight and, when answered, its latency."""
        with self._lock:
            self._counters[Counter.BULK_REQUESTS] += 1
            self._time[Part.RESPONSE_WAIT] += seconds
            if answered:
                self._lat_sum += seconds
                self._lat_counts[bisect.bisect_left(_BUCKETS, seconds)] += 1

    # -- reads ---------------------------------------------------------------------------------

    def value(self, name: Counter | Gauge) -> int:
        """Return the current value of a counter or gauge."""
        with self._lock:
            return self._counters[name] if isinstance(name, Counter) else self._gauges[name]

    def time_spent(self) -> dict[Part, float]:
        """Return the seconds spent per part so far."""
        with self._lock:
            return dict(self._time)

    @property
    def lines_read(self) -> int:
        """Lines read from files."""
        return self.value(Counter.LINES_READ)

    @property
    def events_shipped(self) -> int:
        """Events created (201)."""
        return self.value(Counter.EVENTS_SHIPPED)

    @property
    def events_duplicate(self) -> int:
        """Events answered 409 and counted as delivered."""
        return self.value(Counter.EVENTS_DUPLICATE)

    @property
    def id_conflicts(self) -> int:
        """409s for ids sent before with other content."""
        return self.value(Counter.ID_CONFLICTS)

    @property
    def backpressure(self) -> dict[str, int]:
        """Items held back, by cause (a copy)."""
        with self._lock:
            return dict(self._backpressure)

    @property
    def dead_lettered_total(self) -> int:
        """All dead letters, every stage."""
        with self._lock:
            return sum(self._dead_letters.values())

    def render(self, lag: Iterable[tuple[str, str, int]] = ()) -> str:
        """Return the Prometheus text exposition (format 0.0.4).

        Args:
            lag: (path, identity, lag bytes) per file, exported as ``lag_bytes``.
        """
        with self._lock:
            counters, gauges, spent = dict(self._counters), dict(self._gauges), dict(self._time)
            dls, held = dict(self._dead_letters), dict(self._backpressure)
            counts, total = list(self._lat_counts), self._lat_sum
        out = [f"# HELP {_P}up 1 while the agent runs\n# TYPE {_P}up gauge\n{_P}up 1"]
        for c in Counter:
            out.append(f"# HELP {_P}{c}_total {_HELP[c]}\n# TYPE {_P}{c}_total counter\n{_P}{c}_total {counters[c]}")
        for g in Gauge:
            out.append(f"# HELP {_P}{g} {_HELP[g]}\n# TYPE {_P}{g} gauge\n{_P}{g} {gauges[g]}")
        out.append(_labelled("dead_letters_total", "Lines written to the dead-letter file.", "stage",
                             dls or {"parse": 0}))
        out.append(_labelled("backpressure_total", "Bulk items held back and re-sent because the cluster refused "
                             "writes (write block, shard limit, credentials...), by cause.", "cause",
                             held or {"cluster_block": 0}))
        out.append(_labelled("time_seconds_total", "Seconds the agent spent per part of its work (reading, "
                             "building, slot_wait, response_wait: summed over requests, acknowledging).", "part",
                             {str(p): round(s, 6) for p, s in spent.items()}))
        out.append(f"# HELP {_P}bulk_latency_seconds Bulk request latency.\n# TYPE {_P}bulk_latency_seconds histogram")
        cum = 0
        for bound, n in zip((*_BUCKETS, float("inf")), counts, strict=True):
            cum += n
            le = "+Inf" if bound == float("inf") else repr(bound)
            out.append(f'{_P}bulk_latency_seconds_bucket{{le="{le}"}} {cum}')
        out.append(f"{_P}bulk_latency_seconds_sum {total}\n{_P}bulk_latency_seconds_count {cum}")
        out.append(f"# HELP {_P}lag_bytes Bytes written to a file but not yet acknowledged.\n"
                   f"# TYPE {_P}lag_bytes gauge")
        for path, key, nbytes in lag:
            out.append(f'{_P}lag_bytes{{path="{_label(path)}",identity="{_label(key)}"}} {nbytes}')
        return "\n".join(out) + "\n"


def _labelled(name: str, help_: str, label: str, values: dict[str, int] | dict[str, float]) -> str:
    lines = [f"# HELP {_P}{name} {help_}", f"# TYPE {_P}{name} counter"]
    lines += [f'{_P}{name}{{{label}="{_label(k)}"}} {values[k]}' for k in sorted(values)]
    return "\n".join(lines)


class _BoundedServer(ThreadingHTTPServer):
    """``ThreadingHTTPServer`` serving at most :data:`MAX_SCRAPES` connections at once.

    Any local user may connect to the metrics port. Unbounded, each connection held a thread and a descriptor
    for up to :data:`REQUEST_DEADLINE`, and the descriptors are the harvesters' too: a burst of connections
    ran the agent out of them (it then lowers ``inputs.max_open_files`` for good). A connection beyond the
    bound is closed at accept; a scraper retries at its next interval.
    """

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._slots = threading.BoundedSemaphore(MAX_SCRAPES)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)  # starts the thread that releases the slot
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def get_request(self) -> tuple[Any, Any]:
        """Accept a connection; out of descriptors (or kernel memory), wait :data:`ACCEPT_PAUSE` first.

        A failed accept leaves the connection in the backlog, so the listening socket stays readable and
        ``serve_forever`` tried again at once: one client connecting while the process was out of descriptors
        (the harvesters at their cap) made this thread spin a core and hold the GIL the reader needs.
        """
        try:
            return super().get_request()
        except OSError as exc:
            if exc.errno in _NO_RESOURCES:
                time.sleep(ACCEPT_PAUSE)
            raise  # socketserver drops the attempt; the connection is accepted on a later try

    def handle_error(self, request: Any, client_address: Any) -> None:
        """One line, never socketserver's traceback on stderr: a client gone or cut mid-answer is no error."""
        error = sys.exc_info()[1]
        if not isinstance(error, OSError):
            log.warning("metrics request failed", error=f"{type(error).__name__}: {error}"[:300])


class _IPv6Server(_BoundedServer):
    """The same server on an IPv6 socket (``http.server`` binds IPv4 only)."""

    address_family = socket.AF_INET6


class MetricsServer:
    """A tiny ``http.server`` in a daemon thread serving ``GET /metrics``."""

    def __init__(self, metrics: Metrics, host: str = "127.0.0.1", port: int = 9108,
                 lag: LagProvider = lambda: ()) -> None:
        """Bind the socket (port 0 picks a free one; see :attr:`port`).

        Args:
            metrics: the counters to serve.
            host: address to listen on.
            port: TCP port (0: any free one).
            lag: returns (path, identity, lag bytes) per file at the moment of a scrape.

        Raises:
            OSError: when the address is taken.
        """
        handler = _handler(metrics, lag)
        server_class = _IPv6Server if ":" in host else _BoundedServer  # "::1", "::": an IPv6 address
        self._server = server_class((host, port), handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics", daemon=True)

    def start(self) -> None:
        """Start serving."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()


#: seconds a scrape connection may stay silent: one that never sends (slowloris) must not hold a thread for ever
REQUEST_TIMEOUT = 10.0
#: seconds a scrape connection may last in all: one that trickles a byte before each timeout must not either
REQUEST_DEADLINE = 30.0
#: seconds the server waits before it accepts again after running out of descriptors (no busy loop meanwhile)
ACCEPT_PAUSE = 0.1
#: accept() errors of a process (or system) out of resources, which persist while the connection waits
_NO_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
#: connections served at once (Prometheus scrapes one at a time; a few spare for curl and a second scraper)
MAX_SCRAPES = 8


def _handler(metrics: Metrics, lag: LagProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = REQUEST_TIMEOUT  # socket timeout of each connection (StreamRequestHandler applies it)
        deadline = REQUEST_DEADLINE

        def setup(self) -> None:
            super().setup()
            # the socket timeout restarts with every byte: the whole connection's end is a timer's
            self._ending = threading.Lock()
            self._ended = False
            self._cut = threading.Timer(self.deadline, self._expire)
            self._cut.daemon = True
            self._cut.start()

        def _expire(self) -> None:
            with self._ending:  # never after finish: the descriptor number may belong to another socket by then
                if not self._ended:
                    with contextlib.suppress(OSError):  # shut down, a blocked read returns end of stream
                        self.connection.shutdown(socket.SHUT_RDWR)

        def finish(self) -> None:
            self._cut.cancel()
            with self._ending:
                self._ended = True
            super().finish()

        def do_GET(self) -> None:
            if self.path.split("?")[0] != "/metrics":
                self.send_error(404, "only /metrics here")
                return
            body = metrics.render(lag()).encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # quiet: the agent logs JSON
            return

    return Handler
