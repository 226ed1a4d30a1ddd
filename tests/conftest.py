"""Shared fixtures: a real Elasticsearch 9 node for the session and a clean index namespace per test.

The node is started with the same code as ``auditlog es start`` on a free port, unless
``AUDITLOG_TEST_ES_URL`` points at one already running. A node that cannot start fails the tests
that need it, with the node's log tail in the message: nothing here skips.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from auditlog.indexer.tiers import TierTable
from tests.support.node import SecureNodeInfo
from tests.support.seed import cleanup_namespace

_NODE_FACTS: dict[str, str] = {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark everything under tests/integration as an integration test."""
    for item in items:
        if "/tests/integration/" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.integration)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say which real Elasticsearch node the integration tests used, and how many ran."""
    reports = [r for key in ("passed", "failed") for r in terminalreporter.stats.get(key, [])
               if getattr(r, "when", "") == "call" and "integration" in getattr(r, "keywords", {})]
    if _NODE_FACTS:
        terminalreporter.write_line(
            f"integration: {len(reports)} tests ran against a real Elasticsearch "
            f"{_NODE_FACTS.get('version', '?')} at {_NODE_FACTS.get('url', '?')} ({_NODE_FACTS.get('origin', '?')})"
        )


@pytest.fixture(scope="session")
def es_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a running Elasticsearch 9 node (security off)."""
    external = os.environ.get("AUDITLOG_TEST_ES_URL")
    if external:
        yield external
        return
    from tests.support.node import start_test_node, stop_test_node

    node = start_test_node(tmp_path_factory.mktemp("es-node"), secure=False)
    try:
        yield node.url
    finally:
        stop_test_node(node)


@pytest.fixture(scope="session")
def es(es_url: str) -> Iterator[Elasticsearch]:
    """A client for the session's node."""
    client = Elasticsearch(es_url, request_timeout=60)
    nodes = client.nodes.info(node_id="_local")["nodes"]
    _NODE_FACTS.update(url=es_url, version=next(iter(nodes.values()))["version"],
                       origin="AUDITLOG_TEST_ES_URL" if os.environ.get("AUDITLOG_TEST_ES_URL") else
                       "started by this test session")
    yield client
    client.close()


@pytest.fixture(scope="session")
def secure_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureNodeInfo]:
    """A second node with security and TLS on (``auditlog es start --secure``)."""
    from tests.support.node import secure_node_info, start_test_node, stop_test_node

    info = secure_node_info()
    if info is not None:
        yield info
        return
    node = start_test_node(tmp_path_factory.mktemp("es-secure-node"), secure=True)
    try:
        yield SecureNodeInfo.from_node(node)
    finally:
        stop_test_node(node)


@pytest.fixture
def namespace(es: Elasticsearch) -> Iterator[TierTable]:
    """A tier table with an index prefix of its own; its indices, digests and templates are deleted afterwards."""
    prefix = f"t{uuid.uuid4().hex[:10]}-audit"
    tiers = TierTable(prefix=prefix)
    yield tiers
    cleanup_namespace(es, tiers)


@pytest.fixture
def repo_root() -> Path:
    """The repository's top folder."""
    return Path(__file__).resolve().parents[1]
