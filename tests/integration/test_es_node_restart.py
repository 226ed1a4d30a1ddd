"""A local node stopped and started again on the same state folder keeps its data and its credentials."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from auditlog.indexer.es_node import LocalNode, NodeConfig, NodeInfo
from tests.support.node import node_state_dir, stop_test_node


def _start(state: Path, port: int, *, secure: bool) -> NodeInfo:
    return LocalNode(NodeConfig(state_dir=state, port=port, secure=secure, heap="512m"), log=lambda _: None).start()


def _stop(info: NodeInfo) -> None:
    LocalNode(NodeConfig(state_dir=info.state_dir, port=info.port)).stop()


@pytest.fixture
def state(tmp_path: Path) -> Iterator[Path]:
    """A state folder the node's user can enter, removed with the node afterwards."""
    path = node_state_dir(tmp_path)
    yield path
    node_json = path / "node.json"
    if node_json.is_file():
        info = NodeInfo.from_json(json.loads(node_json.read_text()))
        stop_test_node(info)


def test_plain_node_restart_keeps_documents(state: Path) -> None:
    """start -> write -> stop -> start on the same state folder: the document is still there."""
    first = _start(state, 0, secure=False)
    Elasticsearch(first.url).index(index="restart-check", id="1", document={"n": 1}, refresh=True)
    _stop(first)
    second = _start(state, first.port, secure=False)
    expected = (False, {"n": 1})
    assert expected == (second.already_running, Elasticsearch(second.url).get(index="restart-check", id="1")["_source"])


def test_secure_node_restart_keeps_credentials_ca_and_data(state: Path) -> None:
    """A second secure start reuses the first start's password, CA and API keys, and the document survives."""
    first = _start(state, 0, secure=True)
    assert first.password is not None and first.ca_path is not None
    ca_text = first.ca_path.read_text()
    admin = Elasticsearch(first.url, basic_auth=("elastic", first.password), ca_certs=str(first.ca_path))
    admin.index(index="restart-check", id="1", document={"n": 1}, refresh=True)
    key = admin.security.create_api_key(name="restart-check")["encoded"]
    admin.close()
    _stop(first)
    second = _start(state, first.port, secure=True)
    # the credentials and CA file printed by the first start, not the second start's answer
    again = Elasticsearch(first.url, basic_auth=("elastic", first.password), ca_certs=str(first.ca_path))
    by_key = Elasticsearch(first.url, api_key=key, ca_certs=str(first.ca_path))
    expected = (second.password, ca_text, {"n": 1}, "restart-check")
    assert expected == (first.password, Path(second.ca_path or "").read_text(),
                        again.get(index="restart-check", id="1")["_source"],
                        by_key.security.authenticate()["api_key"]["name"])


def test_reset_credentials_makes_a_new_password_and_ca(state: Path) -> None:
    """--reset-credentials replaces the password and CA: the old password is refused, the data stays."""
    first = _start(state, 0, secure=True)
    assert first.password is not None and first.ca_path is not None
    old_password, old_ca = first.password, first.ca_path.read_text()
    admin = Elasticsearch(first.url, basic_auth=("elastic", old_password), ca_certs=str(first.ca_path))
    admin.index(index="restart-check", id="1", document={"n": 1}, refresh=True)
    admin.close()
    _stop(first)
    second = LocalNode(NodeConfig(state_dir=state, port=first.port, secure=True, heap="512m", reset_credentials=True),
                       log=lambda _: None).start()
    assert second.password is not None and second.ca_path is not None
    fresh = Elasticsearch(second.url, basic_auth=("elastic", second.password), ca_certs=str(second.ca_path))
    expected = (True, True, {"n": 1})
    assert expected == (second.password != old_password, second.ca_path.read_text() != old_ca,
                        fresh.get(index="restart-check", id="1")["_source"])
