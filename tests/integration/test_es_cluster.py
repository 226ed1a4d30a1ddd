"""`auditlog es start --nodes 3 --secure`: a local three-node cluster with security, as a user starts it.

One cluster for the module (starting one takes a minute or two on a loaded machine); the tests run in
file order and the last one stops it.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from auditlog.indexer.es_cluster import free_port_block
from auditlog.indexer.es_node import group_alive


@dataclass(frozen=True)
class Started:
    """The cluster the module started: first port, state folder, what `es start` printed."""

    port: int
    state: Path
    stdout: str

    def where(self) -> list[str]:
        return ["--port", str(self.port), "--state-dir", str(self.state)]

    @property
    def password(self) -> str:
        return (self.state / "node-1" / "elastic-password").read_text().strip()

    @property
    def ca(self) -> Path:
        return self.state / "node-1" / "ca.crt"

    def urls(self) -> str:
        return ",".join(f"https://127.0.0.1:{self.port + i}" for i in range(3))

    def get(self, port: int, path: str) -> Any:
        request = urllib.request.Request(f"https://127.0.0.1:{port}{path}")
        token = base64.b64encode(f"elastic:{self.password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
        context = ssl.create_default_context(cafile=str(self.ca))
        with urllib.request.urlopen(request, timeout=30, context=context) as resp:
            return json.loads(resp.read())


def _auditlog(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("AUDITLOG_ES_")}
    return subprocess.run([sys.executable, "-m", "auditlog.cli", *args], capture_output=True, text=True,
                          timeout=600, check=False, env=base | (env or {}))


@pytest.fixture(scope="module")
def cluster() -> Iterator[Started]:
    """A secure three-node cluster started with the CLI; stopped and removed afterwards."""
    state = Path(tempfile.mkdtemp(prefix="auditlog-test-es-", dir="/var/tmp"))
    state.chmod(0o755)
    port = free_port_block(3)
    done = _auditlog("es", "start", "--nodes", "3", "--secure", "--port", str(port), "--state-dir", str(state))
    started = Started(port, state, done.stdout)
    try:
        assert done.returncode == 0, f"es start --nodes 3 --secure failed: {done.stderr[-3000:]}"
        yield started
    finally:
        _auditlog("es", "stop", *started.where())
        shutil.rmtree(state, ignore_errors=True)


def test_start_says_the_cluster_is_ready_at_three_urls(cluster: Started) -> None:
    """`es start --nodes 3` prints one line naming all three HTTPS URLs."""
    assert f"cluster of 3 nodes is ready at {cluster.urls()}" in cluster.stdout


def test_every_node_answers_as_a_member_of_one_green_cluster(cluster: Started) -> None:
    """Each member, asked over HTTPS as elastic, reports the same green cluster of three nodes."""
    answers = [cluster.get(cluster.port + i, "/_cluster/health") for i in range(3)]
    assert [("green", 3, "auditlog-local")] * 3 == [
        (a["status"], a["number_of_nodes"], a["cluster_name"]) for a in answers]


def test_transport_between_nodes_is_encrypted(cluster: Started) -> None:
    """Every member runs with transport TLS on (Elasticsearch's condition for security with several nodes)."""
    nodes = cluster.get(cluster.port, "/_nodes/settings?filter_path=nodes.*.settings.xpack.security.transport")
    flags = [n["settings"]["xpack"]["security"]["transport"]["ssl"]["enabled"] for n in nodes["nodes"].values()]
    assert ["true"] * 3 == flags


def test_every_node_has_its_own_data_folder(cluster: Started) -> None:
    """The three members keep their data in node-1, node-2 and node-3 of the state folder."""
    nodes = cluster.get(cluster.port, "/_nodes/settings?filter_path=nodes.*.settings.path.data")
    folders = sorted(str(n["settings"]["path"]["data"]) for n in nodes["nodes"].values())
    assert [str(cluster.state / f"node-{i}" / "data") for i in (1, 2, 3)] == [f.strip("[]") for f in folders]


def test_status_lists_every_node(cluster: Started) -> None:
    """`es status` on the first port reports the green cluster and one running line per member."""
    done = _auditlog("es", "status", *cluster.where())
    running = [line for line in done.stdout.splitlines() if line.strip().startswith("port ") and "running (pid" in line]
    assert (0, True, 3) == (done.returncode, "health green, 3 of 3 nodes joined" in done.stdout, len(running))


def test_setup_chooses_one_replica_per_class(cluster: Started) -> None:
    """`auditlog setup` against the three URLs gives every class one replica and says it counted 3 data nodes."""
    env = {"AUDITLOG_ES_URL": cluster.urls(), "AUDITLOG_ES_USERNAME": "elastic",
           "AUDITLOG_ES_PASSWORD": cluster.password, "AUDITLOG_ES_CA_CERTS": str(cluster.ca)}
    done = _auditlog("setup", "--prefix", "cluster-audit", env=env)
    chosen = [line.split(None, 1)[1] for line in done.stdout.splitlines() if line.startswith("replicas")]
    assert (0, ["enterprise: 1 (3 data nodes)", "business: 1 (3 data nodes)", "professional: 1 (3 data nodes)"]) == (
        done.returncode, chosen), done.stderr


def test_stop_leaves_no_process(cluster: Started) -> None:
    """`es stop` ends every member's launcher and JVM: no process of any member's group is left."""
    pids = [json.loads((cluster.state / f"node-{i}" / "node.json").read_text())["pid"] for i in (1, 2, 3)]
    done = _auditlog("es", "stop", *cluster.where())
    assert (0, "stopped" in done.stdout, []) == (done.returncode, True, [p for p in pids if group_alive(p)])
