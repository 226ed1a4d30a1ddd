"""Elasticsearch unavailable, then back: reading pauses (bounded memory), nothing is lost, 429s are retried."""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path

from elasticsearch import Elasticsearch

from auditlog.agent.status import collect
from auditlog.indexer.setup import install_templates
from auditlog.indexer.tiers import TierTable
from bench.proxy import CuttableProxy
from tests.integration.agent_support import (
    AgentProcess,
    Reject429Proxy,
    append_lines,
    count,
    event_line,
    free_port,
    ids,
    wait_count,
    write_config,
)


def test_outage_pauses_reading_and_loses_nothing(
    es: Elasticsearch, es_url: str, namespace: TierTable, tmp_path: Path
) -> None:
    """With the node unreachable the agent stops reading and stays small; once it is back every line arrives."""
    install_templates(es, namespace)
    proxy = CuttableProxy(es_url)
    proxy.start()
    log = tmp_path / "audit.log"
    append_lines(log, (event_line(i) for i in range(2000)))
    cfg = write_config(tmp_path / "agent.toml", paths=[str(log)], state=tmp_path / "state", es_url=proxy.url,
                       prefix=namespace.prefix, batch={"max_events": 200, "max_in_flight": 2, "workers": 1})
    agent = AgentProcess(cfg, tmp_path / "agent.log")
    agent.start()
    try:
        assert wait_count(es, namespace, 2000) == 2000
        rss_before = agent.rss_kib()
        proxy.cut()
        total = 2000
        for _burst in range(10):  # keep writing while the node is away: 20,000 more lines
            append_lines(log, (event_line(i) for i in range(total, total + 2000)))
            total += 2000
            time.sleep(0.3)
        time.sleep(1.0)
        lag = sum(f.lag_bytes for f in collect(tmp_path / "state"))
        arrived_during_outage = count(es, namespace)
        rss_during = agent.rss_kib()
        proxy.restore()
        arrived = wait_count(es, namespace, total, timeout=90)
        status = agent.stop()
    finally:
        agent.ensure_stopped()
        proxy.cut()
    print(f"RSS before outage {rss_before} KiB, during {rss_during} KiB, lag during outage {lag} bytes")
    assert arrived_during_outage == 2000
    assert lag > 10 * 1024 * 1024 * 0.3  # most of the ~5 MB written during the outage waits in the file
    assert rss_during - rss_before < 40 * 1024, "memory grew with the backlog instead of staying flat"
    assert (arrived, len({d for d, _e in ids(es, namespace)}), status) == (total, total, 0)


def test_429_items_are_retried_until_accepted(
    es: Elasticsearch, es_url: str, namespace: TierTable, tmp_path: Path
) -> None:
    """Bulk items answered 429 are re-sent (only those) until Elasticsearch accepts them."""
    install_templates(es, namespace)
    proxy = Reject429Proxy(es_url, budget=700)
    url = proxy.start()
    log = tmp_path / "audit.log"
    append_lines(log, (event_line(i) for i in range(1000)))
    port = free_port()
    cfg = write_config(tmp_path / "agent.toml", paths=[str(log)], state=tmp_path / "state", es_url=url,
                       prefix=namespace.prefix, metrics_port=port, batch={"max_events": 300})
    agent = AgentProcess(cfg, tmp_path / "agent.log")
    agent.start()
    try:
        arrived = wait_count(es, namespace, 1000)
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        status = agent.stop()
    finally:
        agent.ensure_stopped()
        proxy.stop()
    values = {ln.split()[0]: int(float(ln.split()[-1])) for ln in metrics.splitlines()
              if ln.startswith("auditlog_agent_") and "{" not in ln}
    assert (arrived, proxy.rejected, len(ids(es, namespace)), status) == (1000, 700, 1000, 0)
    assert values["auditlog_agent_bulk_retries_total"] >= 700
    # every line is accounted for: read = shipped + already there (+ dead-lettered: none here)
    assert values["auditlog_agent_lines_read_total"] == (
        values["auditlog_agent_events_shipped_total"] + values["auditlog_agent_events_duplicate_total"])


def test_sigterm_during_outage_exits_0_within_bound_and_resumes(
    es: Elasticsearch, es_url: str, namespace: TierTable, tmp_path: Path
) -> None:
    """SIGTERM while the node is unreachable exits 0 within shutdown.timeout; the next run ships everything."""
    install_templates(es, namespace)
    proxy = CuttableProxy(es_url)  # not started: nothing listens yet
    log = tmp_path / "audit.log"
    append_lines(log, (event_line(i) for i in range(3000)))
    cfg = write_config(tmp_path / "agent.toml", paths=[str(log)], state=tmp_path / "state", es_url=proxy.url,
                       prefix=namespace.prefix, shutdown={"timeout": 2.0})
    agent = AgentProcess(cfg, tmp_path / "agent.log")
    agent.start()
    try:
        agent.wait_started()
        time.sleep(1.0)
        started = time.monotonic()
        status = agent.stop(timeout=30)
        took = time.monotonic() - started
        proxy.start()
        agent.start()
        arrived = wait_count(es, namespace, 3000)
        second = agent.stop()
    finally:
        agent.ensure_stopped()
        proxy.cut()
    assert (status, took < 2.0 + 3.0, arrived, second) == (0, True, 3000, 0)
