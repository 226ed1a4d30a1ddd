"""docker-compose.yml replayed without Docker: its own steps against the secure local node.

No Docker engine runs here, so the compose file's steps run as processes on this machine: each
service's effective argv (``tests/test_compose.effective_argv``: image ENTRYPOINT/CMD plus the
service's overrides, with Compose's interpolation) and its ``environment`` are taken from the file.
What the replay changes is what a container has and this machine has not:

- paths of the volumes (``/secrets``, ``/certs``, ``/var/log/app``, ``/var/lib/auditlog``) become
  folders of the test, the host names ``es01`` and ``kibana`` the secure test node and a Kibana stub;
- the ``certs`` service (Elasticsearch's certutil) is replaced by the test node's own CA and password,
  written where ``certs`` writes them;
- the agent gets ``--metrics-port 0`` (a container has port 9108 to itself, this machine does not);
- the TUI's step runs ``auditlog export`` with the same key instead of the interactive ``auditlog tui``;
- every step uses an index prefix of its own (``AUDITLOG_INDEX_PREFIX``), cleaned up afterwards.

Then: ``setup`` (templates, roles, API keys, Kibana import) writes the writer and reader keys, the
``demo`` app writes events, the ``agent`` ships them with the writer key, and the export reads them all
with the reader key.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import openpyxl
import pytest
from elasticsearch import Elasticsearch

from auditlog.indexer.security import READER, WRITER, role_name
from auditlog.indexer.tiers import TierTable
from tests.integration.agent_support import wait_count
from tests.support.node import SecureNodeInfo
from tests.test_compose import compose_services, effective_argv, interpolate, shell_script

#: Compose variables the replay sets (a short demo back-fill, no live trickle to wait for).
COMPOSE_ENV = {"DEMO_BACKFILL_DAYS": "1", "DEMO_BACKFILL_COUNT": "300", "DEMO_RATE": "1"}
BIN = Path(sys.executable).parent


@dataclass
class Stack:
    """The replay's stand-ins for the compose volumes and hosts."""

    root: Path
    es_url: str
    kibana_url: str
    prefix: str

    def mapped(self, text: str) -> str:
        """Container paths and host names -> this machine's."""
        # /tmp first: each container has its own, and the paths mapped below may lie under this machine's /tmp
        for container, here in (("/tmp/", str(self.root / "tmp") + "/"), ("https://es01:9200", self.es_url),
                                ("http://kibana:5601", self.kibana_url),
                                ("/var/lib/auditlog", str(self.root / "agentstate")),
                                ("/var/log/app", str(self.root / "applogs")),
                                ("/secrets", str(self.root / "secrets")), ("/certs", str(self.root / "certs"))):
            text = text.replace(container, here)
        return text

    def argv(self, name: str) -> list[str]:
        """The service's effective argv, mapped to this machine."""
        return [self.mapped(a) for a in effective_argv(compose_services()[name], COMPOSE_ENV)]

    def env(self, name: str) -> dict[str, str]:
        """The service's environment from the file, mapped, over a clean copy of ours."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AUDITLOG_")}
        env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"  # `auditlog` and `python` of this checkout
        env["AUDITLOG_INDEX_PREFIX"] = self.prefix
        for key, value in (compose_services()[name].get("environment") or {}).items():
            env[key] = self.mapped(interpolate(str(value), COMPOSE_ENV))
        return env

    def start(self, name: str, argv: list[str] | None = None) -> subprocess.Popen[bytes]:
        """Start a service's step in the background, its output in ``<name>.log``."""
        out = (self.root / f"{name}.log").open("ab")
        return subprocess.Popen(argv or self.argv(name), env=self.env(name), stdout=out, stderr=subprocess.STDOUT,
                                cwd=self.root, start_new_session=True)

    def run(self, name: str, argv: list[str] | None = None) -> tuple[int, str]:
        """Run a service's step to its end; return the exit status and its output."""
        proc = self.start(name, argv)
        code = proc.wait(timeout=300)
        return code, (self.root / f"{name}.log").read_text(errors="replace")


def _stop(proc: subprocess.Popen[bytes]) -> int:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        return proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        return proc.wait(timeout=30)


@pytest.fixture
def kibana_stub() -> Iterator[str]:
    """A stand-in for Kibana's saved-objects import: answers success for every object it receives."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            data = json.dumps({"success": True, "successCount": body.count(b'"type":'), "successResults": []})
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data.encode())

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def stack(secure_node: SecureNodeInfo, kibana_stub: str, tmp_path: Path) -> Iterator[Stack]:
    """The volumes as the certs service leaves them: the CA and the elastic password in place."""
    for folder in ("secrets", "certs/ca", "applogs", "agentstate", "tmp"):
        (tmp_path / folder).mkdir(parents=True)
    shutil.copy(secure_node.ca_certs, tmp_path / "certs" / "ca" / "ca.crt")
    (tmp_path / "secrets" / "elastic-password").write_text(secure_node.password)
    prefix = f"t{uuid.uuid4().hex[:10]}-compose"
    yield Stack(tmp_path, secure_node.url, kibana_stub, prefix)
    es = _admin(secure_node)
    try:
        es.options(ignore_status=404).indices.delete(index=f"{prefix}-*", expand_wildcards="all")
        es.options(ignore_status=404).indices.delete_index_template(name=f"{prefix}-*")
        es.options(ignore_status=404).cluster.delete_component_template(name=f"{prefix}-*")
        tiers = TierTable(prefix=prefix)
        for role in (WRITER, READER):
            es.options(ignore_status=404).security.delete_role(name=role_name(tiers, role))
    finally:
        es.close()


def _admin(node: SecureNodeInfo) -> Elasticsearch:
    return Elasticsearch(node.url, ca_certs=node.ca_certs, basic_auth=(node.username, node.password),
                         request_timeout=60)


def _lines(path: Path) -> int:
    return len(path.read_bytes().splitlines()) if path.exists() else 0


def _wait_lines(path: Path, at_least: int, timeout: float = 120.0) -> int:
    end = time.monotonic() + timeout
    while time.monotonic() < end and _lines(path) < at_least:
        time.sleep(0.2)
    return _lines(path)


def _export_argv(stack: Stack, out: Path) -> list[str]:
    """The tui service's step (its reader key from the secrets volume) running an export instead."""
    argv = stack.argv("tui")
    script = shell_script(argv)
    assert script is not None and script.endswith("exec auditlog tui"), argv
    return [*argv[:2], script.replace("exec auditlog tui", f"exec auditlog export -o {out}")]


def _agent_argv(stack: Stack) -> list[str]:
    argv = stack.argv("agent")
    script = shell_script(argv)
    assert script is not None and "exec auditlog agent" in script, argv
    return [*argv[:2], script + " --metrics-port 0"]


def test_compose_steps_ship_and_export_with_their_keys(stack: Stack, secure_node: SecureNodeInfo) -> None:
    """setup writes both keys, the demo's events reach the node with the writer key, export reads them all."""
    code, setup_log = stack.run("setup")
    assert 0 == code, setup_log
    keys = {name: (stack.root / "secrets" / name).read_text() for name in ("agent-api-key", "tui-api-key")}
    assert (True, True, False) == (bool(keys["agent-api-key"]), bool(keys["tui-api-key"]),
                                   secure_node.password in setup_log)

    demo = stack.start("demo")
    try:
        written = _wait_lines(stack.root / "applogs" / "audit.jsonl", int(COMPOSE_ENV["DEMO_BACKFILL_COUNT"]))
    finally:
        _stop(demo)
    written = _lines(stack.root / "applogs" / "audit.jsonl")

    agent = stack.start("agent", _agent_argv(stack))
    es = _admin(secure_node)
    try:
        shipped = wait_count(es, TierTable(prefix=stack.prefix), written, timeout=180)
    finally:
        agent_status = _stop(agent)
        es.close()
    out = stack.root / "all.xlsx"
    code, export_log = stack.run("tui", _export_argv(stack, out))
    assert 0 == code, export_log
    rows = len(list(openpyxl.load_workbook(out, read_only=True)["Events"].iter_rows(values_only=True))) - 1
    assert (written, written, 0) == (shipped, rows, agent_status), (stack.root / "agent.log").read_text()[-3000:]


def test_agent_key_cannot_read_and_reader_key_cannot_write(stack: Stack, secure_node: SecureNodeInfo) -> None:
    """The keys setup wrote for the compose services are least privilege: the agent's key creates but
    cannot search, the TUI's key searches but cannot create."""
    code, setup_log = stack.run("setup")
    assert 0 == code, setup_log
    tiers = TierTable(prefix=stack.prefix)
    index = tiers.index_for_day("enterprise", datetime.now(UTC).date())
    statuses = {}
    for name in ("agent-api-key", "tui-api-key"):
        client = Elasticsearch(secure_node.url, ca_certs=secure_node.ca_certs,
                               api_key=(stack.root / "secrets" / name).read_text(), request_timeout=60)
        try:
            # a bulk create, as the agent writes (the writer holds its actions, not the single-document API's)
            created = client.options(ignore_status=(401, 403)).bulk(operations=[
                {"create": {"_index": index, "_id": uuid.uuid4().hex}}, {"@timestamp": "2026-01-01T00:00:00Z"}])
            item = created.body["items"][0]["create"]["status"] if created.meta.status == 200 else created.meta.status
            searched = client.options(ignore_status=(401, 403)).search(index=tiers.read_pattern, size=0)
            statuses[name] = (item, searched.meta.status)
        finally:
            client.close()
    assert {"agent-api-key": (201, 403), "tui-api-key": (403, 200)} == statuses
