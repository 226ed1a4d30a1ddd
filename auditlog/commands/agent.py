"""``auditlog agent`` (run, ``status``) and ``auditlog dlq`` (``list``, ``replay``): the shipper's commands.

- ``auditlog agent --config agent.toml`` or ``--path GLOB`` (repeatable) ``--state-dir DIR`` plus the
  connection flags: ship until SIGTERM/SIGINT (exit 0), reload on SIGHUP.
- ``auditlog agent status --state-dir DIR [--json] [--all]``: per file path, identity, offset, size, lag.
- ``auditlog agent check [--config FILE]``: the pre-flight checks (``agent.preflight``), one line each.
- ``auditlog dlq list --state-dir DIR [--all]``: one JSON object per dead letter (``reason``, ``file``,
  ``offset``, ``time``, ``line`` or ``line_b64``, ...).
- ``auditlog dlq replay --state-dir DIR [--config FILE] [--timeout S]``: re-validate and re-ship,
  idempotently; one JSON object per record on stdout (``outcome`` replayed / rejected / not_sent /
  skipped, ``reason``, ``identity``, ``offset``, ``file``), the summary on stderr; exit 1 when any record
  is left.
"""

from __future__ import annotations

import argparse
import json
import sys

import orjson

from auditlog.agent.config import AgentConfig
from auditlog.core.errors import CommandError, UsageError
from auditlog.options.connection import add_connection_args


def _add_config_args(p: argparse.ArgumentParser, *, state_required: bool = False) -> None:
    p.add_argument("--config", metavar="FILE", help="TOML configuration (see deploy/agent.toml)")
    p.add_argument("--state-dir", metavar="DIR", required=state_required,
                   help="registry and dead-letter directory (state.dir; env AUDITLOG_AGENT_STATE_DIR)")
    # --prefix like every other command; --index-prefix names the config key it sets.
    p.add_argument("--prefix", "--index-prefix", dest="index_prefix", metavar="NAME",
                   help="index namespace (elasticsearch.index_prefix; env AUDITLOG_INDEX_PREFIX)")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add these subcommands to the root parser."""
    agent = sub.add_parser(
        "agent", help="ship audit log files to Elasticsearch",
        description="Tail JSON-lines audit logs and ship every line exactly once to Elasticsearch.",
    )
    _add_config_args(agent)
    agent.add_argument("--path", dest="paths", action="append", metavar="GLOB",
                       help="file glob to ship (repeatable; inputs.paths)")
    agent.add_argument("--metrics-port", type=int, metavar="PORT", help="Prometheus /metrics port (metrics.port)")
    add_connection_args(agent)
    agent.set_defaults(func=_run_agent)
    agent_sub = agent.add_subparsers(dest="agent_command", metavar="SUBCOMMAND")
    status = agent_sub.add_parser("status", help="per-file offsets and lag from the registry",
                                  description="Show each file's acknowledged offset, size and lag in bytes.")
    status.add_argument("--state-dir", metavar="DIR", required=True, help="the agent's state directory")
    status.add_argument("--json", action="store_true", help="print a JSON array instead of a table")
    status.add_argument("--all", action="store_true", help="include closed and superseded files")
    status.set_defaults(func=_status)

    check = agent_sub.add_parser(
        "check", help="pre-flight: config, reachability, TLS, credentials, writer privileges, templates",
        description="Check, one line each, that this configuration can ship: config valid, node reachable, TLS "
                    "verified, credentials accepted, writer privileges (_has_privileges), templates installed. "
                    "Exit 0 when nothing failed, 1 otherwise (2 for a bad configuration). The agent runs the same "
                    "checks at start.")
    _add_config_args(check)
    add_connection_args(check)
    check.set_defaults(func=_check)

    dlq = sub.add_parser("dlq", help="inspect and replay dead letters",
                         description="Lines the agent could not ship, with the reason.")
    dlq_sub = dlq.add_subparsers(dest="dlq_command", metavar="SUBCOMMAND", required=True)
    lst = dlq_sub.add_parser("list", help="print dead letters as JSON lines",
                             description="Print one JSON object per dead letter.")
    lst.add_argument("--state-dir", metavar="DIR", required=True, help="the agent's state directory")
    lst.add_argument("--all", action="store_true", help="include entries already replayed")
    lst.set_defaults(func=_dlq_list)
    rep = dlq_sub.add_parser("replay", help="re-validate and re-ship dead letters (idempotent)",
                             description="Re-validate dead letters with the current configuration and ship them.")
    _add_config_args(rep)
    rep.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                     help="give up on a batch Elasticsearch refuses or does not answer for this long (default 30)")
    add_connection_args(rep)
    rep.set_defaults(func=_dlq_replay)


def _load(args: argparse.Namespace) -> AgentConfig:
    from auditlog.agent import config
    from auditlog.options.connection import resolve_secrets
    from auditlog.options.secrets import warn_stderr

    resolve_secrets(args)
    cfg = config.load(args.config, args)
    for warning in cfg.warnings:
        warn_stderr(warning)
    return cfg


def _run_agent(args: argparse.Namespace) -> int:
    from auditlog.agent import daemon

    if not args.config and not args.state_dir:
        raise UsageError("--state-dir: required without --config (where checkpoints and dead letters live)")
    return daemon.run(_load(args), args)


def _check(args: argparse.Namespace) -> int:
    from auditlog.agent.preflight import CheckResult, check
    from auditlog.indexer.client import make_client

    try:
        cfg = _load(args)
    except UsageError as exc:
        print(CheckResult("config", "fail", str(exc)).line())
        return 2
    report = check(cfg.connection(), cfg.tiers(), make_client)
    for result in report.results:
        print(result.line())
    return 0 if report.ok else 1


def _status(args: argparse.Namespace) -> int:
    from auditlog.agent.status import as_dicts, collect, render_table

    try:
        reports = collect(args.state_dir, include_closed=args.all)
    except FileNotFoundError:
        raise CommandError(f"no registry in {args.state_dir} (has the agent run with this --state-dir?)") from None
    if args.json:
        print(json.dumps(as_dicts(reports), indent=2))
    else:
        print(render_table(reports))
    return 0


def _dlq_list(args: argparse.Namespace) -> int:
    from auditlog.agent.deadletter import read_records

    out = sys.stdout.buffer
    for rec in read_records(args.state_dir, include_replayed=args.all):
        out.write(orjson.dumps(rec) + b"\n")
    out.flush()
    return 0


def _dlq_replay(args: argparse.Namespace) -> int:
    from auditlog.agent.daemon import configure_logging
    from auditlog.agent.parser import Parser
    from auditlog.agent.replay import Outcome, replay
    from auditlog.agent.sink import RetrySettings, client_options
    from auditlog.indexer.client import make_client

    if not args.config and not args.state_dir:
        raise UsageError("--state-dir: required without --config")
    if not args.timeout > 0:
        raise UsageError(f"--timeout: must be > 0, got {args.timeout}")
    cfg = _load(args)
    configure_logging(cfg["log.level"])  # stdout is for the outcomes
    client = make_client(cfg.connection(), **client_options())
    ids = cfg.id_record()
    out = sys.stdout

    def show(outcome: Outcome) -> None:
        out.write(json.dumps(outcome.to_dict()) + "\n")

    try:
        result = replay(cfg.state_dir, client, Parser(cfg["inputs.max_depth"]), cfg.enricher(),
                        retry=RetrySettings(float(cfg["retry.initial_backoff"]), float(cfg["retry.max_backoff"])),
                        timeout=args.timeout, ids=ids, on_outcome=show)
    finally:
        client.close()
        if ids is not None:
            ids.close()
    out.flush()
    print(result.summary(), file=sys.stderr)
    return 0 if result.ok else 1
