"""Two agents on one state directory against the real node: the second refuses to start, the first ships all."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

from elasticsearch import Elasticsearch

from auditlog.indexer.setup import install_templates
from auditlog.indexer.tiers import TierTable
from tests.integration.agent_support import AgentProcess, event_line, wait_count, write_config
from tests.support.seed import cleanup_namespace


def test_a_second_agent_on_the_same_state_dir_is_refused(es: Elasticsearch, es_url: str, tmp_path: Path) -> None:
    """The second exits 1 naming the first's pid and ships nothing; the first delivers every line once."""
    tiers = TierTable(prefix=f"t{uuid.uuid4().hex[:10]}-audit")
    install_templates(es, tiers)
    log = tmp_path / "audit.jsonl"
    log.write_bytes(b"".join(event_line(i) for i in range(50)))
    config = write_config(tmp_path / "agent.toml", paths=[str(log)], state=tmp_path / "state", es_url=es_url,
                          prefix=tiers.prefix)
    first = AgentProcess(config, tmp_path / "first.log")
    first.start()
    try:
        first.wait_started()
        second = subprocess.run([sys.executable, "-m", "auditlog.cli", "agent", "--config", str(config)],
                                capture_output=True, text=True, timeout=60)
        arrived = wait_count(es, tiers, 50)
        status = first.stop()
    finally:
        first.ensure_stopped()
        cleanup_namespace(es, tiers)
    assert (1, True, 50, 0) == (second.returncode,
                                f"is in use by another agent (pid {first.proc.pid if first.proc else '?'})"
                                in second.stderr, arrived, status)
