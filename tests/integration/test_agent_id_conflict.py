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


def test_reused_id_with_other_content_is_dead_lettered(es: Elasticsearch, es_url: str, namespace: TierTable,
                                                       tmp_path: Path) -> None:
    """A line reusing a shipped event.id with another message is dead-lettered as id_conflict and counted;
    the same line written again is a silent duplicate."""
    install_templates(es, namespace)
    log, port = tmp_path / "audit.log", free_port()
    append_lines(log, (event_line(i) for i in range(40)))
    cfg = write_config(tmp_path / "agent.toml", paths=[str(log)], state=tmp_path / "state", es_url=es_url,
                       prefix=namespace.prefix, metrics_port=port)
    agent = AgentProcess(cfg, tmp_path / "agent.log")
    agent.start()
    try:
        assert wait_count(es, namespace, 40) == 40
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
