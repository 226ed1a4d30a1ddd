"""The local Elasticsearch node (``auditlog es``) against the real 9.x distribution."""

from __future__ import annotations

import shlex
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from elasticsearch import AuthenticationException, Elasticsearch, helpers

from auditlog.indexer.es_node import free_port
from auditlog.indexer.tiers import TierTable
from tests.support.node import SecureNodeInfo, node_state_dir


def _auditlog(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "auditlog.cli", *args], capture_output=True, text=True,
                          timeout=300, check=False)


def test_node_runs_elasticsearch_9(es: Elasticsearch) -> None:
    """The session's node reports an Elasticsearch 9.x version."""
    nodes = es.nodes.info(node_id="_local")["nodes"]
    version = next(iter(nodes.values()))["version"]
    assert version.startswith("9.")


def test_documents_indexed_are_searchable(es: Elasticsearch, namespace: TierTable) -> None:
    """Documents bulk-indexed into the node come back from a search."""
    index = f"{namespace.prefix}-smoke"
    docs = [{"_index": index, "_id": str(i), "message": f"event {i}", "n": i} for i in range(100)]
    ok, errors = helpers.bulk(es, docs, refresh="wait_for")
    assert (ok, errors) == (100, [])
    found = es.search(index=index, query={"match": {"message": "event"}}, size=0, track_total_hits=True)
    assert found["hits"]["total"]["value"] == 100
    assert es.get(index=index, id="42")["_source"]["n"] == 42


def test_cli_start_status_stop_cycle(tmp_path: Path) -> None:
    """`auditlog es start` reuses the cached distribution, a second start says so, stop is idempotent."""
    port = free_port()
    state = str(node_state_dir(tmp_path))
    where = ["--port", str(port), "--state-dir", state]
    started = _auditlog("es", "start", "--heap", "512m", *where)
    try:
        assert started.returncode == 0, started.stderr
        assert f"ready at http://127.0.0.1:{port}" in started.stdout
        assert "downloading" not in started.stderr  # the session node already cached it
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_cluster/health", timeout=10) as resp:
            assert resp.status == 200
        status = _auditlog("es", "status", *where)
        assert (status.returncode, "Elasticsearch 9." in status.stdout) == (0, True)
        again = _auditlog("es", "start", *where)
        assert (again.returncode, "already running" in again.stdout) == (0, True)
    finally:
        stopped = _auditlog("es", "stop", *where)
    assert (stopped.returncode, "stopped" in stopped.stdout) == (0, True)
    twice = _auditlog("es", "stop", *where)
    assert (twice.returncode, "nothing to do" in twice.stdout) == (0, True)
    assert _auditlog("es", "status", *where).returncode == 3


def test_the_stop_command_start_prints_stops_a_node_of_another_state_folder(tmp_path: Path) -> None:
    """The `stop with:` command `auditlog es start --state-dir DIR` prints, run as printed, stops that node."""
    port = free_port()
    where = ["--port", str(port), "--state-dir", str(node_state_dir(tmp_path))]
    started = _auditlog("es", "start", "--heap", "512m", *where)
    try:
        assert started.returncode == 0, started.stderr
        printed = shlex.split(started.stdout.split("stop with: ", 1)[1].splitlines()[0])
        stopped = _auditlog(*printed[1:])
        status = _auditlog("es", "status", *where)
    finally:
        _auditlog("es", "stop", *where)
    assert (printed[:3], stopped.returncode, status.returncode) == (["auditlog", "es", "stop"], 0, 3), stopped.stderr


def test_cli_start_on_busy_port_exits_1_with_one_line(es_url: str) -> None:
    """Starting on the port of a running node that is not ours says the port is in use."""
    port = es_url.rsplit(":", 1)[1].rstrip("/")
    busy = _auditlog("es", "start", "--port", port, "--state-dir", "/nonexistent-auditlog-state")
    assert busy.returncode == 1
    assert busy.stderr.strip().count("\n") == 0
    assert "already in use" in busy.stderr


def test_start_on_the_port_of_a_node_of_another_state_folder_says_how_to_stop_it(es_url: str) -> None:
    """A node listening on the port (one started with another --state-dir) is named as Elasticsearch, with the
    stop line that takes its state folder, not as "another program"."""
    port = es_url.rsplit(":", 1)[1].rstrip("/")
    busy = _auditlog("es", "start", "--port", port, "--state-dir", "/nonexistent-auditlog-state")
    assert (1, True, True) == (busy.returncode, "in use by an Elasticsearch node" in busy.stderr,
                               f"auditlog es stop --port {port} --state-dir DIR" in busy.stderr)


def test_secure_node_rejects_anonymous_requests(secure_node: SecureNodeInfo) -> None:
    """Without credentials the secured node answers 401."""
    import ssl

    context = ssl.create_default_context(cafile=secure_node.ca_certs)
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{secure_node.url}/_cluster/health", timeout=10, context=context)
    assert err.value.code == 401


def test_secure_node_accepts_generated_credentials_over_verified_tls(secure_node: SecureNodeInfo) -> None:
    """The generated elastic password works over https verified against the generated CA."""
    client = Elasticsearch(secure_node.url, ca_certs=secure_node.ca_certs,
                           basic_auth=(secure_node.username, secure_node.password))
    assert client.cluster.health()["status"] in ("green", "yellow")
    wrong = Elasticsearch(secure_node.url, ca_certs=secure_node.ca_certs,
                          basic_auth=(secure_node.username, "wrong-password"))
    with pytest.raises(AuthenticationException):
        wrong.cluster.health()
