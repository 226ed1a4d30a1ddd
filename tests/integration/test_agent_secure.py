"""The agent against the security-enabled TLS node: CA file + basic auth from the environment, no secret in logs."""

from __future__ import annotations

import uuid
from pathlib import Path

from elasticsearch import Elasticsearch

from auditlog.indexer.setup import install_templates
from auditlog.indexer.tiers import TierTable
from tests.integration.agent_support import AgentProcess, append_lines, event_line, wait_count, write_config
from tests.support.node import SecureNodeInfo
from tests.support.seed import cleanup_namespace


def test_ships_over_tls_with_credentials_from_env(secure_node: SecureNodeInfo, tmp_path: Path) -> None:
    """With the CA file configured and credentials in the environment every line arrives; logs hold no password."""
    es = Elasticsearch(secure_node.url, ca_certs=secure_node.ca_certs,
                       basic_auth=(secure_node.username, secure_node.password), request_timeout=60)
    tiers = TierTable(prefix=f"t{uuid.uuid4().hex[:10]}-audit")
    install_templates(es, tiers)
    log = tmp_path / "audit.log"
    append_lines(log, (event_line(i) for i in range(300)))
    cfg = write_config(tmp_path / "agent.toml", paths=[str(log)], state=tmp_path / "state", es_url=secure_node.url,
                       prefix=tiers.prefix, elasticsearch={"ca_certs": secure_node.ca_certs})
    agent = AgentProcess(cfg, tmp_path / "agent.log", env={"AUDITLOG_ES_USERNAME": secure_node.username,
                                                            "AUDITLOG_ES_PASSWORD": secure_node.password})
    agent.start()
    try:
        arrived = wait_count(es, tiers, 300)
        status = agent.stop()
    finally:
        agent.ensure_stopped()
        cleanup_namespace(es, tiers)
        es.close()
    logged = (tmp_path / "agent.log").read_text()
    assert (arrived, status, secure_node.password in logged, '"auth": "basic"' in logged) == (300, 0, False, True)
