"""Same id, different content: identical re-sends stay silent, a second event reusing an id is an id_conflict."""

from __future__ import annotations

from pathlib import Path

import orjson
from elasticsearch import Elasticsearch

from auditlog.agent.deadletter import read_records
from auditlog.indexer.setup import install_templates
from auditlog.indexer.tiers import TierTable
from tests.integration.agent_support import (
    AgentProcess,
    append_lines,
    event_line,
    free_port,
    scrape,
    wait_count,
    wait_metric,
    write_config,
)


def _shipped_forty(es: Elasticsearch, es_url: str, namespace: TierTable,
                   tmp_path: Path) -> tuple[Path, int, AgentProcess]:
    """A running agent (metrics on) that has shipped 40 events of one log: the log, the metrics port, the agent."""
    install_templates(es, namespace)
    log, port = tmp_path / "audit.log", free_port()
    append_lines(log, (event_line(i) for i in range(40)))
    cfg = write_config(tmp_path / "agent.toml", paths=[str(log)], state=tmp_path / "state", es_url=es_url,
                       prefix=namespace.prefix, metrics_port=port)
    agent = AgentProcess(cfg, tmp_path / "agent.log")
    agent.start()
    try:
        assert wait_count(es, namespace, 40) == 40
    except BaseException:
        agent.ensure_stopped()
        raise
    return log, port, agent


def test_reused_id_with_other_content_is_dead_lettered(es: Elasticsearch, es_url: str, namespace: TierTable,
                                                       tmp_path: Path) -> None:
    """A line reusing a shipped event.id with another message is dead-lettered as id_conflict and counted;
    the same line written again is a silent duplicate."""
    log, port, agent = _shipped_forty(es, es_url, namespace, tmp_path)
    try:
        forged = orjson.loads(event_line(3))
        forged["message"] = "a different event under the same id"
        conflict_at = log.stat().st_size
        append_lines(log, [orjson.dumps(forged) + b"\n", event_line(5)])
        conflicts = wait_metric(port, "auditlog_agent_id_conflicts_total")
        wait_metric(port, "auditlog_agent_events_duplicate_total")
        metrics = scrape(port)
        status = agent.stop()
    finally:
        agent.ensure_stopped()
    dead = [(r["offset"], r["reason"].split(":")[0]) for r in read_records(tmp_path / "state")]
    got = (conflicts, metrics["auditlog_agent_events_duplicate_total"], dead, wait_count(es, namespace, 40), status)
    assert got == (1, 1, [(conflict_at, "id_conflict")], 40, 0)


def test_a_reused_id_routed_to_another_index_is_dead_lettered_before_it_is_sent(
    es: Elasticsearch, es_url: str, namespace: TierTable, tmp_path: Path,
) -> None:
    """A second event under a shipped event.id whose tier (another class's index) or day (another daily index) differs
    is dead-lettered as id_conflict and counted; Elasticsearch, which would have stored it beside the first without a
    409, holds the first only."""
    log, port, agent = _shipped_forty(es, es_url, namespace, tmp_path)
    try:
        other_tier, other_day = orjson.loads(event_line(3)), orjson.loads(event_line(4))
        other_tier["audit"]["tier"] = "enterprise" if other_tier["audit"]["tier"] != "enterprise" else "business"
        other_day["@timestamp"] = orjson.loads(event_line(5))["@timestamp"]  # the next day's index
        at = log.stat().st_size
        append_lines(log, [orjson.dumps(other_tier) + b"\n", orjson.dumps(other_day) + b"\n", event_line(40)])
        assert wait_count(es, namespace, 41) == 41
        conflicts = wait_metric(port, "auditlog_agent_id_conflicts_total", 2)
        status = agent.stop()
    finally:
        agent.ensure_stopped()
    dead = [(r["offset"], r["reason"].split(":")[0]) for r in read_records(tmp_path / "state")]
    second = at + len(orjson.dumps(other_tier)) + 1
    es.indices.refresh(index=namespace.read_pattern)
    stored = es.search(index=namespace.read_pattern, query={"ids": {"values": ["ev-00000003", "ev-00000004"]}})
    assert (conflicts, dead, stored["hits"]["total"]["value"], status) == (
        2, [(at, "id_conflict"), (second, "id_conflict")], 2, 0)
