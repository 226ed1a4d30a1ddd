"""A real Elasticsearch node stopped under load and started again: nothing lost, no duplicate, RSS flat.

The agent ships to a node of its own (``indexer.es_node.LocalNode``, the code behind ``auditlog es``),
which is stopped while lines keep being written and started again on the same port and data folder.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from elasticsearch import Elasticsearch

from auditlog.indexer.es_node import LocalNode, NodeConfig
from auditlog.indexer.setup import install_templates
from auditlog.indexer.tiers import TierTable
from tests.integration.agent_support import (
    AgentProcess,
    append_lines,
    count,
    event_line,
    free_port,
    ids,
    wait_count,
    write_config,
)


def test_node_stopped_and_restarted_under_load_loses_nothing(tmp_path: Path) -> None:
    """Lines written while the node is down arrive once it is back; the agent's memory does not follow the backlog."""
    port = free_port()
    state = Path(tempfile.mkdtemp(prefix="auditlog-test-es-", dir="/var/tmp"))
    node = LocalNode(NodeConfig(state_dir=state, port=port, heap="512m"), log=lambda _m: None)
    url = node.start().url
    es = Elasticsearch(url, request_timeout=60)
    tiers = TierTable(prefix="restart-audit")
    log = tmp_path / "audit.log"
    agent = AgentProcess(write_config(tmp_path / "agent.toml", paths=[str(log)], state=tmp_path / "state",
                                      es_url=url, prefix=tiers.prefix), tmp_path / "agent.log")
    try:
        install_templates(es, tiers)
        append_lines(log, (event_line(i) for i in range(3000)))
        agent.start()
        assert wait_count(es, tiers, 3000) == 3000
        rss_before = agent.rss_kib()
        node.stop()
        for start in range(3000, 13000, 1000):  # keep writing while the node is down
            append_lines(log, (event_line(i) for i in range(start, start + 1000)))
            time.sleep(0.2)
        time.sleep(2.0)
        rss_down = agent.rss_kib()
        node.start()
        arrived = wait_count(es, tiers, 13000, timeout=120)
        status = agent.stop()
        docs = ids(es, tiers)
        extra = count(es, tiers)
    finally:
        agent.ensure_stopped()
        es.close()
        node.stop()
        shutil.rmtree(state, ignore_errors=True)
    print(f"RSS before stop {rss_before} KiB, while down {rss_down} KiB")
    assert (arrived, extra, len({d for d, _e in docs}), status) == (13000, 13000, 13000, 0)
    assert rss_down - rss_before < 40 * 1024
