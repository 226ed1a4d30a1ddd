"""``auditlog agent`` (run, ``status``) and ``auditlog dlq`` (``list``, ``replay``): the shipper's commands.

- ``auditlog agent --config agent.toml`` or ``--path GLOB`` (repeatable) ``--state-dir DIR`` plus the
  connection flags: ship until SIGTERM/SIGINT (exit 0), reload on SIGHUP.
- ``auditlog agent --print-config`` / ``--print-unit``: write the sample ``agent.toml`` (every key
  documented) or the hardened systemd unit that the wheel carries, to start an installation from.
- ``auditlog agent status [--state-dir DIR | --config FILE] [--json] [--all]``: per file path, identity,
  offset, size, lag.
- ``auditlog agent check [--config FILE]``: the pre-flight checks (``agent.preflight``), one line each.
- ``auditlog dlq list [--state-dir DIR | --config FILE] [--all] [--json]``: one JSON object per line per
  dead letter (``reason``, ``file``, ``offset``, ``time``, ``line`` or ``line_b64``, ...); ``--json``: one
  JSON array.
- ``auditlog dlq replay [--state-dir DIR | --config FILE] [--timeout S]``: re-validate and re-ship,
- ``auditlog agent key --public --state-dir DIR``: the public half of the digest signing key (PEM).
  idempotently; one JSON object per record on stdout (``outcome`` replayed / rejected / not_sent /
  skipped, ``reason``, ``identity``, ``offset``, ``file``), the summary on stderr; exit 1 when any record
  is left.

The state directory comes from ``--state-dir``, else ``AUDITLOG_AGENT_STATE_DIR``, else the config
file's ``state.dir``; one of the three is required.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import orjson

from auditlog.agent.config import AgentConfig
from auditlog.core.errors import CommandError, UsageError
from auditlog.core.terminal import json_shown, shown
from auditlog.options.connection import add_connection_args

STATE_ENV = "AUDITLOG_AGENT_STATE_DIR"


def _add_state_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE", help="TOML configuration (auditlog agent --print-config shows one)")
    p.add_argument("--state-dir", metavar="DIR",
                   help=f"registry and dead-letter directory (state.dir; env {STATE_ENV})")


def _add_config_args(p: argparse.ArgumentParser) -> None:
    _add_state_args(p)
    # --prefix like every other command; --index-prefix names the config key it sets.
    p.add_argument("--prefix", "--index-prefix", dest="index_prefix", metavar="NAME",
                   help="index namespace (elasticsearch.index_prefix; env AUDITLOG_INDEX_PREFIX)")


SAMPLE_CONFIG = "agent.toml"
SAMPLE_UNIT = "auditlog-agent.service"


def sample_text(name: str) -> str:
    """Return a deploy sample the package carries (``agent.toml`` or ``auditlog-agent.service``)."""
    from importlib.resources import files

    return (files("auditlog.agent") / "deploy" / name).read_text(encoding="utf-8")


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
    samples = agent.add_mutually_exclusive_group()
    samples.add_argument("--print-config", dest="print_sample", action="store_const", const=SAMPLE_CONFIG,
                         help="print the sample agent.toml (every key documented) and exit")
    samples.add_argument("--print-unit", dest="print_sample", action="store_const", const=SAMPLE_UNIT,
                         help="print the systemd unit auditlog-agent.service and exit")
    add_connection_args(agent)
    agent.set_defaults(func=_run_agent)
    agent_sub = agent.add_subparsers(dest="agent_command", metavar="SUBCOMMAND")
    status = agent_sub.add_parser("status", help="per-file offsets and lag from the registry",
                                  description="Show each file's acknowledged offset, size and lag in bytes.")
    _add_state_args(status)
    status.add_argument("--json", action="store_true", help="print a JSON array instead of a table")
    status.add_argument("--all", action="store_true", help="include closed and superseded files")
    status.set_defaults(func=_status)
    key = agent_sub.add_parser("key", help="the agent's digest signing key (tamper evidence)",
                               description="Print the public half of the Ed25519 key the agent signs digests with "
                               "(created in the state directory, mode 0600, when there is none yet). Pin it with "
                               "`auditlog verify --pubkey FILE`.")
    key.add_argument("--state-dir", metavar="DIR", required=True, help="the agent's state directory")
    key.add_argument("--public", action="store_true", required=True, help="print the public key as PEM")
    key.set_defaults(func=_key)

    check = agent_sub.add_parser(
        "check", help="pre-flight: config, reachability, TLS, credentials, writer privileges, templates, mappings",
        description="Check, one line each, that this configuration can ship: config valid, node reachable, TLS "
                    "verified, credentials accepted, writer privileges (_has_privileges), templates installed, "
                    "existing daily indices made from them (a warning). Exit 0 when nothing failed, 1 otherwise (2 "
                    "for a bad configuration). The agent runs the same checks at start.")
    _add_config_args(check)
    add_connection_args(check)
    check.set_defaults(func=_check)

    dlq = sub.add_parser("dlq", help="inspect and replay dead letters",
                         description="Lines the agent could not ship, with the reason.")
    dlq_sub = dlq.add_subparsers(dest="dlq_command", metavar="SUBCOMMAND", required=True)
    lst = dlq_sub.add_parser("list", help="print dead letters as JSON lines",
                             description="Print one JSON object per dead letter.")
    _add_state_args(lst)
    lst.add_argument("--all", action="store_true", help="include entries already replayed")
    lst.add_argument("--json", action="store_true", help="print one JSON array instead of JSON lines")
    lst.set_defaults(func=_dlq_list)
    rep = dlq_sub.add_parser("replay", help="re-validate and re-ship dead letters (idempotent)",
                             description="Re-validate dead letters with the current configuration and ship them.")
    _add_config_args(rep)
    rep.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                     help="give up on a batch Elasticsearch refuses or does not answer for this long (default 30)")
    add_connection_args(rep)
    rep.set_defaults(func=_dlq_replay)


def _load(args: argparse.Namespace, *, need_state: bool = True) -> AgentConfig:
    """The configuration, after checking that a state directory was chosen somewhere (when ``need_state``).

    Raises:
        UsageError: when neither --state-dir, AUDITLOG_AGENT_STATE_DIR nor --config names one.
    """
    from auditlog.agent import config
    from auditlog.options.connection import resolve_secrets
    from auditlog.options.secrets import prompt_password, warn_stderr

    if need_state and not args.config and not getattr(args, "state_dir", None) and not os.environ.get(STATE_ENV):
        raise UsageError(f"--state-dir: required without --config or {STATE_ENV} "
                         "(where checkpoints and dead letters live)")
    def ask(user: str, option: str) -> str:
        # kept in the arguments: a reload (SIGHUP) loads again from them, with no terminal to ask on
        args.es_password = prompt_password(user, option=option)
        return str(args.es_password)

    resolve_secrets(args, prompt=False)  # the file may hold the password: ask only once it is read
    cfg = config.load(args.config, args, ask_password=ask)
    for warning in cfg.warnings:
        warn_stderr(warning)
    return cfg


def _existing_state_dir(args: argparse.Namespace, cfg: AgentConfig | None = None) -> Path:
    """The chosen state directory (of ``cfg``, loaded here when None), which must hold the agent's registry or dead
    letters.

    Raises:
        CommandError: when it holds neither (not a state directory, or the agent never ran there).
    """
    from auditlog.agent.deadletter import DEADLETTER_FILE
    from auditlog.agent.registry import REGISTRY_FILE

    state = (cfg or _load(args)).state_dir
    # lexists: a link or a FIFO in the dead-letter file's place is named by the reader, not called "no state dir"
    if not ((state / REGISTRY_FILE).is_file() or os.path.lexists(state / DEADLETTER_FILE)):
        raise CommandError(f"{state} is not an agent state directory (no {REGISTRY_FILE} or {DEADLETTER_FILE}; "
                           "has the agent run with this --state-dir?)")
    return state


def _run_agent(args: argparse.Namespace) -> int:
    from auditlog.agent import daemon

    if args.print_sample:
        sys.stdout.write(sample_text(args.print_sample))
        return 0
    return daemon.run(_load(args), args)


def _check(args: argparse.Namespace) -> int:
    from auditlog.agent.preflight import CheckResult, check
    from auditlog.indexer.client import make_client

    try:
        cfg = _load(args, need_state=False)  # the checks read nothing of the state directory
        connection = cfg.connection()  # the elasticsearch.* keys that only make sense together (an api_key's form)
    except UsageError as exc:
        print(CheckResult("config", "fail", str(exc)).line())
        return 2
    report = check(connection, cfg.tiers(), make_client, digests=cfg["digest.enabled"])
    for result in report.results:
        print(result.line())
    return 0 if report.ok else 1


def _status(args: argparse.Namespace) -> int:
    from auditlog.agent.status import as_dicts, collect, render_table

    state = _load(args).state_dir
    try:
        reports = collect(state, include_closed=args.all)
    except FileNotFoundError:
        raise CommandError(f"no registry in {state} (has the agent run with this --state-dir?)") from None
    if args.json:
        print(json.dumps(as_dicts(reports), indent=2))
    else:
        print(render_table(reports))
    return 0


def _key(args: argparse.Namespace) -> int:
    from auditlog.agent.signing import KEY_FILE, KeyFileError, load_key

    if not args.state_dir:  # '' is the working directory to open(): the key landed wherever the command ran
        raise UsageError("--state-dir: must not be empty (the agent's state directory)")
    new = not os.path.lexists(Path(args.state_dir) / KEY_FILE)
    try:
        key = load_key(args.state_dir)
    except KeyFileError as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"cannot use state directory {args.state_dir}: {exc.strerror or exc}") from None
    sys.stdout.write(key.public_pem())
    if new:  # a mistyped --state-dir pins a key no agent signs with: every digest then "not pinned"
        print(f"auditlog agent: {shown(str(args.state_dir), line_breaks=False)} held no signing key: made a new one, "
              "which an agent started on this state directory signs with (is it your agent's --state-dir?)",
              file=sys.stderr)
    return 0


#: the longest ``dlq replay --timeout`` (a day): long enough for any outage worth waiting out, finite
MAX_REPLAY_TIMEOUT = 86400.0


def _dlq_limit(args: argparse.Namespace, cfg: AgentConfig, state: Path) -> int:
    """The longest dead-letter record ``dlq`` reads: what the agent writes, never the whole of a huge line.

    With ``--config`` the configuration's bound; without it, the one the agent recorded in the state directory
    (``deadletter.limit``), so records of an agent with a longer ``inputs.max_line_bytes`` are read whole; one
    missing (an earlier agent) or unsound is the default configuration's, the latter said in one warning line.
    """
    from auditlog.agent.deadletter import record_limit, saved_limit
    from auditlog.options.secrets import warn_stderr

    configured = record_limit(cfg["inputs.max_line_bytes"])
    if args.config:
        return configured
    saved, problem = saved_limit(state)
    if problem is not None:
        warn_stderr(f"{shown(problem, line_breaks=False)}; reading records of up to {configured:,} bytes "
                    "(--config reads the configuration's bound)")
    return configured if saved is None else saved


def _dlq_list(args: argparse.Namespace) -> int:
    from auditlog.agent.deadletter import read_records

    cfg = _load(args)  # once: each load says its warnings again
    state = _existing_state_dir(args, cfg)
    # no more of a line than the configuration's agent writes: a huge line must not take the reader's memory
    records = read_records(state, include_replayed=args.all, limit=_dlq_limit(args, cfg, state))
    out = sys.stdout.buffer  # records hold file names and lines as read: C1 controls and bidi marks escaped
    if args.json:
        out.write(json_shown(orjson.dumps(list(records), option=orjson.OPT_INDENT_2)) + b"\n")
    else:
        for rec in records:
            out.write(json_shown(orjson.dumps(rec)) + b"\n")
    out.flush()
    return 0


def _dlq_replay(args: argparse.Namespace) -> int:
    from auditlog.agent.daemon import configure_logging
    from auditlog.agent.parser import Parser
    from auditlog.agent.replay import Outcome, replay
    from auditlog.agent.shipper import ShipperFields
    from auditlog.agent.sink import client_options
    from auditlog.indexer.client import make_client

    if not 0 < args.timeout <= MAX_REPLAY_TIMEOUT:  # nan and inf too: inf retried for ever
        raise UsageError(f"--timeout: must be > 0 and <= {MAX_REPLAY_TIMEOUT:g} seconds, got {args.timeout}")
    cfg = _load(args)
    configure_logging(cfg["log.level"])  # stdout is for the outcomes
    client = make_client(cfg.connection(), **client_options(cfg["batch.max_events"], cfg["batch.max_bytes"],
                                                            cfg["inputs.max_line_bytes"]))
    ids = cfg.id_record()
    out = sys.stdout

    def show(outcome: Outcome) -> None:
        out.write(json.dumps(outcome.to_dict()) + "\n")

    try:
        enricher = cfg.enricher(ShipperFields.for_this_process())
        result = replay(cfg.state_dir, client, Parser(cfg["inputs.max_depth"]), enricher,
                        backoff=cfg.backoff(),
                        timeout=args.timeout, ids=ids, on_outcome=show, digests=cfg["digest.enabled"],
                        limit=_dlq_limit(args, cfg, cfg.state_dir))
    finally:
        client.close()
        if ids is not None:
            ids.close()
    out.flush()
    print(result.summary(), file=sys.stderr)
    return 0 if result.ok else 1
