"""The status policy against the real node (write block, shard limit, wrong credentials) and an HTTP proxy
(413 body limit, 404 path): cluster refusals hold lines without dead-lettering them, 413 isolates one line."""

from __future__ import annotations

import signal
import uuid
from pathlib import Path
from typing import Any

import orjson
from elasticsearch import Elasticsearch

from auditlog.agent.deadletter import read_records
from auditlog.indexer.setup import install_templates
from auditlog.indexer.tiers import TierTable
from tests.integration.agent_support import (
    AgentProcess,
    InterceptProxy,
    append_lines,
    count,
    event_line,
    free_port,
    wait_count,
    wait_metric,
    write_config,
)
from tests.support.node import SecureNodeInfo
from tests.support.seed import cleanup_namespace

HELD = 'auditlog_agent_backpressure_total{{cause="{}"}}'


def _agent(tmp: Path, url: str, prefix: str, port: int, log: Path, **sections: dict[str, Any]) -> AgentProcess:
    cfg = write_config(tmp / "agent.toml", paths=[str(log)], state=tmp / "state", es_url=url, prefix=prefix,
                       metrics_port=port, **sections)
    return AgentProcess(cfg, tmp / "agent.log")


def test_write_block_holds_lines_until_lifted(es: Elasticsearch, es_url: str, namespace: TierTable,
                                              tmp_path: Path) -> None:
    """With index.blocks.write set, new lines are held (backpressure, not dead letters) and arrive once lifted."""
    install_templates(es, namespace)
    log, port = tmp_path / "audit.log", free_port()
    append_lines(log, (event_line(i) for i in range(30)))
    agent = _agent(tmp_path, es_url, namespace.prefix, port, log)
    agent.start()
    blocked = f"{namespace.prefix}-*"
    try:
        assert wait_count(es, namespace, 30) == 30
        es.indices.put_settings(index=blocked, settings={"index.blocks.write": True})
        append_lines(log, (event_line(i) for i in range(30, 60)))
        held = wait_metric(port, HELD.format("cluster_block"))
        during = count(es, namespace)
        es.indices.put_settings(index=blocked, settings={"index.blocks.write": None})
        arrived = wait_count(es, namespace, 60)
        status = agent.stop()
    finally:
        es.indices.put_settings(index=blocked, settings={"index.blocks.write": None})
        agent.ensure_stopped()
    logged = (tmp_path / "agent.log").read_text()
    assert (held > 0, during, arrived, list(read_records(tmp_path / "state")), status) == (True, 30, 60, [], 0)
    assert '"cause": "cluster_block"' in logged and '"level": "error"' in logged


def test_shard_limit_holds_a_new_day_until_raised(es: Elasticsearch, es_url: str, namespace: TierTable,
                                                 tmp_path: Path) -> None:
    """Lines for a daily index over cluster.max_shards_per_node wait (no dead letters) until the limit rises."""
    shards = es.cluster.health()["active_shards"]
    held, during, arrived, dead, status = _held_while_set(es, es_url, namespace, tmp_path, "shard_limit",
                                                          "cluster.max_shards_per_node", max(shards, 1))
    assert (held > 0, during <= 0, arrived, dead, status) == (True, True, 20, [], 0)


def _held_while_set(es: Elasticsearch, es_url: str, namespace: TierTable, tmp_path: Path, cause: str,
                    setting: str, value: Any) -> tuple[float, int, int, list[dict[str, Any]], int]:
    """Set the cluster ``setting`` to ``value``, ship 20 lines, wait for backpressure of ``cause``, reset it;
    return (held count, documents while held, documents after, dead letters, the agent's exit status)."""
    install_templates(es, namespace)
    log, port = tmp_path / "audit.log", free_port()
    append_lines(log, (event_line(i) for i in range(20)))
    es.cluster.put_settings(persistent={setting: value})
    try:
        agent = _agent(tmp_path, es_url, namespace.prefix, port, log)
        agent.start()
        try:
            held = wait_metric(port, HELD.format(cause))
            during = count(es, namespace)
            es.cluster.put_settings(persistent={setting: None})
            arrived = wait_count(es, namespace, 20)
            status = agent.stop()
        finally:
            agent.ensure_stopped()
    finally:
        es.cluster.put_settings(persistent={setting: None})
    return held, during, arrived, list(read_records(tmp_path / "state")), status


def test_wrong_credentials_hold_lines_until_fixed(secure_node: SecureNodeInfo, tmp_path: Path) -> None:
    """A wrong password holds every line (backpressure 'unauthorized'); after a fixed config and SIGHUP all arrive."""
    es = Elasticsearch(secure_node.url, ca_certs=secure_node.ca_certs,
                       basic_auth=(secure_node.username, secure_node.password), request_timeout=60)
    tiers = TierTable(prefix=f"t{uuid.uuid4().hex[:10]}-audit")
    install_templates(es, tiers)
    log, port = tmp_path / "audit.log", free_port()
    append_lines(log, (event_line(i) for i in range(50)))
    conn = {"ca_certs": secure_node.ca_certs, "username": secure_node.username}
    agent = _agent(tmp_path, secure_node.url, tiers.prefix, port, log,
                   elasticsearch=conn | {"password": "wrong-password-for-test"})
    agent.start()
    try:
        held = wait_metric(port, HELD.format("unauthorized"))
        during = count(es, tiers)
        write_config(tmp_path / "agent.toml", paths=[str(log)], state=tmp_path / "state", es_url=secure_node.url,
                     prefix=tiers.prefix, metrics_port=port, elasticsearch=conn | {"password": secure_node.password})
        agent.signal(signal.SIGHUP)
        arrived = wait_count(es, tiers, 50)
        status = agent.stop()
    finally:
        agent.ensure_stopped()
        cleanup_namespace(es, tiers)
        es.close()
    logged = (tmp_path / "agent.log").read_text()
    assert (held > 0, during <= 0, arrived, list(read_records(tmp_path / "state")), status) == (True, True, 50, [], 0)
    assert secure_node.password not in logged and "wrong-password-for-test" not in logged


def test_413_splits_and_dead_letters_only_the_oversized_line(es: Elasticsearch, es_url: str, namespace: TierTable,
                                                            tmp_path: Path) -> None:
    """Behind a proxy with a 64 KiB body limit a 100 KiB line is dead-lettered as 413; the 40 around it arrive."""
    install_templates(es, namespace)
    limit = 64 * 1024

    def body_limit(method: str, path: str, body: bytes) -> tuple[int, str, bytes] | None:
        if len(body) > limit:
            return 413, "text/html", b"<html><body><h1>413 Request Entity Too Large</h1></body></html>"
        return None

    proxy = InterceptProxy(es_url, body_limit)
    url = proxy.start()
    big = orjson.loads(event_line(20))
    big["message"] = "y" * 100_000
    log, port = tmp_path / "audit.log", free_port()
    append_lines(log, [*(event_line(i) for i in range(20)), orjson.dumps(big) + b"\n",
                       *(event_line(i) for i in range(21, 41))])
    agent = _agent(tmp_path, url, namespace.prefix, port, log, batch={"max_events": 500, "max_latency": 1.0})
    agent.start()
    try:
        arrived = wait_count(es, namespace, 40)
        agent.stop()
    finally:
        agent.ensure_stopped()
        proxy.stop()
    dead = [(r["offset"], r["reason"].split(":")[0]) for r in read_records(tmp_path / "state")]
    offset = sum(len(event_line(i)) for i in range(20))
    assert (arrived, dead, proxy.intercepted >= 2) == (40, [(offset, "413 request entity too large")], True)


def test_404_from_a_proxy_is_backpressure(es: Elasticsearch, es_url: str, namespace: TierTable, tmp_path: Path) -> None:
    """A whole-request 404 (a proxy's wrong path) holds the lines; once the path works they all arrive."""
    install_templates(es, namespace)
    broken = [True]

    def not_found(method: str, path: str, body: bytes) -> tuple[int, str, bytes] | None:
        if broken[0] and "/_bulk" in path:
            return 404, "text/plain", b"no route"
        return None

    proxy = InterceptProxy(es_url, not_found)
    url = proxy.start()
    log, port = tmp_path / "audit.log", free_port()
    append_lines(log, (event_line(i) for i in range(30)))
    agent = _agent(tmp_path, url, namespace.prefix, port, log)
    agent.start()
    try:
        held = wait_metric(port, HELD.format("not_found"))
        broken[0] = False
        arrived = wait_count(es, namespace, 30)
        status = agent.stop()
    finally:
        agent.ensure_stopped()
        proxy.stop()
    assert (held > 0, arrived, list(read_records(tmp_path / "state")), status) == (True, 30, [], 0)


def _held_then_arrive(es: Elasticsearch, es_url: str, namespace: TierTable, tmp_path: Path, cause: str,
                      block: dict[str, Any], lift: dict[str, Any], *, index_level: bool) -> tuple[bool, int, int]:
    """Ship 20 lines, apply ``block`` (index or cluster settings), write 20 more, wait for backpressure of
    ``cause``, lift it; return (held, count while held, count after)."""
    install_templates(es, namespace)
    log, port = tmp_path / "audit.log", free_port()
    append_lines(log, (event_line(i) for i in range(20)))
    agent = _agent(tmp_path, es_url, namespace.prefix, port, log)
    agent.start()

    def apply(settings: dict[str, Any]) -> None:
        if index_level:
            es.indices.put_settings(index=f"{namespace.prefix}-*", settings=settings)
        else:
            es.cluster.put_settings(persistent=settings)

    try:
        assert wait_count(es, namespace, 20) == 20
        apply(block)
        append_lines(log, (event_line(i) for i in range(20, 40)))
        held = wait_metric(port, HELD.format(cause)) > 0
        during = count(es, namespace)
        apply(lift)
        arrived = wait_count(es, namespace, 40)
        assert agent.stop() == 0
    finally:
        apply(lift)
        agent.ensure_stopped()
    assert list(read_records(tmp_path / "state")) == []
    return held, during, arrived


def test_flood_stage_block_holds_lines_until_lifted(es: Elasticsearch, es_url: str, namespace: TierTable,
                                                    tmp_path: Path) -> None:
    """The flood-stage watermark's read_only_allow_delete block (items answered 429) is backpressure."""
    got = _held_then_arrive(es, es_url, namespace, tmp_path, "cluster_block",
                            {"index.blocks.read_only_allow_delete": True},
                            {"index.blocks.read_only_allow_delete": None}, index_level=True)
    assert got == (True, 20, 40)


def test_cluster_read_only_holds_lines_until_lifted(es: Elasticsearch, es_url: str, namespace: TierTable,
                                                   tmp_path: Path) -> None:
    """cluster.blocks.read_only (the whole request answered 403 cluster_block_exception) is backpressure."""
    got = _held_then_arrive(es, es_url, namespace, tmp_path, "cluster_block", {"cluster.blocks.read_only": True},
                            {"cluster.blocks.read_only": None}, index_level=False)
    assert got == (True, 20, 40)


def test_missing_index_without_auto_create_holds_lines(es: Elasticsearch, es_url: str, namespace: TierTable,
                                                       tmp_path: Path) -> None:
    """With action.auto_create_index off, a new day's index is missing (items 404): held until it is allowed."""
    held, during, arrived, dead, status = _held_while_set(es, es_url, namespace, tmp_path, "index_missing",
                                                          "action.auto_create_index", "false")
    assert (held > 0, during <= 0, arrived, dead, status) == (True, True, 20, [], 0)

