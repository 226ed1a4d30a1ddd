"""The agent against the security-enabled TLS node: CA file + basic auth from the environment, no secret in logs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from elasticsearch import Elasticsearch

from auditlog.indexer.setup import install_templates, run_setup
from auditlog.indexer.tiers import TierTable
from tests.integration.agent_support import AgentProcess, append_lines, event_line, wait_count, write_config
from tests.support.node import SecureNodeInfo
from tests.support.seed import cleanup_namespace
from tests.support.waiting import wait_until


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


def _today_line(i: int) -> bytes:
    """``event_line(i)`` dated a minute ago: today's daily index, which setup created ahead."""
    event = orjson.loads(event_line(i))
    event["@timestamp"] = (datetime.now(UTC) - timedelta(minutes=1)).isoformat(timespec="milliseconds")[:23] + "Z"
    return orjson.dumps(event) + b"\n"


def test_the_writer_key_ships_today_s_and_late_days_events_and_their_digests(secure_node: SecureNodeInfo,
                                                                               tmp_path: Path) -> None:
    """With the writer key of `setup --api-keys` (daily names only) the agent ships events of today and of three
    late days, whose indices it auto-creates, and a digest for each of those indices."""
    es = Elasticsearch(secure_node.url, ca_certs=secure_node.ca_certs,
                       basic_auth=(secure_node.username, secure_node.password), request_timeout=60)
    tiers = TierTable(prefix=f"t{uuid.uuid4().hex[:10]}-audit")
    writer = next(k for k in run_setup(es, tiers, api_keys=True, key_expiration="1h").api_keys if k.role == "writer")
    log = tmp_path / "audit.log"
    append_lines(log, [*(event_line(i) for i in range(60)), *(_today_line(i) for i in range(60, 66))])
    cfg = write_config(tmp_path / "agent.toml", paths=[str(log)], state=tmp_path / "state", es_url=secure_node.url,
                       prefix=tiers.prefix, elasticsearch={"ca_certs": secure_node.ca_certs},
                       digest={"interval": 0.2})
    agent = AgentProcess(cfg, tmp_path / "agent.log", env={"AUDITLOG_ES_API_KEY": writer.encoded})
    agent.start()
    try:
        arrived = wait_count(es, tiers, 66)
        events = sorted(i for i, n in es.indices.stats(index=tiers.read_pattern)["indices"].items()
                        if n["primaries"]["docs"]["count"])
        wanted = sorted(tiers.digest_index_for_day(*parsed) for i in events if (parsed := tiers.parse_index(i)))

        def digested() -> bool:
            es.options(ignore_status=404).indices.refresh(index=tiers.digest_pattern, allow_no_indices=True)
            return sorted(es.indices.get(index=tiers.digest_pattern, allow_no_indices=True)) == wanted

        sealed = wait_until(digested, timeout=30.0)
        status = agent.stop()
    finally:
        agent.ensure_stopped()
        es.options(ignore_status=404).security.invalidate_api_key(name=f"{tiers.prefix}-*")
        cleanup_namespace(es, tiers)
        es.close()
    # event_line's tier and day go together (i % 6, i % 3): five late (class, day) indices, and today's three
    assert (arrived, len(events), sealed, status) == (66, 8, True, 0), (tmp_path / "agent.log").read_text()[-3000:]
