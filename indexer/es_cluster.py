"""A local Elasticsearch cluster of several nodes on 127.0.0.1 (``auditlog es start --nodes 3``).

Every member is a :class:`indexer.es_node.LocalNode` from the same test distribution, with its own
state folder ``<state>/node-<n>`` (config, data, logs), HTTP port ``P + n - 1`` and transport port
``P + 100 + n - 1`` (:data:`indexer.es_node.TRANSPORT_OFFSET`), the seed hosts of all members and
all of them as initial master nodes. ``<state>/cluster.json`` says the folder holds a cluster, so
``es status`` and ``es stop`` find every member from the first port alone.

All members are launched before anything waits: no member can elect a master alone. A secure
cluster's first member makes the CA, HTTP certificate, transport certificate and ``elastic``
password (``indexer.es_node``, ``indexer.certs``); the others get copies before they start, so the
whole cluster trusts one CA and knows one bootstrap password.
"""

from __future__ import annotations

import json
import random
import shutil
import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditlog.indexer.distribution import ES_VERSION, ensure_distribution
from auditlog.indexer.es_node import (
    HOST,
    TRANSPORT_OFFSET,
    LocalNode,
    NodeConfig,
    NodeInfo,
    NodeStartError,
    Peers,
    group_alive,
    log_tail,
    node_name,
    port_in_use,
    read_state_file,
    request_any,
    request_json,
    signal_group,
    write_state_file,
)
from auditlog.indexer.java import JavaHome, find_java

CLUSTER_FILE = "cluster.json"


#: the health answers that satisfy a wanted status
_AT_LEAST = {"yellow": ("yellow", "green"), "green": ("green",)}


@dataclass(frozen=True)
class ClusterConfig:
    """How to run a local cluster of ``nodes`` members."""

    state_dir: Path | None = None
    port: int = 9200
    nodes: int = 3
    secure: bool = False
    heap: str = "512m"
    version: str = ES_VERSION
    start_timeout: float = 300.0
    reset_credentials: bool = False

    def __post_init__(self) -> None:
        if self.nodes < 2:
            raise ValueError(f"a cluster has at least 2 nodes, got {self.nodes}")

    def resolved_state_dir(self, port: int) -> Path:
        """Return the cluster's state folder (the same place a single node on ``port`` would use)."""
        return NodeConfig(state_dir=self.state_dir).resolved_state_dir(port)


@dataclass
class ClusterInfo:
    """A started cluster: its members, first member first."""

    nodes: list[NodeInfo]
    state_dir: Path
    already_running: bool = False

    @property
    def url(self) -> str:
        """The first member's URL."""
        return self.nodes[0].url

    @property
    def urls(self) -> list[str]:
        """Every member's URL, in port order."""
        return [n.url for n in self.nodes]


@dataclass(frozen=True)
class ClusterStatus:
    """What ``auditlog es status`` reports about a cluster."""

    running: bool
    url: str | None = None
    version: str | None = None
    health: str | None = None
    nodes: int | None = None
    members: list[dict[str, Any]] = field(default_factory=list)
    detail: str | None = None


def holds_cluster(state_dir: Path) -> bool:
    """Return whether ``state_dir`` is a local cluster's folder (not a single node's)."""
    return (state_dir / CLUSTER_FILE).is_file()


def recorded_nodes(state_dir: Path) -> int | None:
    """Return how many members the cluster in ``state_dir`` has (``None``: no cluster there)."""
    try:
        nodes = int(json.loads(read_state_file(state_dir / CLUSTER_FILE))["nodes"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return nodes if 1 <= nodes <= 9 else None  # what es start --nodes allows; anything else is not our file


def free_port_block(nodes: int, attempts: int = 200) -> int:
    """Return a first HTTP port P such that P..P+nodes-1 and their transport ports are free now."""
    for _ in range(attempts):
        base = random.randint(20000, 60000 - TRANSPORT_OFFSET - nodes)
        ports = [base + i for i in range(nodes)] + [base + TRANSPORT_OFFSET + i for i in range(nodes)]
        if not any(port_in_use(p) for p in ports):
            return base
    raise NodeStartError(f"found no {nodes} free HTTP and transport ports on {HOST}")


class LocalCluster:
    """Start, stop and inspect a local cluster; kill and restart one member (node-loss tests)."""

    def __init__(self, config: ClusterConfig, log: Callable[[str], None] = print) -> None:
        self.config = config
        self.log = log
        self.port = config.port
        self.state = config.resolved_state_dir(config.port)

    def member(self, index: int) -> LocalNode:
        """Return member ``index`` (0-based) as a node."""
        port = self.port + index
        peers = Peers(
            transport_port=port + TRANSPORT_OFFSET,
            seed_hosts=tuple(f"{HOST}:{self.port + TRANSPORT_OFFSET + i}" for i in range(self.config.nodes)),
            initial_master_nodes=tuple(node_name(self.port + i) for i in range(self.config.nodes)),
        )
        return LocalNode(NodeConfig(
            state_dir=self.state / f"node-{index + 1}", port=port, secure=self.config.secure,
            heap=self.config.heap, version=self.config.version, start_timeout=self.config.start_timeout,
            reset_credentials=self.config.reset_credentials and index == 0, peers=peers,
        ), log=self.log)

    def members(self) -> list[LocalNode]:
        """Return every member, first port first."""
        return [self.member(i) for i in range(self.config.nodes)]

    # -- start ------------------------------------------------------------------------------------------------
    def start(self) -> ClusterInfo:
        """Start every member that is not running and wait until all have joined a green cluster.

        Returns:
            The members, with ``already_running`` set when all of them were up before.

        Raises:
            NodeStartError: a port in use, no Java, a member that died, or the cluster did not form in time.
        """
        if self.port == 0:
            self.port = free_port_block(self.config.nodes)
            if self.config.state_dir is None:
                self.state = self.config.resolved_state_dir(self.port)
        if (self.state / "node.json").is_file() or (self.state / "data").is_dir():
            raise NodeStartError(f"{self.state} holds a single node; choose another --port or --state-dir")
        members = self.members()
        running = [m.running_info() for m in members]
        if all(info is not None for info in running):
            up = [info for info in running if info is not None]
            return ClusterInfo(nodes=up, state_dir=self.state, already_running=True)
        self.state.mkdir(parents=True, exist_ok=True)
        self.state.chmod(0o755)
        write_state_file(self.state / CLUSTER_FILE, json.dumps(
            {"nodes": self.config.nodes, "port": self.port, "secure": self.config.secure}, indent=2))
        home, java = self._runtime()
        launched: list[tuple[NodeInfo, Any]] = []
        infos: list[NodeInfo] = []
        try:
            for index, (member, info) in enumerate(zip(members, running, strict=True)):
                if info is None:
                    if self.config.secure and index > 0:
                        self._share_credentials(members[0], member)
                    info, proc = member.launch(home, java)
                    launched.append((info, proc))
                infos.append(info)
            # a fresh cluster is green as soon as the replicas of its own system indices are placed
            self._wait_formed(infos, launched, status="green")
            if self.config.secure:
                # ... but a secure one creates `.security-7` only after it formed, so green before that index
                # exists is a moment too early (a health query right after `es start` once saw yellow)
                self._wait_formed(infos, launched, status="green", index=".security")
        except NodeStartError:
            self.stop()
            raise
        if self.config.secure:
            members[0].ensure_trial(infos[0])
        return ClusterInfo(nodes=infos, state_dir=self.state)

    def _runtime(self) -> tuple[Path, JavaHome]:
        from auditlog.indexer.distribution import DistributionError
        from auditlog.indexer.java import JavaNotFoundError

        try:
            return ensure_distribution(self.config.version, self.log), find_java()
        except (DistributionError, JavaNotFoundError) as exc:
            raise NodeStartError(str(exc)) from exc

    def _share_credentials(self, first: LocalNode, member: LocalNode) -> None:
        """Give ``member`` the first member's certificates and password (its keystore is made from them)."""
        source, target = first.state, member.state
        config = target / "config"
        if self.config.reset_credentials:
            shutil.rmtree(config / "certs", ignore_errors=True)
            (target / "elastic-password").unlink(missing_ok=True)
            (config / "elasticsearch.keystore").unlink(missing_ok=True)
        if not (config / "certs" / "transport" / "transport.crt").is_file():
            config.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(config / "certs", ignore_errors=True)
            shutil.copytree(source / "config" / "certs", config / "certs")
        if not (target / "elastic-password").is_file():
            # a keystore made for another password would lock the member out of the shared one
            (config / "elasticsearch.keystore").unlink(missing_ok=True)
            shutil.copy2(source / "elastic-password", target / "elastic-password")

    def _wait_formed(self, infos: list[NodeInfo], launched: list[tuple[NodeInfo, Any]],
                     timeout: float | None = None, status: str = "yellow", index: str = "") -> None:
        """Wait until every member has joined and the cluster (or ``index``, once it exists) has ``status``.

        Raises:
            NodeStartError: a launched member exited, or the cluster was not there within the timeout.
        """
        deadline = time.monotonic() + (timeout or self.config.start_timeout)
        want = self.config.nodes
        last = "no answer yet"
        health_path = f"/_cluster/health/{index}" if index else "/_cluster/health"
        while time.monotonic() < deadline:
            for info, proc in launched:
                code = proc.poll()
                if code is not None:
                    raise NodeStartError(
                        f"Elasticsearch node on port {info.port} exited with status {code} during start; "
                        f"log {info.log_path}:\n{log_tail(info.log_path)}"
                    )
            for info in infos:
                try:
                    health = request_json(
                        info, f"{health_path}?wait_for_nodes={want}&wait_for_status={status}&timeout=2s")
                except (OSError, ValueError) as exc:
                    last = f"port {info.port}: {exc}"
                    continue
                if health.get("number_of_nodes") == want and health.get("status") in _AT_LEAST[status]:
                    return
                last = f"health {health.get('status')}, {health.get('number_of_nodes')} of {want} nodes"
                break
            time.sleep(1.0)
        raise NodeStartError(
            f"the {want}-node cluster did not become {status} within "
            f"{timeout or self.config.start_timeout:.0f}s ({last}); "
            f"logs under {self.state}:\n{log_tail(infos[0].log_path)}"
        )

    # -- one member -------------------------------------------------------------------------------------------
    def kill_node(self, index: int) -> None:
        """SIGKILL member ``index`` (launcher and JVM) and wait until none of its processes is left."""
        info = self.member(index).running_info()
        if info is None:
            return
        signal_group(info.pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while group_alive(info.pid) and time.monotonic() < deadline:
            time.sleep(0.1)

    def start_node(self, index: int) -> NodeInfo:
        """Start member ``index`` again (same data) and wait until the cluster has all its nodes back.

        Raises:
            NodeStartError: the member could not start or did not rejoin in time.
        """
        member = self.member(index)
        home, java = self._runtime()
        info, proc = member.launch(home, java)
        others = [i for i in (self.member(n).running_info() for n in range(self.config.nodes)) if i is not None]
        self._wait_formed(others, [(info, proc)])
        return info

    def index_of(self, name: str) -> int | None:
        """Return the member index of the node called ``name`` (``None``: not one of ours)."""
        for index in range(self.config.nodes):
            if node_name(self.port + index) == name:
                return index
        return None

    def primaries_by_node(self) -> dict[str, int]:
        """Return how many started primary shards each node holds right now (asked of any running member)."""
        for index in range(self.config.nodes):
            info = self.member(index).running_info()
            if info is None:
                continue
            try:
                shards = request_any(info, "/_cat/shards?format=json&h=prirep,state,node", timeout=10)
            except (OSError, ValueError):
                continue
            counts: dict[str, int] = {}
            for shard in shards:
                if shard.get("prirep") == "p" and shard.get("state") == "STARTED" and shard.get("node"):
                    counts[shard["node"]] = counts.get(shard["node"], 0) + 1
            return counts
        raise OSError("no member of the cluster answers")

    # -- stop and status --------------------------------------------------------------------------------------
    def stop(self, timeout: float = 60.0) -> bool:
        """Stop every member at once; ``False`` when none was running (idempotent).

        Returns:
            Whether any running member was stopped.
        """
        members = self.members()
        with ThreadPoolExecutor(max_workers=len(members)) as pool:
            stopped = list(pool.map(lambda m: m.stop(timeout), members))
        return any(stopped)

    def status(self) -> ClusterStatus:
        """Report each member, the cluster's health and how many nodes it has."""
        rows: list[dict[str, Any]] = []
        answering: NodeInfo | None = None
        for index in range(self.config.nodes):
            member = self.member(index)
            info = member.running_info()
            rows.append({"port": member.port, "pid": info.pid if info else None, "running": info is not None})
            if info is not None and answering is None:
                answering = info
        if answering is None:
            return ClusterStatus(running=False, members=rows, detail=f"no node running from {self.state}")
        try:
            health = request_json(answering, "/_cluster/health")
            nodes = request_json(answering, "/_nodes/_local")["nodes"]
            version = next(iter(nodes.values()))["version"]
        except (OSError, ValueError, KeyError) as exc:
            return ClusterStatus(running=True, url=answering.url, members=rows, detail=f"not answering: {exc}")
        return ClusterStatus(running=True, url=answering.url, version=version, health=health["status"],
                             nodes=int(health["number_of_nodes"]), members=rows)

