"""Metrics: Prometheus text exposition over HTTP."""

from __future__ import annotations

import urllib.request

from auditlog.agent.metrics import Metrics, MetricsServer


def test_render_has_counters_histogram_and_lag() -> None:
    """The exposition carries counters, dead letters by stage, latency buckets and lag per file."""
    m = Metrics()
    m.lines_read = 10
    m.dead_lettered("parse", 2)
    m.observe_bulk(0.02)
    m.lag = lambda: [("/var/log/a.jsonl", "id1", 123)]
    text = m.render()
    for expected in ('auditlog_agent_lines_read_total 10', 'auditlog_agent_dead_letters_total{stage="parse"} 2',
                     'auditlog_agent_bulk_latency_seconds_bucket{le="0.025"} 1',
                     'auditlog_agent_lag_bytes{path="/var/log/a.jsonl",identity="id1"} 123'):
        assert expected in text


def test_served_on_metrics_path() -> None:
    """GET /metrics on the configured port answers the exposition."""
    m = Metrics()
    m.events_shipped = 7
    server = MetricsServer(m, "127.0.0.1", 0)
    server.start()
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=5).read().decode()
    finally:
        server.stop()
    assert "auditlog_agent_events_shipped_total 7" in body
