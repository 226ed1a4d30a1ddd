"""The bench reads the agent's time split from its own metrics endpoint."""

from __future__ import annotations

from pathlib import Path

from auditlog.agent.metrics import Metrics, MetricsServer, Part
from bench import agent_split


def test_metrics_url_is_read_from_the_agent_log(tmp_path: Path) -> None:
    """The URL of the agent's 'metrics endpoint' log line is found among other lines."""
    log = tmp_path / "shipper.log"
    log.write_text('{"event": "agent started"}\nnot json\n'
                   '{"url": "http://127.0.0.1:4711/metrics", "event": "metrics endpoint", "level": "info"}\n')
    assert "http://127.0.0.1:4711/metrics" == agent_split.metrics_url(log)


def test_parts_scraped_twice_give_the_time_spent_in_between() -> None:
    """Two scrapes of a running metrics server differ by the seconds added between them, per part."""
    m = Metrics()
    server = MetricsServer(m, "127.0.0.1", 0)
    server.start()
    try:
        url = f"http://127.0.0.1:{server.port}/metrics"
        m.spent(Part.READING, 1.0)
        before = agent_split.scrape_parts(url)
        m.spent(Part.READING, 0.25)
        m.spent(Part.SLOT_WAIT, 2.0)
        after = agent_split.scrape_parts(url)
    finally:
        server.stop()
    diff = agent_split.difference(before, after)
    assert diff is not None
    assert (0.25, 2.0, 0.0) == (diff["reading"], diff["slot_wait"], diff["acknowledging"])
