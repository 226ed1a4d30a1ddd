"""Local node configuration that needs no running Elasticsearch."""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditlog.cli import main
from auditlog.core.processes import Identity, Outcome, SignalRefused, identify
from auditlog.indexer.es_cluster import CLUSTER_FILE, recorded_nodes
from auditlog.indexer.es_node import (
    LocalNode,
    NodeConfig,
    NodeInfo,
    NodeStartError,
    Peers,
    _settings,
    _write_jvm_options,
    heap_size,
    read_state_file,
    write_state_file,
)
from tests.support.processes import ES_DECOY, sleeping


def test_secure_settings_turn_on_tls_and_api_keys(tmp_path: Path) -> None:
    """--secure enables security, TLS on HTTP with the generated certificate, and API keys."""
    settings = _settings(tmp_path, 9200, secure=True)
    assert settings["xpack.security.enabled"] is True
    assert settings["xpack.security.http.ssl.enabled"] is True
    assert settings["xpack.security.authc.api_key.enabled"] is True
    assert settings["network.host"] == "127.0.0.1"


def test_default_settings_bind_loopback_without_security(tmp_path: Path) -> None:
    """The embedded default is a single node on 127.0.0.1 with security off."""
    settings = _settings(tmp_path, 9250, secure=False)
    assert (settings["network.host"], settings["http.port"], settings["discovery.type"]) == (
        "127.0.0.1", 9250, "single-node")
    assert settings["xpack.security.enabled"] is False


def test_jvm_options_drop_modules_the_runtime_lacks(tmp_path: Path) -> None:
    """An --add-modules line for a module the runtime does not have is left out; the heap is set."""
    dist, conf, java = tmp_path / "dist", tmp_path / "conf", tmp_path / "java"
    for folder in (dist, conf, java):
        folder.mkdir()
    (dist / "jvm.options").write_text("-XX:+UseG1GC\n20-:--add-modules=jdk.incubator.vector\n")
    (java / "release").write_text('JAVA_VERSION="25"\nMODULES="java.base jdk.jdi"\n')
    _write_jvm_options(dist, conf, java, "512m")
    assert (conf / "jvm.options").read_text() == "-XX:+UseG1GC\n"
    assert (conf / "jvm.options.d" / "heap.options").read_text() == "-Xms512m\n-Xmx512m\n"


def test_port_in_use_is_one_clear_error(tmp_path: Path) -> None:
    """Starting on a port another program listens on fails before anything is downloaded."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(NodeStartError) as err:
            LocalNode(NodeConfig(state_dir=tmp_path, port=port), log=lambda _: None).start()
    assert f"port {port} on 127.0.0.1 is already in use" in str(err.value)


def test_stop_without_a_node_is_a_no_op(tmp_path: Path) -> None:
    """Stopping when nothing runs reports False and raises nothing (idempotent)."""
    assert LocalNode(NodeConfig(state_dir=tmp_path, port=9299)).stop() is False


def _peers() -> Peers:
    return Peers(transport_port=9300, seed_hosts=("127.0.0.1:9300", "127.0.0.1:9301"),
                 initial_master_nodes=("auditlog-9200", "auditlog-9201"))


def test_cluster_member_settings_replace_single_node_discovery(tmp_path: Path) -> None:
    """A cluster member has its transport port, the seed hosts and initial masters, and no single-node discovery."""
    settings = _settings(tmp_path, 9200, secure=False, peers=_peers())
    assert ("discovery.type" in settings, settings["transport.port"], settings["discovery.seed_hosts"],
            settings["cluster.initial_master_nodes"]) == (
        False, 9300, ["127.0.0.1:9300", "127.0.0.1:9301"], ["auditlog-9200", "auditlog-9201"])


def test_secure_cluster_member_encrypts_transport(tmp_path: Path) -> None:
    """A secure cluster member turns on transport TLS with the transport certificate of the node's CA."""
    settings = _settings(tmp_path, 9200, secure=True, peers=_peers())
    assert (settings["xpack.security.transport.ssl.enabled"], settings["xpack.security.transport.ssl.certificate"],
            settings["xpack.security.transport.ssl.certificate_authorities"]) == (
        True, "certs/transport/transport.crt", "certs/ca/ca.crt")


def test_secure_single_node_leaves_transport_alone(tmp_path: Path) -> None:
    """A secure single node needs no transport TLS, so none is configured."""
    assert not any(key.startswith("xpack.security.transport") for key in _settings(tmp_path, 9200, secure=True))


@pytest.mark.parametrize(("text", "expected"), [("512m", "512m"), ("1G", "1g"), (" 2g ", "2g")])
def test_a_heap_size_is_read_in_mib_or_gib(text: str, expected: str) -> None:
    """Whole MiB or GiB, any case, come back in the form -Xmx takes."""
    assert expected == heap_size(text)


@pytest.mark.parametrize(("text", "reason"), [("abc", "a size like"), ("-1m", "a size like"), ("1.5g", "a size like"),
                                              ("100m", "between 256m"), ("99999g", "this machine's memory")])
def test_a_heap_the_jvm_would_refuse_is_refused_first(text: str, reason: str) -> None:
    """A malformed or impossible heap is a ValueError naming the rule, not a Java stack trace at start."""
    with pytest.raises(ValueError, match=reason):
        heap_size(text)


@pytest.mark.parametrize("content", ["[1]", '{"port": "x"', "",
                                     '{"url": "http://x", "port": 1, "pid": 0, "state_dir": "/x", "secure": false, '
                                     '"version": "9", "log_path": "/x"}'])
def test_a_damaged_node_file_means_no_node_and_signals_nothing(tmp_path: Path, content: str) -> None:
    """node.json of another shape, or pid 0 (killpg's own process group), is no running node: status and stop
    report nothing running instead of a TypeError or a signal to the caller's own group."""
    (tmp_path / "node.json").write_text(content)
    node = LocalNode(NodeConfig(state_dir=tmp_path, port=19800))
    assert (None, False) == (node.running_info(), node.stop())


@pytest.mark.parametrize("nodes", ["-5", "0", "1000", '"x"'])
def test_a_cluster_file_with_an_impossible_count_is_no_cluster(tmp_path: Path, nodes: str) -> None:
    """cluster.json naming fewer than 1 or more than 9 members is not taken for a cluster."""
    (tmp_path / CLUSTER_FILE).write_text(f'{{"nodes": {nodes}}}')
    assert recorded_nodes(tmp_path) is None


# -- es stop signals only the very process es start recorded (pid, start time and boot id) -------------
IDENTITY_PORT = 19801


@pytest.fixture
def decoy() -> Iterator[subprocess.Popen[bytes]]:
    """A process group leader that is no node but names elasticsearch in its arguments."""
    with sleeping(ES_DECOY) as proc:
        yield proc


def _record(state: Path, pid: int, identity: Identity | None) -> Path:
    info = NodeInfo(url=f"http://127.0.0.1:{IDENTITY_PORT}", port=IDENTITY_PORT, pid=pid, state_dir=state,
                    secure=False, version="9", log_path=state / "console.log", identity=identity)
    path = state / "node.json"
    path.write_text(json.dumps(info.to_json()))
    return path


def _node(state: Path) -> LocalNode:
    return LocalNode(NodeConfig(state_dir=state, port=IDENTITY_PORT))


def test_the_identity_survives_node_json(tmp_path: Path) -> None:
    """What launch records beside the pid is read back by stop."""
    _record(tmp_path, 4242, Identity(77, "boot"))
    assert NodeInfo.from_json(json.loads((tmp_path / "node.json").read_text())).identity == Identity(77, "boot")


@pytest.mark.parametrize("forged", ["password file elsewhere", "url elsewhere"])
def test_a_forged_node_json_sends_no_file_anywhere(tmp_path: Path, decoy: subprocess.Popen[bytes], forged: str) -> None:
    """node.json naming a file outside its folder as the password, or a URL that is not 127.0.0.1 at its port, is
    no node of the folder: es status sends nothing (before, the named file went as Basic credentials to the URL)."""
    secret = tmp_path / "someone-elses-secret"
    secret.write_text("s3cret-not-the-node-password\n")
    state = tmp_path / "state"
    state.mkdir()
    (state / "elastic-password").write_text("the-node-password\n")
    heard: list[str] = []

    class Listener(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            heard.append(self.headers.get("Authorization", ""))
            self.send_error(500)

        def log_message(self, *args: object) -> None:
            pass

    with http.server.HTTPServer(("127.0.0.1", 0), Listener) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = server.server_address[1]
        info = NodeInfo(url=f"http://127.0.0.1:{port}", port=port if forged != "url elsewhere" else port + 1,
                        pid=decoy.pid, state_dir=state, secure=True, version="9", log_path=state / "console.log",
                        password_file=secret if forged == "password file elsewhere" else state / "elastic-password",
                        identity=identify(decoy.pid))
        (state / "node.json").write_text(json.dumps(info.to_json()))
        try:
            status = _node(state).status()
        finally:
            server.shutdown()
    assert (status.running, heard) == (False, [])


def test_a_secure_node_started_with_a_relative_state_dir_is_found_from_any_folder(
    tmp_path: Path, decoy: subprocess.Popen[bytes], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A state folder given relative is recorded absolute; a node.json an earlier version wrote with paths relative
    to where `es start` ran is still the folder's node (its own password and CA files) from another folder."""
    (tmp_path / "here" / "rel").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    state = tmp_path / "here" / "rel"
    (state / "elastic-password").write_text("pw\n")
    monkeypatch.chdir(tmp_path / "here")
    assert NodeConfig(state_dir=Path("rel"), port=IDENTITY_PORT).resolved_state_dir(IDENTITY_PORT) == state
    info = NodeInfo(url=f"https://127.0.0.1:{IDENTITY_PORT}", port=IDENTITY_PORT, pid=decoy.pid, state_dir=Path("rel"),
                    secure=True, version="9", log_path=Path("rel/console.log"), ca_path=Path("rel/ca.crt"),
                    password_file=Path("rel/elastic-password"), identity=identify(decoy.pid))
    (state / "node.json").write_text(json.dumps(info.to_json()))
    monkeypatch.chdir(tmp_path / "elsewhere")
    recorded = _node(state)._recorded()
    assert recorded is not None
    assert (recorded[0].password_file, recorded[0].password) == (state / "elastic-password", "pw")


def test_a_decoy_named_by_an_old_node_json_is_never_signalled(tmp_path: Path,
                                                               decoy: subprocess.Popen[bytes]) -> None:
    """An old node.json (no identity) naming a live decoy: stop refuses in one line, the decoy lives, the file stays."""
    path = _record(tmp_path, decoy.pid, None)
    with pytest.raises(SignalRefused, match="cannot be confirmed"):
        _node(tmp_path).stop()
    assert (decoy.poll(), path.is_file()) == (None, True)


def test_a_recycled_pid_is_stale_and_not_signalled(tmp_path: Path, decoy: subprocess.Popen[bytes]) -> None:
    """A node.json whose pid now runs a process with another start time is removed as stale; nothing is signalled."""
    seen = identify(decoy.pid)
    assert seen is not None
    path = _record(tmp_path, decoy.pid, Identity(seen.start_ticks + 1, seen.boot_id))
    result = _node(tmp_path).stop_result()
    assert (result.outcome, decoy.poll(), path.exists()) == (Outcome.STALE, None, False)


def test_a_recycled_pid_is_not_a_running_node(tmp_path: Path, decoy: subprocess.Popen[bytes]) -> None:
    """status/start do not take a recycled pid for the node (start would otherwise say "already running")."""
    seen = identify(decoy.pid)
    assert seen is not None
    _record(tmp_path, decoy.pid, Identity(seen.start_ticks + 1, seen.boot_id))
    assert _node(tmp_path).running_info() is None


def test_start_on_an_unconfirmed_old_node_json_is_one_clear_error(tmp_path: Path,
                                                                  decoy: subprocess.Popen[bytes]) -> None:
    """start neither says "already running" nor launches a second node beside a pid it cannot confirm."""
    _record(tmp_path, decoy.pid, None)
    with pytest.raises(NodeStartError, match="cannot be confirmed"):
        _node(tmp_path).start()


def test_the_recorded_node_is_stopped(tmp_path: Path, decoy: subprocess.Popen[bytes]) -> None:
    """A node.json with the process's own identity: its group is signalled, it exits, stop says stopped."""
    path = _record(tmp_path, decoy.pid, identify(decoy.pid))
    stopped = _node(tmp_path).stop(timeout=5)
    decoy.wait(timeout=5)
    assert (stopped, path.exists()) == (True, False)


def test_cli_stop_on_a_stale_node_json_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`es stop` on a node.json whose process is gone says so in one line and removes it."""
    gone = subprocess.Popen([sys.executable, "-c", "pass"], start_new_session=True)
    identity = identify(gone.pid)
    gone.wait()
    _record(tmp_path, gone.pid, identity or Identity(1, "boot"))
    code = main(["es", "stop", "--port", str(IDENTITY_PORT), "--state-dir", str(tmp_path)])
    out = capsys.readouterr()
    assert (code, out.out.count("\n"), "stale node.json" in out.out, out.err) == (0, 1, True, "")


@pytest.mark.timeout(20)
def test_a_fifo_in_place_of_node_json_is_no_node_without_blocking(tmp_path: Path) -> None:
    """A FIFO where node.json goes is read as no node at once; status and stop no longer wait for a writer."""
    os.mkfifo(tmp_path / "node.json")
    node = LocalNode(NodeConfig(state_dir=tmp_path, port=19802))
    assert (None, False, False) == (node.running_info(), node.status().running, node.stop())


@pytest.mark.parametrize("kind", ["link", "fifo"])
@pytest.mark.timeout(20)
def test_a_state_file_is_written_in_place_of_a_link_or_fifo_not_through_it(tmp_path: Path, kind: str) -> None:
    """write_state_file replaces a link or FIFO at the path: the link's target is left as it was, nothing blocks."""
    target, path = tmp_path / "victim", tmp_path / "node.json"
    target.write_text("keep")
    if kind == "link":
        path.symlink_to(target)
    else:
        os.mkfifo(path)
    write_state_file(path, '{"nodes": 2}')
    assert ("keep", '{"nodes": 2}', False) == (target.read_text(), read_state_file(path), path.is_symlink())
