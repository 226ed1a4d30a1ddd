"""Local cluster layout and bookkeeping that need no running Elasticsearch."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from auditlog.indexer import es_cluster
from auditlog.indexer.es_cluster import ClusterConfig, LocalCluster, free_port_block, holds_cluster, recorded_nodes
from auditlog.indexer.es_node import NodeInfo, NodeStartError, port_in_use


def _cluster(tmp_path: Path, port: int = 9200) -> LocalCluster:
    return LocalCluster(ClusterConfig(state_dir=tmp_path, port=port, nodes=3), log=lambda _m: None)


def test_members_take_consecutive_http_ports() -> None:
    """Member n listens on PORT + n for HTTP."""
    assert [9200, 9201, 9202] == [m.port for m in _cluster(Path("/nonexistent")).members()]


def test_members_have_transport_ports_100_above() -> None:
    """Member n's transport port is PORT + 100 + n, as Elasticsearch's own 9200/9300 defaults."""
    peers = [m.config.peers for m in _cluster(Path("/nonexistent")).members()]
    assert [9300, 9301, 9302] == [p.transport_port for p in peers if p is not None]


def test_every_member_seeds_all_and_names_all_initial_masters() -> None:
    """Each member knows every transport address and every node name of the cluster."""
    peers = _cluster(Path("/nonexistent")).member(1).config.peers
    assert peers is not None
    assert (("127.0.0.1:9300", "127.0.0.1:9301", "127.0.0.1:9302"),
            ("auditlog-9200", "auditlog-9201", "auditlog-9202")) == (peers.seed_hosts, peers.initial_master_nodes)


def test_each_member_has_its_own_state_folder(tmp_path: Path) -> None:
    """Member n keeps config, data and logs in <state>/node-<n+1>."""
    assert [tmp_path / "node-1", tmp_path / "node-2", tmp_path / "node-3"] == [
        m.state for m in _cluster(tmp_path).members()]


def test_a_cluster_has_at_least_two_nodes() -> None:
    """A one-node cluster configuration is refused (that is the single node's job)."""
    with pytest.raises(ValueError, match="at least 2 nodes"):
        ClusterConfig(nodes=1)


def test_cluster_file_marks_the_folder(tmp_path: Path) -> None:
    """A folder with cluster.json holds a cluster of the recorded size; one without holds none."""
    before = (holds_cluster(tmp_path), recorded_nodes(tmp_path))
    (tmp_path / "cluster.json").write_text(json.dumps({"nodes": 3, "port": 9200, "secure": False}))
    assert [(False, None), (True, 3)] == [before, (holds_cluster(tmp_path), recorded_nodes(tmp_path))]


def test_start_refuses_a_single_node_folder(tmp_path: Path) -> None:
    """A state folder that holds a single node's data is not turned into a cluster."""
    (tmp_path / "data").mkdir()
    with pytest.raises(NodeStartError, match="holds a single node"):
        _cluster(tmp_path).start()


def test_free_port_block_is_free() -> None:
    """Every HTTP and transport port of the block found is free."""
    base = free_port_block(3)
    assert [] == [p for p in (base, base + 1, base + 2, base + 100, base + 101, base + 102) if port_in_use(p)]


def test_stop_without_members_is_a_no_op(tmp_path: Path) -> None:
    """Stopping a cluster of which nothing runs reports False (idempotent)."""
    assert _cluster(tmp_path).stop() is False


def test_waiting_for_an_index_asks_its_health_until_it_exists_and_is_green(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The wait for ``.security`` asks that index's health and goes on past "missing" and yellow until green."""
    answers: list[dict[str, Any] | OSError] = [
        OSError("HTTP 408 from /_cluster/health/.security"),
        {"status": "yellow", "number_of_nodes": 3},
        {"status": "green", "number_of_nodes": 3},
    ]
    asked: list[str] = []

    def answer(_info: NodeInfo, path: str, *_args: object, **_kwargs: object) -> dict[str, Any]:
        asked.append(path.split("?")[0])
        reply = answers.pop(0)
        if isinstance(reply, OSError):
            raise reply
        return reply

    monkeypatch.setattr(es_cluster, "request_json", answer)
    monkeypatch.setattr(es_cluster.time, "sleep", lambda _s: None)
    info = NodeInfo(url="https://127.0.0.1:9200", port=9200, pid=2, state_dir=tmp_path, secure=True,
                    version="9.5.4", log_path=tmp_path / "log")
    _cluster(tmp_path)._wait_formed([info], [], timeout=60, status="green", index=".security")
    assert (["/_cluster/health/.security"] * 3, []) == (asked, answers)


@pytest.mark.timeout(20)
def test_a_fifo_in_place_of_the_cluster_file_is_no_cluster_without_blocking(tmp_path: Path) -> None:
    """A FIFO where cluster.json goes is no cluster, at once: es status, stop and start no longer wait for a writer."""
    os.mkfifo(tmp_path / es_cluster.CLUSTER_FILE)
    assert recorded_nodes(tmp_path) is None
