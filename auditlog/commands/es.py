"""``auditlog es start|stop|status``: the local Elasticsearch, one node (the embedded default) or a cluster.

``--nodes N`` on ``start`` makes a local cluster (``indexer.es_cluster``); ``stop`` and ``status`` find
a cluster's members from the folder of its first port, so they take no ``--nodes``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from auditlog.core.errors import CommandError, UsageError
from auditlog.core.processes import Outcome, SignalRefused
from auditlog.indexer.es_cluster import ClusterConfig, LocalCluster, recorded_nodes
from auditlog.indexer.es_node import LocalNode, NodeConfig, NodeStartError, port_in_use
from auditlog.options.node import heap_arg, port_arg

#: JVM heap of a single node and of each cluster member, unless --heap says otherwise
SINGLE_HEAP, MEMBER_HEAP = "1g", "512m"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``auditlog es`` to the root parser."""
    es = sub.add_parser("es", help="run a local Elasticsearch: one node (the embedded default) or a cluster",
                        description="Run a local Elasticsearch 9 on 127.0.0.1: a single node, or with "
                        "`start --nodes N` a cluster on HTTP ports PORT..PORT+N-1 (transport ports +100).")
    es_sub = es.add_subparsers(dest="es_command", metavar="ACTION", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--port", type=port_arg(), default=9200, help="HTTP port (default 9200)")
        p.add_argument("--state-dir", type=Path, default=None,
                       help="node folder (default /var/lib/auditlog/es-PORT as root, "
                            "else ~/.local/state/auditlog/es-PORT)")

    start = es_sub.add_parser("start", help="start the node (or cluster) and wait until it is ready")
    common(start)
    start.add_argument("--nodes", type=int, default=None, metavar="N",
                       help="start a local cluster of N nodes on ports PORT..PORT+N-1, each with its own data "
                            "folder under the state folder (default: what the state folder holds, else 1)")
    start.add_argument("--secure", action="store_true",
                       help="security on: TLS on HTTP with a generated CA and a generated 'elastic' password")
    start.add_argument("--reset-credentials", action="store_true",
                       help="with --secure: make a new CA, HTTP certificate and 'elastic' password (the data stays); "
                            "without it a restart reuses the ones made by the first start")
    start.add_argument("--heap", default=None, type=heap_arg,
                       help=f"JVM heap per node, e.g. 512m or 1g "
                            f"(default {SINGLE_HEAP}, {MEMBER_HEAP} per cluster member)")
    start.set_defaults(func=_start)

    stop = es_sub.add_parser("stop", help="stop the node or every node of the cluster (idempotent)")
    common(stop)
    stop.set_defaults(func=_stop)

    status = es_sub.add_parser("status", help="show whether the node (each cluster node) runs, version and health")
    common(status)
    status.add_argument("--json", action="store_true", help="print one JSON object")
    status.set_defaults(func=_status)


def _node(args: argparse.Namespace, **extra: object) -> LocalNode:
    return LocalNode(NodeConfig(state_dir=args.state_dir, port=args.port, **extra),  # type: ignore[arg-type]
                     log=lambda line: print(line, file=sys.stderr))


def _cluster(args: argparse.Namespace, nodes: int, **extra: object) -> LocalCluster:
    if args.port + nodes - 1 + 100 > 65535:
        raise UsageError(f"--port {args.port} leaves no room for {nodes} nodes (ports up to PORT+{nodes - 1}+100)")
    return LocalCluster(ClusterConfig(state_dir=args.state_dir, port=args.port, nodes=nodes, **extra),  # type: ignore[arg-type]
                        log=lambda line: print(line, file=sys.stderr))


def _recorded(args: argparse.Namespace) -> int | None:
    """How many nodes the cluster in this port's state folder has (``None``: it holds no cluster)."""
    return recorded_nodes(NodeConfig(state_dir=args.state_dir).resolved_state_dir(args.port))


def _start(args: argparse.Namespace) -> int:
    if args.reset_credentials and not args.secure:
        raise UsageError("--reset-credentials needs --secure (only the secure node has credentials)")
    if args.nodes is not None and not 1 <= args.nodes <= 9:
        raise UsageError(f"--nodes must be 1-9, got {args.nodes}")
    recorded = _recorded(args)
    nodes = args.nodes or recorded or 1
    if recorded is not None and nodes != recorded:
        raise UsageError(f"--nodes {nodes}: the state folder holds a {recorded}-node cluster; "
                         f"choose another --port or --state-dir")
    if nodes > 1:
        return _start_cluster(args, nodes)
    node = _node(args, secure=args.secure, heap=args.heap or SINGLE_HEAP, reset_credentials=args.reset_credentials)
    try:
        info = node.start()
    except NodeStartError as exc:
        raise CommandError(str(exc)) from exc
    if info.already_running:
        print(f"Elasticsearch is already running at {info.url} (pid {info.pid})")
        return 0
    print(f"Elasticsearch {info.version} is ready at {info.url}")
    if info.secure:
        _print_credentials(info.url, info.password_file, info.ca_path)
    print(f"  data and logs: {info.state_dir}   stop with: {_stop_command(args, info.port)}")
    return 0


def _start_cluster(args: argparse.Namespace, nodes: int) -> int:
    cluster = _cluster(args, nodes, secure=args.secure, heap=args.heap or MEMBER_HEAP,
                       reset_credentials=args.reset_credentials)
    try:
        info = cluster.start()
    except (NodeStartError, OSError) as exc:
        raise CommandError(str(exc)) from exc
    urls = ",".join(info.urls)
    if info.already_running:
        print(f"the {nodes}-node Elasticsearch cluster is already running at {urls}")
        return 0
    first = info.nodes[0]
    print(f"Elasticsearch {first.version} cluster of {nodes} nodes is ready at {urls}")
    if first.secure:
        _print_credentials(first.url, first.password_file, first.ca_path)
    print(f"  connect with: --es {urls}  (or AUDITLOG_ES_URL; every node is tried in turn)")
    print(f"  data and logs: {info.state_dir}/node-1..{nodes}   stop with: {_stop_command(args, first.port)}")
    return 0


def _stop_command(args: argparse.Namespace, port: int) -> str:
    """The ``auditlog es stop`` line that finds this node: with ``--state-dir`` when start was given one."""
    where = ["--port", str(port)]
    if args.state_dir is not None:
        where += ["--state-dir", str(Path(args.state_dir).absolute())]
    return shlex.join(["auditlog", "es", "stop", *where])


def _print_credentials(url: str, password_file: Path | None, ca_path: Path | None) -> None:
    print(f"  user: elastic  password file (mode 0600): {password_file}")
    print(f"  CA certificate: {ca_path}")
    print(f"  try: curl --cacert {ca_path} -u \"elastic:$(cat {password_file})\" {url}/_cluster/health")


def _stop(args: argparse.Namespace) -> int:
    recorded = _recorded(args)
    try:
        if recorded is not None:
            if _cluster(args, recorded).stop():
                print(f"Elasticsearch cluster on ports {args.port}-{args.port + recorded - 1} stopped")
            else:
                print(f"no node of the cluster on ports {args.port}-{args.port + recorded - 1} was running "
                      f"(nothing to do)")
            return 0
        node = _node(args)
        running = node.running_info()
        result = node.stop_result()
    except SignalRefused as exc:  # an unconfirmed pid, or a node that would not go: one line, nothing guessed
        raise CommandError(str(exc)) from None
    if result.outcome is Outcome.STOPPED:
        # the port the node listened on: with --state-dir alone, --port is its default, not the node's
        print(f"Elasticsearch on port {running.port if running is not None else args.port} stopped")
    elif result.outcome is Outcome.STALE:
        print(f"no Elasticsearch was running on port {args.port}: removed its stale node.json ({result.detail}; "
              f"nothing signalled)")
    elif port_in_use(args.port):  # not ours to stop, and "nothing to do" would be untrue
        folder = NodeConfig(state_dir=args.state_dir).resolved_state_dir(args.port)
        raise CommandError(f"no node started from {folder} runs on port {args.port}, but something listens there: "
                           "a node started with another --state-dir? Pass the same --state-dir to stop it")
    else:
        print(f"no Elasticsearch was running on port {args.port} (nothing to do)")
    return 0


def _status(args: argparse.Namespace) -> int:
    recorded = _recorded(args)
    if recorded is not None:
        return _cluster_status(args, recorded)
    status = _node(args).status()
    if args.json:
        print(json.dumps(status.__dict__))
    elif status.running and status.version:
        print(f"running at {status.url} (pid {status.pid}): Elasticsearch {status.version}, health {status.health}")
    elif status.running:
        print(f"process {status.pid} runs but the node is {status.detail}")
    else:
        print(f"not running ({status.detail})")
    return 0 if status.running else 3


def _cluster_status(args: argparse.Namespace, nodes: int) -> int:
    status = _cluster(args, nodes).status()
    if args.json:
        print(json.dumps(status.__dict__))
        return 0 if status.running else 3
    up = sum(1 for m in status.members if m["running"])
    if status.running and status.version:
        print(f"cluster of {nodes} nodes at {status.url}: Elasticsearch {status.version}, health {status.health}, "
              f"{status.nodes} of {nodes} nodes joined")
    elif status.running:
        print(f"cluster of {nodes} nodes: {up} processes run but the cluster is {status.detail}")
    else:
        print(f"not running ({status.detail})")
    for member in status.members:
        state = f"running (pid {member['pid']})" if member["running"] else "not running"
        print(f"  port {member['port']}: {state}")
    return 0 if status.running else 3
