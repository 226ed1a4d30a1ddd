"""Dead letters rejected by Elasticsearch and `auditlog dlq replay` after the cause is fixed (idempotent)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from auditlog.agent.deadletter import read_records
from auditlog.cli import main
from auditlog.indexer.setup import install_templates
from auditlog.indexer.tiers import TierTable
from tests.integration.agent_support import AgentProcess, append_lines, count, event_line, wait_count, write_config


def test_replay_after_fix_ships_once(
    es: Elasticsearch, es_url: str, namespace: TierTable, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Items refused by a write block are dead-lettered; after unblocking, replay ships them, twice is a no-op."""
    install_templates(es, namespace)
    log = tmp_path / "audit.log"
    append_lines(log, (event_line(i) for i in range(60)))
    cfg = write_config(tmp_path / "agent.toml", paths=[str(log)], state=tmp_path / "state", es_url=es_url,
                       prefix=namespace.prefix)
    agent = AgentProcess(cfg, tmp_path / "agent.log")
    agent.start()
    try:
        assert wait_count(es, namespace, 60) == 60
        es.indices.put_settings(index=namespace.read_pattern, settings={"index.blocks.write": True})
        append_lines(log, (event_line(i) for i in range(60, 90)))
        for _ in range(100):
            if len(list(read_records(tmp_path / "state"))) >= 30:
                break
            wait_count(es, namespace, 10**9, timeout=0.2)
        assert agent.stop() == 0
    finally:
        agent.ensure_stopped()
    records = list(read_records(tmp_path / "state"))
    assert (len(records), "cluster_block_exception" in records[0]["reason"]) == (30, True)
    es.indices.put_settings(index=namespace.read_pattern, settings={"index.blocks.write": False})
    assert main(["dlq", "replay", "--config", str(cfg)]) == 0
    first = capsys.readouterr().out
    assert main(["dlq", "replay", "--config", str(cfg)]) == 0
    second = capsys.readouterr().out
    assert main(["dlq", "list", "--state-dir", str(tmp_path / "state")]) == 0
    listed = [json.loads(ln) for ln in capsys.readouterr().out.splitlines() if ln]
    assert (count(es, namespace), first.strip(), second.strip(), listed) == (
        90, "replayed 30 dead letters; 0 still failing", "replayed 0 dead letters; 0 still failing", [])


def test_replay_keeps_what_still_fails(
    es: Elasticsearch, es_url: str, namespace: TierTable, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A dead letter that is still invalid stays listed and replay exits 1 naming the reason."""
    log = tmp_path / "audit.log"
    append_lines(log, [b"{broken\n"])
    cfg = write_config(tmp_path / "agent.toml", paths=[str(log)], state=tmp_path / "state", es_url=es_url,
                       prefix=namespace.prefix)
    from auditlog.agent.deadletter import DeadLetter, DeadLetterWriter

    w = DeadLetterWriter(tmp_path / "state")
    w.write(DeadLetter("invalid JSON", b"{broken", 0, str(log), "x:y:z:0"))
    w.close()
    assert main(["dlq", "replay", "--config", str(cfg)]) == 1
    err = capsys.readouterr().err
    assert ("invalid JSON" in err, len(list(read_records(tmp_path / "state")))) == (True, 1)
