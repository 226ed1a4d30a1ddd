"""The embedded default: a local single-node Elasticsearch on 127.0.0.1.

``LocalNode(NodeConfig(...)).start()`` fetches the test distribution (``indexer.distribution``),
finds Java 21+ (``indexer.java``), writes a per-node config folder inside the node's state folder and
starts the node in its own session, then waits until the cluster is yellow or green.

Choices, written down:
- State folder: ``AUDITLOG_HOME/es-<port>``; default ``/var/lib/auditlog/es-<port>`` as root and
  ``~/.local/state/auditlog/es-<port>`` otherwise. It holds ``config/``, ``data/``, ``logs/``,
  ``tmp/``, ``node.json`` (pid, url, ...) and, with ``--secure``, ``elastic-password`` (mode 0600).
- Elasticsearch refuses to run as root: as root the node runs as the system user ``auditlog-es``
  (created on first use), which owns the state folder. Java homes it cannot read (e.g. a JDK
  inside ``/root``) are copied next to the distribution.
- Security is off by default. ``secure=True`` turns on security with TLS on HTTP: a CA and an HTTP
  certificate for 127.0.0.1/localhost are generated with the distribution's ``elasticsearch-certutil``;
  the ``elastic`` password is generated and set through the keystore's ``bootstrap.password``.
  All of it is made by the first start only: a later start on the same state folder reuses the CA,
  certificates, keystore, password and data; ``reset_credentials`` makes new credentials (data stays).
- The secure node runs from a home of its own (``<state>/home``: the distribution's ``bin``, ``lib``
  and ``modules`` linked, plus ``plugins/``) holding our security-analysis plugin
  (``indexer.esplugin_build``), so its ``.security-7`` index, API keys and native roles work. It
  starts Elasticsearch's self-generated trial licence once, for document-level security.
- The disk-watermark allocator is off so a nearly full developer disk does not make indices read-only,
  and ``action.destructive_requires_name`` is off so tests may clean up by pattern.
- The test distribution has no ``GET /`` handler (the rest-root module is not in it), so the version
  is read from ``GET _nodes/_local``.
- ``node.json`` records the launcher's identity beyond its pid (start time and boot id,
  ``auditlog.core.processes``): status, start and stop treat the pid as the node only when both match, and
  stop signals its process group only when it leads it. A ``node.json`` from before identities were
  recorded is never acted on while its pid still runs something naming elasticsearch: stop refuses with
  one line (stop it by hand), any other pid makes it stale; a stale ``node.json`` is removed with one line.
- A node may be one member of a local cluster (``indexer.es_cluster``): ``NodeConfig.peers`` then
  replaces ``discovery.type: single-node`` with its own transport port, the seed hosts and the initial
  master nodes; a secure member also encrypts the transport layer (Elasticsearch requires it with
  security on and more than one node) with a certificate from the same CA (``indexer.certs``).
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from auditlog.core.files import open_regular, write_all
from auditlog.core.processes import (
    Identity,
    Outcome,
    SignalRefused,
    StopResult,
    Verdict,
    identify,
    stale_reason,
    stop_group,
    verdict,
)
from auditlog.core.processes import group_alive as _group_alive
from auditlog.indexer.distribution import ES_VERSION, ensure_distribution, install_root
from auditlog.indexer.esplugin_build import PluginBuildError, ensure_plugin, find_javac, install_plugin
from auditlog.indexer.java import JavaHome, find_java

RUN_USER = "auditlog-es"
HOST = "127.0.0.1"
#: the files of a secure node's state folder that node.json names (the ``elastic`` password, the CA for clients)
PASSWORD_FILE = "elastic-password"
CA_FILE = "ca.crt"
#: a cluster member's transport port is its HTTP port plus this (9200 -> 9300, as Elasticsearch's defaults)
TRANSPORT_OFFSET = 100
#: for a node.json without a recorded identity: a word the node's command line contains
_OUR_MARKERS = (b"elasticsearch",)
#: the most of node.json or cluster.json read (a few hundred bytes of numbers and paths when ours)
STATE_FILE_BYTES = 64 * 1024


def read_state_file(path: Path) -> str:
    """The text of a small file of the node's state folder (node.json, cluster.json), when it is one of ours.

    A regular file only, never through a link, and no more than :data:`STATE_FILE_BYTES`: a FIFO in its place
    hung ``es status``, ``stop`` and ``start`` (a plain read waits for a writer), a link to ``/dev/zero`` would
    take all memory.

    Raises:
        OSError: it cannot be opened (``NotRegularFileError``: a link, a FIFO, a device, a folder).
        ValueError: it is longer than the bound, or not UTF-8.
    """
    with os.fdopen(open_regular(path, os.O_RDONLY), "rb") as fh:
        data = fh.read(STATE_FILE_BYTES + 1)
    if len(data) > STATE_FILE_BYTES:
        raise ValueError(f"{path} holds more than {STATE_FILE_BYTES} bytes")
    return data.decode()


def write_state_file(path: Path, text: str) -> None:
    """Write a small file of the node's state folder whole, in place of whatever is at ``path``.

    Written to a new file and renamed over ``path``: a FIFO there would block the write (with the node already
    started), and a link there would have it write through to the link's target.

    Raises:
        OSError: when it cannot be written.
    """
    temporary = path.with_name(f"{path.name}.tmp")
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        write_all(fd, text.encode())
    finally:
        os.close(fd)
    os.replace(temporary, path)


class NodeStartError(RuntimeError):
    """The node could not be started; the message says why and what to do."""


@dataclass(frozen=True)
class Peers:
    """How one member of a local cluster finds the others (``None`` in ``NodeConfig``: a single node)."""

    transport_port: int
    seed_hosts: tuple[str, ...]
    initial_master_nodes: tuple[str, ...]


#: the smallest JVM heap accepted for a node (a floor of our choosing: the tests run nodes with 512m and more)
MIN_HEAP_MIB = 256


def heap_size(text: str) -> str:
    """Return a JVM heap size (``512m``, ``2g``) in lowercase, checked before the JVM sees it.

    The launcher answers a malformed or impossible ``-Xmx`` with a Java stack trace after seconds of
    start-up; here it is one line (``auditlog.options.node.heap_arg`` makes it an argparse ``type``).

    Raises:
        ValueError: not a whole number of MiB or GiB, below :data:`MIN_HEAP_MIB` or above this machine's memory.
    """
    match = re.fullmatch(r"([1-9][0-9]{0,6})([mg])", text.strip().lower())
    if match is None:
        raise ValueError(f"must be a size like 512m or 2g, got {text!r}")
    mib = int(match[1]) * (1024 if match[2] == "g" else 1)
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    if not MIN_HEAP_MIB <= mib <= memory:
        raise ValueError(f"must be between {MIN_HEAP_MIB}m and this machine's memory ({memory}m), got {text}")
    return match[0]


@dataclass(frozen=True)
class NodeConfig:
    """How to run one local node."""

    state_dir: Path | None = None
    port: int = 9200
    secure: bool = False
    heap: str = "1g"
    version: str = ES_VERSION
    start_timeout: float = 240.0
    reset_credentials: bool = False
    peers: Peers | None = None

    def resolved_state_dir(self, port: int) -> Path:
        """Return the state folder for a node on ``port``."""
        if self.state_dir is not None:  # absolute: node.json names its files by it, read from any folder later
            return Path(self.state_dir).absolute()
        base = os.environ.get("AUDITLOG_HOME")
        if base:
            return Path(base) / f"es-{port}"
        if os.geteuid() == 0:
            return Path("/var/lib/auditlog") / f"es-{port}"
        return Path.home() / ".local" / "state" / "auditlog" / f"es-{port}"


@dataclass
class NodeInfo:
    """A started node: where it listens and how to reach it."""

    url: str
    port: int
    pid: int
    state_dir: Path
    secure: bool
    version: str
    log_path: Path
    ca_path: Path | None = None
    password_file: Path | None = None
    password: str | None = None
    already_running: bool = False
    identity: Identity | None = None  # None: written before identities were recorded (or no /proc)

    def to_json(self) -> dict[str, Any]:
        """Serialise for ``node.json`` (never the password itself)."""
        data = asdict(self)
        data.pop("password")
        data.pop("already_running")
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in data.items()}

    @classmethod
    def from_json(cls, data: dict[str, Any], state_dir: Path | None = None) -> NodeInfo:
        """Inverse of ``to_json``; reads the password file when there is one.

        Args:
            data: ``node.json``'s object.
            state_dir: the folder ``data`` was read from: then only what a node started there records is
                taken (its URL on 127.0.0.1 at the recorded port, its password and CA files in that folder). Whoever
                may write the folder could otherwise name any file as the password, sent as Basic credentials to
                any URL by ``es status``.

        Raises:
            ValueError: a pid that is no node's, or (with ``state_dir``) a URL or file a node never records there.
            KeyError / TypeError: a field missing or of the wrong type.
        """
        info = cls(
            url=data["url"],
            port=int(data["port"]),
            pid=int(data["pid"]),
            state_dir=Path(data["state_dir"]),
            secure=bool(data["secure"]),
            version=data["version"],
            log_path=Path(data["log_path"]),
            ca_path=Path(data["ca_path"]) if data.get("ca_path") else None,
            password_file=Path(data["password_file"]) if data.get("password_file") else None,
            identity=Identity.from_json(data.get("identity")),
        )
        if info.pid <= 1:  # 0 is the caller's own process group to killpg, -1 every process: never signalled
            raise ValueError(f"node.json holds pid {info.pid}")
        if state_dir is not None:
            _check_recorded(info, state_dir)
        if info.password_file:
            with contextlib.suppress(OSError, ValueError):  # no password file (yet): requests go without one
                info.password = read_state_file(info.password_file).strip()
        return info


def _check_recorded(info: NodeInfo, state_dir: Path) -> None:
    """Refuse (ValueError) what :meth:`LocalNode.start` never writes into ``state_dir``'s ``node.json``."""
    scheme = "https" if info.secure else "http"
    wants = {"url": (info.url, f"{scheme}://{HOST}:{info.port}"),
             "password_file": (info.password_file, state_dir / PASSWORD_FILE if info.secure else None),
             "ca_path": (info.ca_path, state_dir / CA_FILE if info.secure else None)}
    for name, (held, want) in wants.items():
        if isinstance(held, Path) and isinstance(want, Path) and not held.is_absolute() and held.name == want.name:
            # written relative to the folder `es start` ran in (a relative --state-dir, before paths were made
            # absolute): the folder's own file of that name is the one meant, and the one read from now on
            setattr(info, name, want)
            continue
        same = held == want if held is None or want is None else os.path.realpath(held) == os.path.realpath(want)
        if held is not None and not same:  # (the folder may be named otherwise now: relative, through a link)
            raise ValueError(f"node.json names {name} {str(held)!r}, not {str(want)!r}")
    if not 0 < info.port < 65536:
        raise ValueError(f"node.json holds port {info.port}")


@dataclass(frozen=True)
class NodeStatus:
    """What ``auditlog es status`` reports."""

    running: bool
    url: str | None = None
    version: str | None = None
    health: str | None = None
    pid: int | None = None
    detail: str | None = None


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int) -> bool:
    """Return whether something already listens on 127.0.0.1:``port``."""
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((HOST, port)) == 0


def answers_as_elasticsearch(port: int) -> bool:
    """Return whether what listens on 127.0.0.1:``port`` answers HTTP as Elasticsearch does (its product header).

    Only to word a message: a node with security on answers 401 with the same header, and any other program
    (or one that does not answer within a second) is not one.
    """
    request = urllib.request.Request(f"http://{HOST}:{port}/", method="GET")
    try:
        with urllib.request.urlopen(request, timeout=1) as answer:
            headers = answer.headers
    except urllib.error.HTTPError as refused:  # 401 of a secured node: its headers say what it is
        headers = refused.headers
    except (OSError, ValueError, http.client.HTTPException):  # TLS on the port, garbage, silence: not known
        return False
    return headers.get("X-elastic-product") == "Elasticsearch"


def log_tail(path: Path, lines: int = 25) -> str:
    """Return the last ``lines`` lines of a node's log, for error messages."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.strip().splitlines()[-lines:])


def _ensure_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(RUN_USER)
    except KeyError:
        pass
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    proc = subprocess.run(
        [useradd, "--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
         RUN_USER],
        capture_output=True, text=True, check=False,
    )
    if proc.returncode not in (0, 9):  # 9: already exists (a concurrent start)
        raise NodeStartError(f"cannot create system user {RUN_USER!r} to run Elasticsearch: {proc.stderr.strip()}")
    return pwd.getpwnam(RUN_USER)


def _readable_by_others(path: Path) -> bool:
    for part in [path, *path.parents]:
        try:
            if not part.stat().st_mode & 0o001:
                return False
        except OSError:
            return False
    return True


def _usable_java(java: JavaHome, as_root: bool) -> Path:
    if not as_root or _readable_by_others(java.java):
        return java.home
    # e.g. a JDK inside /root: the unprivileged node user cannot enter it; copy it once.
    target = install_root() / f"java-{java.version}-{java.source.replace('/', '_')}"
    if not (target / "bin" / "java").is_file():
        tmp = target.with_name(target.name + ".part")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(java.home, tmp, symlinks=True)
        for path in [tmp, *tmp.rglob("*")]:
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | (0o555 if path.is_dir() or os.access(path, os.X_OK) else 0o444))
        tmp.rename(target)
    return target


def _runtime_modules(java_home: Path) -> set[str] | None:
    try:
        text = (java_home / "release").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("MODULES="):
            return set(line.split("=", 1)[1].strip('"').split())
    return None


def _write_jvm_options(dist_config: Path, config: Path, java_home: Path, heap: str) -> None:
    modules = _runtime_modules(java_home)
    lines = []
    for line in (dist_config / "jvm.options").read_text().splitlines():
        # A trimmed runtime may lack jdk.incubator.vector; asking for it would stop the JVM.
        if modules is not None and "--add-modules=" in line:
            wanted = line.split("--add-modules=", 1)[1].strip()
            if wanted not in modules:
                continue
        lines.append(line)
    (config / "jvm.options").write_text("\n".join(lines) + "\n")
    options_d = config / "jvm.options.d"
    options_d.mkdir(exist_ok=True)
    (options_d / "heap.options").write_text(f"-Xms{heap}\n-Xmx{heap}\n")


def node_name(port: int) -> str:
    """Return the name of the local node whose HTTP port is ``port``."""
    return f"auditlog-{port}"


def _settings(state: Path, port: int, secure: bool, peers: Peers | None = None) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "cluster.name": "auditlog-local",
        "node.name": node_name(port),
        "network.host": HOST,
        "http.port": port,
    }
    if peers is None:
        settings["discovery.type"] = "single-node"
    else:
        settings.update({
            "transport.port": peers.transport_port,
            "discovery.seed_hosts": list(peers.seed_hosts),
            # only used while the cluster forms for the first time; a member that has data rejoins its cluster
            # (Elasticsearch then logs that the setting may be removed)
            "cluster.initial_master_nodes": list(peers.initial_master_nodes),
        })
    settings.update({
        "path.data": str(state / "data"),
        "path.logs": str(state / "logs"),
        "cluster.routing.allocation.disk.threshold_enabled": False,
        "action.destructive_requires_name": False,
        "xpack.security.enabled": secure,
    })
    if secure and peers is not None:
        settings.update({
            "xpack.security.transport.ssl.enabled": True,
            "xpack.security.transport.ssl.verification_mode": "certificate",
            "xpack.security.transport.ssl.key": "certs/transport/transport.key",
            "xpack.security.transport.ssl.certificate": "certs/transport/transport.crt",
            "xpack.security.transport.ssl.certificate_authorities": "certs/ca/ca.crt",
        })
    if secure:
        settings.update({
            "xpack.security.http.ssl.enabled": True,
            "xpack.security.http.ssl.key": "certs/http/http.key",
            "xpack.security.http.ssl.certificate": "certs/http/http.crt",
            "xpack.security.http.ssl.certificate_authorities": "certs/ca/ca.crt",
            "xpack.security.authc.api_key.enabled": True,
        })
    return settings


class LocalNode:
    """Start, stop and inspect one local Elasticsearch node."""

    def __init__(self, config: NodeConfig, log: Callable[[str], None] = print) -> None:
        self.config = config
        self.log = log
        self.port = config.port
        self.state = config.resolved_state_dir(config.port)

    # -- inspection -------------------------------------------------------------------------------------------
    def _info_path(self) -> Path:
        return self.state / "node.json"

    def _recorded(self) -> tuple[NodeInfo, Verdict] | None:
        """Return ``node.json`` and what its pid is now; ``None`` without a readable one."""
        path = self._info_path()
        try:
            info = NodeInfo.from_json(json.loads(read_state_file(path)), self.state)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):  # no node.json, or not one of ours
            return None
        return info, verdict(info.pid, info.identity, markers=_OUR_MARKERS, state_file=path)

    def _unconfirmed(self, info: NodeInfo) -> str:
        path = self._info_path()
        return (f"{path} was written by an older auditlog and pid {info.pid} cannot be confirmed to be its node; "
                f"nothing signalled: if it is the node, stop it with `kill -TERM -{info.pid}`, then remove {path}")

    def running_info(self) -> NodeInfo | None:
        """Return the recorded node when its very process (same pid, start time and boot) still runs."""
        recorded = self._recorded()
        return recorded[0] if recorded is not None and recorded[1] is Verdict.OURS else None

    def status(self) -> NodeStatus:
        """Report whether the node runs, its version and cluster health."""
        recorded = self._recorded()
        if recorded is not None and recorded[1] is Verdict.UNCONFIRMED:
            return NodeStatus(running=False, pid=recorded[0].pid, detail=self._unconfirmed(recorded[0]))
        info = recorded[0] if recorded is not None and recorded[1] is Verdict.OURS else None
        if info is None:
            return NodeStatus(running=False, detail=f"no node running from {self.state}")
        try:
            health = request_json(info, "/_cluster/health")["status"]
            nodes = request_json(info, "/_nodes/_local")["nodes"]
            version = next(iter(nodes.values()))["version"]
        except (OSError, ValueError, KeyError) as exc:
            return NodeStatus(running=True, url=info.url, pid=info.pid, detail=f"not answering: {exc}")
        return NodeStatus(running=True, url=info.url, version=version, health=health, pid=info.pid)

    # -- start ------------------------------------------------------------------------------------------------
    def start(self) -> NodeInfo:
        """Start the node (or return the running one) and wait until it is yellow or green.

        Returns:
            Where the node listens, with ``already_running`` set when it was up before.

        Raises:
            NodeStartError: port in use, no Java, failed download, the node died/timed out (log tail included),
                or an old ``node.json`` names a live pid that cannot be confirmed to be the node.
        """
        recorded = self._recorded()
        if recorded is not None and recorded[1] is Verdict.OURS:
            recorded[0].already_running = True
            return recorded[0]
        if recorded is not None and recorded[1] is Verdict.UNCONFIRMED:
            raise NodeStartError(self._unconfirmed(recorded[0]))
        info, proc = self.launch()
        self._wait_ready(info, proc)
        if self.config.secure:
            self.ensure_trial(info)
        return info

    def launch(
        self, home: Path | None = None, java: JavaHome | None = None
    ) -> tuple[NodeInfo, subprocess.Popen[bytes]]:
        """Prepare the state folder and start the node's process, without waiting for it to answer.

        A cluster launches every member before it waits (no member becomes ready alone).

        Args:
            home: the unpacked distribution (``None``: fetch or find it).
            java: the Java runtime (``None``: find one).

        Returns:
            Where the node will listen, and its launcher process.

        Raises:
            NodeStartError: port in use, no Java, failed download or certificate tools.
        """
        port = self.port or free_port()
        if self.port == 0:
            self.port = port
            if self.config.state_dir is None:
                self.state = self.config.resolved_state_dir(port)
        if port_in_use(port):
            if answers_as_elasticsearch(port):  # most often a node of ours started with another --state-dir
                raise NodeStartError(
                    f"port {port} on {HOST} is already in use by an Elasticsearch node; if `auditlog es start` "
                    f"started it, stop it with the state folder it was started with (`auditlog es stop --port "
                    f"{port} --state-dir DIR`), or choose another port with --port"
                )
            raise NodeStartError(
                f"port {port} on {HOST} is already in use by another program; "
                f"stop it or choose another port with --port"
            )
        peers = self.config.peers
        if peers is not None and port_in_use(peers.transport_port):
            raise NodeStartError(
                f"transport port {peers.transport_port} on {HOST} is already in use by another program; "
                f"choose another --port (transport ports are the HTTP ports + {TRANSPORT_OFFSET})"
            )
        from auditlog.indexer.distribution import DistributionError
        from auditlog.indexer.java import JavaNotFoundError

        try:
            home = home or ensure_distribution(self.config.version, self.log)
            java = java or find_java()
        except (DistributionError, JavaNotFoundError) as exc:
            raise NodeStartError(str(exc)) from exc
        as_root = os.geteuid() == 0
        java_home = _usable_java(java, as_root)
        env = {
            **os.environ,
            "ES_JAVA_HOME": str(java_home),
            "ES_PATH_CONF": str(self.state / "config"),
            "ES_TMPDIR": str(self.state / "tmp"),
        }
        env.pop("ES_JAVA_OPTS", None)
        env.pop("JAVA_TOOL_OPTIONS", None)
        self._prepare_state(home, java_home, port)
        password: str | None = None
        password_file: Path | None = None
        ca_path: Path | None = None
        launch_home = home
        if self.config.secure:
            password, password_file, ca_path = self._prepare_security(home, env)
            launch_home = self._node_home(home, java)
        user = _ensure_user() if as_root else None
        if user is not None:
            for path in [self.state, *self.state.rglob("*")]:
                if path != password_file:
                    os.chown(path, user.pw_uid, user.pw_gid, follow_symlinks=False)
        log_path = self.state / "logs" / "console.log"
        scheme = "https" if self.config.secure else "http"
        with log_path.open("ab") as console:
            proc = subprocess.Popen(
                [str(launch_home / "bin" / "elasticsearch")],
                cwd=self.state,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                user=user.pw_uid if user else None,
                group=user.pw_gid if user else None,
                extra_groups=[] if user else None,
            )
        info = NodeInfo(
            url=f"{scheme}://{HOST}:{port}", port=port, pid=proc.pid, state_dir=self.state,
            secure=self.config.secure, version=self.config.version, log_path=log_path,
            ca_path=ca_path, password_file=password_file, password=password,
            # read now, while the launcher is surely our child: stop later signals its group only if it matches
            identity=identify(proc.pid),
        )
        write_state_file(self._info_path(), json.dumps(info.to_json(), indent=2))
        return info, proc

    def ensure_trial(self, info: NodeInfo) -> None:
        """Give the secure node a self-generated trial licence, for document-level security (tenant keys).

        Elasticsearch issues the trial itself (30 days, once per cluster); a node whose trial has ended
        stays on the basic licence, and ``auditlog keys tenant`` then says what it needs.
        """
        try:
            licence = self._wait_for_licence(info)
            if licence.get("type") != "basic":
                return
            answer = request_json(info, "/_license/start_trial?acknowledge=true", method="POST")
        except (OSError, ValueError, KeyError) as exc:
            self.log(f"could not start the trial licence (tenant keys need it): {exc}")
            return
        if not answer.get("trial_was_started"):
            self.log(f"no trial licence: {answer.get('error_message', 'refused')}; tenant keys need one")

    def _wait_for_licence(self, info: NodeInfo, timeout: float = 60.0) -> dict[str, Any]:
        """Return the node's licence; a new cluster generates its basic licence a moment after it is ready."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return dict(request_json(info, "/_license")["license"])
            except (OSError, KeyError):
                # 404 (or an empty answer) until the self-generated licence is in the cluster state
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.5)

    def _prepare_state(self, home: Path, java_home: Path, port: int) -> None:
        for sub in ("data", "logs", "tmp", "config"):
            (self.state / sub).mkdir(parents=True, exist_ok=True)
        self.state.chmod(0o755)
        dist_config = home / "config"
        config = self.state / "config"
        for name in ("log4j2.properties", "role_mapping.yml", "roles.yml", "users", "users_roles"):
            if (dist_config / name).is_file() and not (config / name).exists():
                shutil.copy(dist_config / name, config / name)
        _write_jvm_options(dist_config, config, java_home, self.config.heap)
        settings = _settings(self.state, port, self.config.secure, self.config.peers)
        lines = [f"{key}: {json.dumps(value)}" for key, value in settings.items()]
        (config / "elasticsearch.yml").write_text("# written by auditlog es start\n" + "\n".join(lines) + "\n")

    def _node_home(self, home: Path, java: JavaHome) -> Path:
        """Return the node's own ``ES_HOME``: the distribution's folders linked, plus a ``plugins/`` of its own.

        The distribution is shared by every local node; only the secure node gets the security-analysis
        plugin, so it runs from ``<state>/home`` whose ``bin``, ``lib`` and ``modules`` link to the
        distribution (Elasticsearch takes its home from the launcher's path without resolving links).
        """
        node_home = self.state / "home"
        node_home.mkdir(exist_ok=True)
        for name in ("bin", "lib", "modules"):
            link = node_home / name
            if link.is_symlink() and link.readlink() == home / name:
                continue
            if link.is_symlink() or link.is_file():
                link.unlink()
            elif link.is_dir():
                shutil.rmtree(link)
            link.symlink_to(home / name, target_is_directory=True)
        try:
            build = ensure_plugin(home, self.config.version, find_javac(java.home), self.log)
            install_plugin(build, node_home / "plugins")
        except PluginBuildError as exc:
            raise NodeStartError(str(exc)) from exc
        return node_home

    def _prepare_security(self, home: Path, env: dict[str, str]) -> tuple[str, Path, Path]:
        """Create the CA, certificates, password and keystore once; a later start reuses them all.

        ``reset_credentials`` throws the credentials away first (never the data), so a new CA, HTTP
        certificate and ``elastic`` password are made.
        """
        config = self.state / "config"
        certs = config / "certs"
        password_file = self.state / PASSWORD_FILE
        if self.config.reset_credentials:
            shutil.rmtree(certs, ignore_errors=True)
            password_file.unlink(missing_ok=True)
            (config / "elasticsearch.keystore").unlink(missing_ok=True)
        certutil = str(home / "bin" / "elasticsearch-certutil")
        if not (certs / "http" / "http.crt").is_file():
            certs.mkdir(exist_ok=True)
            _run([certutil, "ca", "--pem", "--silent", "--out", str(certs / "ca.zip")], env)
            with zipfile.ZipFile(certs / "ca.zip") as archive:
                archive.extractall(certs)
            _run([certutil, "cert", "--pem", "--silent", "--name", "http",
                  "--ca-cert", str(certs / "ca" / "ca.crt"), "--ca-key", str(certs / "ca" / "ca.key"),
                  "--ip", HOST, "--dns", "localhost", "--out", str(certs / "http.zip")], env)
            with zipfile.ZipFile(certs / "http.zip") as archive:
                archive.extractall(certs)
        if self.config.peers is not None and not (certs / "transport" / "transport.crt").is_file():
            from auditlog.indexer.certs import write_transport_certificate

            write_transport_certificate(certs / "ca", certs / "transport", HOST)
        if password_file.is_file():
            password = password_file.read_text().strip()
        else:
            # a keystore without its password file holds a password nobody knows: start both afresh
            (config / "elasticsearch.keystore").unlink(missing_ok=True)
            password = secrets.token_urlsafe(18)
            fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(password + "\n")
        keystore = str(home / "bin" / "elasticsearch-keystore")
        if not (config / "elasticsearch.keystore").is_file():
            # Only a new keystore is written: as root the existing one belongs to the node's user, and the
            # keystore tool refuses to rewrite a file it would have to change the owner of.
            _run([keystore, "create"], env)
            _run([keystore, "add", "--force", "--stdin", "bootstrap.password"], env, stdin=password)
        # a copy of the CA outside the node's own config, for clients
        ca_path = self.state / CA_FILE
        shutil.copy(certs / "ca" / "ca.crt", ca_path)
        ca_path.chmod(0o644)
        return password, password_file, ca_path

    def _wait_ready(self, info: NodeInfo, proc: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + self.config.start_timeout
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            code = proc.poll()
            if code is not None:
                raise NodeStartError(
                    f"Elasticsearch exited with status {code} during start; log {info.log_path}:\n"
                    f"{log_tail(info.log_path)}"
                )
            try:
                health = request_json(info, "/_cluster/health?wait_for_status=yellow&timeout=2s")
                if health.get("status") in ("yellow", "green"):
                    return
                last_error = f"health {health.get('status')}"
            except (OSError, ValueError) as exc:
                last_error = str(exc)
            time.sleep(1.0)
        self.stop()
        raise NodeStartError(
            f"Elasticsearch did not become ready within {self.config.start_timeout:.0f}s ({last_error}); "
            f"log {info.log_path}:\n{log_tail(info.log_path)}"
        )

    # -- stop -------------------------------------------------------------------------------------------------
    def stop(self, timeout: float = 60.0) -> bool:
        """Stop the node; ``False`` when none was running (idempotent). See :meth:`stop_result`.

        Args:
            timeout: seconds to wait after SIGTERM before SIGKILL.

        Returns:
            Whether the node's process group was signalled and has exited.

        Raises:
            SignalRefused: see :meth:`stop_result`.
        """
        return self.stop_result(timeout).outcome is Outcome.STOPPED

    def stop_result(self, timeout: float = 60.0) -> StopResult:
        """Stop the node recorded in ``node.json``, only when its pid is still that very process.

        Args:
            timeout: seconds to wait after SIGTERM before SIGKILL.

        Returns:
            STOPPED (signalled and exited; ``node.json`` removed), NOT_RUNNING (no ``node.json``, or the node
            exited on its own just before the signal) or STALE (``node.json`` named a pid that is gone or
            another process: removed, nothing signalled; ``detail`` says which).

        Raises:
            SignalRefused: an old ``node.json`` names a live pid that may be the node, the process does not lead
                its group, may not be signalled, or outlived SIGKILL; ``node.json`` is kept.
        """
        recorded = self._recorded()
        if recorded is None:
            return StopResult(Outcome.NOT_RUNNING)
        info, seen = recorded
        if seen is Verdict.UNCONFIRMED:
            raise SignalRefused(self._unconfirmed(info))
        if seen is not Verdict.OURS:
            self._info_path().unlink(missing_ok=True)
            return StopResult(Outcome.STALE, stale_reason(info.pid, seen))
        stopped = stop_group(info.pid, grace=timeout, what="Elasticsearch")
        self._info_path().unlink(missing_ok=True)
        return StopResult(Outcome.STOPPED if stopped else Outcome.NOT_RUNNING)


def signal_group(pid: int, sig: signal.Signals) -> None:
    """Send ``sig`` to the process group a node was started in (nothing when it is gone).

    Only a pid that leads its own group is signalled: for any other, ``killpg`` would reach the group of
    whatever process now has that number. Callers check the node's identity first (``running_info``).
    """
    with contextlib.suppress(ProcessLookupError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)


def group_alive(pgid: int) -> bool:
    """Return whether any live process is left in process group ``pgid`` (a node's launcher and JVM)."""
    return _group_alive(pgid)


def _run(cmd: list[str], env: dict[str, str], stdin: str | None = None) -> None:
    proc = subprocess.run(cmd, env=env, input=stdin, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise NodeStartError(f"{Path(cmd[0]).name} {cmd[1]} failed: {(proc.stdout + proc.stderr).strip()[-500:]}")


def request_json(info: NodeInfo, path: str, timeout: float = 5.0, method: str = "GET") -> dict[str, Any]:
    """Send one request to a local node (as ``elastic`` on a secure one) and return the decoded object.

    Raises:
        OSError: unreachable, refused, or an HTTP error status (named in the message).
    """
    return dict(request_any(info, path, timeout, method))


def request_any(info: NodeInfo, path: str, timeout: float = 5.0, method: str = "GET") -> Any:
    """Like :func:`request_json` for answers that are not objects (``_cat`` APIs answer lists).

    Raises:
        OSError: unreachable, refused, or an HTTP error status (named in the message).
    """
    request = urllib.request.Request(info.url + path, method=method)
    context: ssl.SSLContext | None = None
    if info.secure:
        context = ssl.create_default_context(cafile=str(info.ca_path) if info.ca_path else None)
        if info.password is None and info.password_file and info.password_file.is_file():
            info.password = info.password_file.read_text().strip()
        token = base64.b64encode(f"elastic:{info.password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        raise OSError(f"HTTP {exc.code} from {path}") from exc
