"""``auditlog es start|stop|status``: the local single-node Elasticsearch (the embedded default)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from auditlog.core.errors import CommandError
from auditlog.indexer.es_node import LocalNode, NodeConfig, NodeStartError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``auditlog es`` to the root parser."""
    es = sub.add_parser("es", help="run a local single-node Elasticsearch (the embedded default)",
                        description="Run a local single-node Elasticsearch 9 on 127.0.0.1.")
    es_sub = es.add_subparsers(dest="es_command", metavar="ACTION", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--port", type=int, default=9200, help="HTTP port (default 9200)")
        p.add_argument("--state-dir", type=Path, default=None,
                       help="node folder (default /var/lib/auditlog/es-PORT as root, "
                            "else ~/.local/state/auditlog/es-PORT)")

    start = es_sub.add_parser("start", help="start the node and wait until it is ready")
    common(start)
    start.add_argument("--secure", action="store_true",
                       help="security on: TLS on HTTP with a generated CA and a generated 'elastic' password")
    start.add_argument("--reset-credentials", action="store_true",
                       help="with --secure: make a new CA, HTTP certificate and 'elastic' password (the data stays); "
                            "without it a restart reuses the ones made by the first start")
    start.add_argument("--heap", default="1g", help="JVM heap, e.g. 512m or 1g (default 1g)")
    start.set_defaults(func=_start)

    stop = es_sub.add_parser("stop", help="stop the node (idempotent)")
    common(stop)
    stop.set_defaults(func=_stop)

    status = es_sub.add_parser("status", help="show whether the node runs, its version and health")
    common(status)
    status.add_argument("--json", action="store_true", help="print one JSON object")
    status.set_defaults(func=_status)


def _node(args: argparse.Namespace, **extra: object) -> LocalNode:
    if not 0 < args.port < 65536:
        from auditlog.core.errors import UsageError

        raise UsageError(f"--port must be 1-65535, got {args.port}")
    return LocalNode(NodeConfig(state_dir=args.state_dir, port=args.port, **extra),  # type: ignore[arg-type]
                     log=lambda line: print(line, file=sys.stderr))


def _start(args: argparse.Namespace) -> int:
    if args.reset_credentials and not args.secure:
        from auditlog.core.errors import UsageError

        raise UsageError("--reset-credentials needs --secure (only the secure node has credentials)")
    node = _node(args, secure=args.secure, heap=args.heap, reset_credentials=args.reset_credentials)
    try:
        info = node.start()
    except NodeStartError as exc:
        raise CommandError(str(exc)) from exc
    if info.already_running:
        print(f"Elasticsearch is already running at {info.url} (pid {info.pid})")
        return 0
    print(f"Elasticsearch {info.version} is ready at {info.url}")
    if info.secure:
        print(f"  user: elastic  password file (mode 0600): {info.password_file}")
        print(f"  CA certificate: {info.ca_path}")
        print(f"  try: curl --cacert {info.ca_path} -u \"elastic:$(cat {info.password_file})\" "
              f"{info.url}/_cluster/health")
    print(f"  data and logs: {info.state_dir}   stop with: auditlog es stop --port {info.port}")
    return 0


def _stop(args: argparse.Namespace) -> int:
    if _node(args).stop():
        print(f"Elasticsearch on port {args.port} stopped")
    else:
        print(f"no Elasticsearch was running on port {args.port} (nothing to do)")
    return 0


def _status(args: argparse.Namespace) -> int:
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
