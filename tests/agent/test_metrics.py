"""Metrics: Prometheus text exposition over HTTP."""

from __future__ import annotations

import contextlib
import errno
import http.client
import os
import re
import socket
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from auditlog.agent.metrics import MAX_SCRAPES, Counter, Gauge, Metrics, MetricsServer, Part
from tests.support.waiting import wait_until


def test_render_has_counters_histogram_and_lag() -> None:
    """The exposition carries counters, dead letters by stage, latency buckets and lag per file."""
    m = Metrics()
    m.add(Counter.LINES_READ, 10)
    m.dead_lettered("parse", 2)
    m.observe_bulk(0.02)
    text = m.render([("/var/log/a.jsonl", "id1", 123)])
    for expected in ('auditlog_agent_lines_read_total 10', 'auditlog_agent_dead_letters_total{stage="parse"} 2',
                     'auditlog_agent_bulk_latency_seconds_bucket{le="0.025"} 1',
                     'auditlog_agent_lag_bytes{path="/var/log/a.jsonl",identity="id1"} 123'):
        assert expected in text


@pytest.mark.parametrize(("host", "shown"), [("127.0.0.1", "127.0.0.1"), ("::1", "[::1]")], ids=["ipv4", "ipv6"])
def test_served_on_metrics_path(host: str, shown: str) -> None:
    """GET /metrics on the configured address answers the exposition, IPv6 too (http.server binds IPv4 unless told)."""
    m = Metrics()
    m.add(Counter.EVENTS_SHIPPED, 7)
    server = MetricsServer(m, host, 0)
    server.start()
    try:
        body = urllib.request.urlopen(f"http://{shown}:{server.port}/metrics", timeout=5).read().decode()
    finally:
        server.stop()
    assert "auditlog_agent_events_shipped_total 7" in body


def test_every_counter_gauge_and_time_part_is_exported() -> None:
    """Each member of Counter, Gauge and Part appears in the exposition with the value it was given."""
    m = Metrics()
    expected, lines = [], []
    for i, c in enumerate(Counter, start=11):
        m.add(c, i)
        expected.append(True)
        lines.append(f"auditlog_agent_{c}_total {i}")
    for i, g in enumerate(Gauge, start=101):
        m.set(g, i)
        expected.append(True)
        lines.append(f"auditlog_agent_{g} {i}")
    for i, p in enumerate(Part, start=1):
        m.spent(p, i + 0.5)
        expected.append(True)
        lines.append(f'auditlog_agent_time_seconds_total{{part="{p}"}} {i + 0.5}')
    text = m.render().splitlines()
    assert expected == [line in text for line in lines]


def test_bulk_requests_are_counted_and_exported() -> None:
    """Every request observed, answered or not, counts in bulk_requests_total and in the response wait."""
    m = Metrics()
    m.observe_bulk(0.5)
    m.observe_bulk(0.25, answered=False)
    text = m.render().splitlines()
    got = ("auditlog_agent_bulk_requests_total 2" in text, "auditlog_agent_bulk_latency_seconds_count 1" in text,
           m.time_spent()[Part.RESPONSE_WAIT])
    assert (True, True, 0.75) == got


def test_counters_added_from_many_threads_lose_nothing() -> None:
    """Eight threads adding 20,000 times each to one counter leave exactly 160,000."""
    m = Metrics()

    def work() -> None:
        for _ in range(20_000):
            m.add(Counter.LINES_READ)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert 160_000 == m.lines_read


ROOT = Path(__file__).resolve().parents[2]


def _scraped_families() -> set[str]:
    """The metric families a real /metrics scrape announces (``# TYPE`` lines), every labelled one present."""
    m = Metrics()
    m.dead_lettered("parse")
    server = MetricsServer(m, "127.0.0.1", 0, lag=lambda: [("/var/log/a.jsonl", "id1", 1)])
    server.start()
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=5).read().decode()
    finally:
        server.stop()
    return {line.split()[2] for line in body.splitlines() if line.startswith("# TYPE ")}


def _operations_table_families() -> set[str]:
    """The metric names of the table in docs/operations.md (section "Metrics and alerting")."""
    section = (ROOT / "docs" / "operations.md").read_text().split("## Metrics and alerting", 1)[1]
    table = section.split("| metric | meaning |", 1)[1].split("\n\n", 1)[0]
    names = set()
    for row in table.splitlines()[2:]:
        first_cell = row.split("|")[1]
        names |= {"auditlog_agent_" + re.sub(r"\{.*\}", "", n) for n in re.findall(r"`([^`]+)`", first_cell)}
    return names


def _agent_guide_families() -> set[str]:
    """The metric names listed under Observability in docs/agent.md (``auditlog_agent_x``, ``_y``, ...)."""
    text = (ROOT / "docs" / "agent.md").read_text()
    bullet = text.split("- Metrics: ", 1)[1].split("\n- ", 1)[0]
    return {re.sub(r"\{.*\}", "", n if n.startswith("auditlog_agent_") else "auditlog_agent" + n)
            for n in re.findall(r"`(auditlog_agent_[a-z_]+(?:\{[^}]*\})?|_[a-z_]+(?:\{[^}]*\})?)`", bullet)}


def test_operations_guide_table_names_the_emitted_metrics() -> None:
    """The metrics table of docs/operations.md lists exactly the families a /metrics scrape shows."""
    assert _scraped_families() == _operations_table_families()


def test_agent_guide_names_the_emitted_metrics() -> None:
    """docs/agent.md's metrics list is the scrape's families without `up`."""
    assert _scraped_families() - {"auditlog_agent_up"} == _agent_guide_families()


def test_a_lag_label_of_a_file_name_that_is_not_utf8_is_exposed_escaped() -> None:
    """A path holding lone surrogates (bytes that are not UTF-8) renders as an escaped label that encodes as UTF-8."""
    text = Metrics().render([(os.fsdecode(b"/var/log/a-\xff.jsonl"), "id1", 5)])
    assert 'path="/var/log/a-\\\\xff.jsonl"' in text.encode("utf-8").decode()


def test_a_silent_connection_is_closed_and_scrapes_go_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """A client that connects and never sends is dropped after the request timeout; a scrape still answers."""
    monkeypatch.setattr("auditlog.agent.metrics.REQUEST_TIMEOUT", 0.3)
    server = MetricsServer(Metrics(), "127.0.0.1", 0)
    server.start()
    try:
        silent = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        silent.settimeout(5)
        closed = silent.recv(1) == b""  # the server gives up on it: end of stream
        silent.close()
        body = urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=5).read()
    finally:
        server.stop()
    assert (True, True) == (closed, b"auditlog_agent_lines_read_total" in body)


def _scrape(port: int) -> bytes | None:
    """The body of one scrape, or None when the server closed the connection without answering."""
    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
    except (OSError, http.client.HTTPException):
        return None


def test_connections_beyond_the_bound_are_closed_at_once_and_scrapes_come_back() -> None:
    """With every scrape slot held by a silent client, one more is closed at accept; freed slots serve again."""
    server = MetricsServer(Metrics(), "127.0.0.1", 0)
    server.start()
    held = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(MAX_SCRAPES)]
    try:
        extra = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        extra.settimeout(5)
        refused = extra.recv(1) == b""  # closed by the server well before the silent clients' timeout
        extra.close()
        for sock in held:
            sock.close()
        served = wait_until(lambda: _scrape(server.port) is not None)
    finally:
        for sock in held:
            sock.close()
        server.stop()
    assert (True, True) == (refused, served)


def test_a_trickling_connection_is_cut_at_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    """A client sending a byte before each read timeout is cut once the connection's deadline passes."""
    monkeypatch.setattr("auditlog.agent.metrics.REQUEST_DEADLINE", 0.5)
    server = MetricsServer(Metrics(), "127.0.0.1", 0)
    server.start()
    started = time.monotonic()
    try:
        trickle = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        trickle.settimeout(0.1)
        cut = False
        for byte in b"GET /metrics HTTP/1.1\r\nX-Slow: " + b"a" * 100:
            try:
                trickle.sendall(bytes([byte]))
                cut = trickle.recv(1) == b""
            except TimeoutError:
                continue
            except OSError:  # reset by the server: cut too
                cut = True
            if cut:
                break
        trickle.close()
    finally:
        server.stop()
    assert (True, True) == (cut, time.monotonic() - started < 5)


def test_a_connection_cut_mid_request_prints_no_traceback(monkeypatch: pytest.MonkeyPatch,
                                                           capfd: pytest.CaptureFixture[str]) -> None:
    """Cut at the deadline halfway through its request line, a connection leaves no traceback on stderr."""
    monkeypatch.setattr("auditlog.agent.metrics.REQUEST_DEADLINE", 0.3)
    server = MetricsServer(Metrics(), "127.0.0.1", 0)
    server.start()
    try:
        half = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        half.sendall(b"GET /metrics")
        half.settimeout(5)
        with contextlib.suppress(OSError):
            half.recv(1024)
        half.close()
        time.sleep(0.3)  # the handler's answer to the cut socket fails meanwhile
    finally:
        server.stop()
    assert "Traceback" not in capfd.readouterr().err


def test_an_accept_out_of_descriptors_is_retried_at_a_pause_not_in_a_busy_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """While accept() fails with EMFILE, a waiting connection is tried again at a pause, never in a busy loop."""
    server = MetricsServer(Metrics(), "127.0.0.1", 0)
    server.start()
    calls = []

    def out_of_descriptors(self: socket.socket) -> tuple[socket.socket, object]:
        calls.append(1)
        raise OSError(errno.EMFILE, "Too many open files")

    monkeypatch.setattr(socket.socket, "accept", out_of_descriptors)
    waiting = socket.create_connection(("127.0.0.1", server.port), timeout=5)  # stays in the backlog, readable
    try:
        time.sleep(0.5)
        tried = len(calls)
    finally:
        monkeypatch.undo()
        waiting.close()
        server.stop()
    assert 1 <= tried <= 20
