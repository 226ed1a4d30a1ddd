"""``auditlog demo emit|run|stop``: realistic events through the real emitter, and the whole pipeline.

- ``auditlog demo emit --path FILE [--backfill-days N --count N] [--rate N --duration S]`` writes
  fabricated events through the emitter into FILE: first a history, then a live trickle
  (``--duration 0`` = until SIGTERM/Ctrl-C). The history is written once per file: when FILE already
  holds events (a restarted demo) only the live trickle is added, unless ``--again``.
- ``auditlog demo run`` (``make demo``): start the local node (unless ``--es``/``AUDITLOG_ES_URL``
  names a cluster), run ``auditlog setup``, start the agent and the generator in the background,
  wait until the first events are searchable, open the TUI; on quit print how to stop the rest. A
  generator that ends by itself (``--rate 0`` = history only, or ``--duration`` over) has ended as planned:
  it leaves ``demo.json`` and the agent (and the TUI) go on; only a generator that exits with an error fails.
- ``auditlog demo stop`` (``make demo-stop``): stop the generator, the agent and the node it started.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from auditlog.core.errors import CommandError, Terminated, UsageError
from auditlog.core.processes import Outcome, SignalRefused, StopResult, Verdict
from auditlog.core.terminal import unfiltered
from auditlog.demo.generator import MAX_BACKFILL_DAYS, DemoGenerator, DemoPlan, emitter_writer
from auditlog.demo.stack import (
    STATE_FILE,
    DemoState,
    agent_dir,
    auditlog_argv,
    child_env,
    default_state_dir,
    part_verdict,
    running_parts,
    spawn,
    spawn_process,
    stop_part,
)
from auditlog.indexer.client import ConnectionSettings, make_client
from auditlog.indexer.tiers import DEFAULT_PREFIX, TierTable
from auditlog.options.connection import add_connection_args, settings_from_args
from auditlog.options.node import heap_arg, port_arg

DEMO_LOG = "audit.jsonl"
#: the most events per second the generator is asked for (far beyond what one emitter writes)
MAX_RATE = 1_000_000.0
#: the longest live phase, in seconds: a century (0 = until stopped)
MAX_DURATION = 36_500 * 86_400.0
#: the longest wait for the first searchable events, in seconds: a day
MAX_WAIT = 86_400.0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``auditlog demo`` to the root parser."""
    demo = sub.add_parser("demo", help="realistic demo events and a one-command local pipeline",
                          description="Realistic audit events through the real emitter, and `make demo`.")
    demo_sub = demo.add_subparsers(dest="demo_command", metavar="ACTION", required=True)

    emit = demo_sub.add_parser(
        "emit", help="write demo events to a JSON-lines file through the emitter",
        description="Write fabricated events (every tier, the seed's sources and types) through the emitter: "
                    "first --count events spread over the last --backfill-days days, then --rate events per "
                    "second for --duration seconds (0 = until stopped).")
    emit.add_argument("--path", required=True, type=Path, metavar="FILE", help="JSON-lines file to append to")
    emit.add_argument("--again", action="store_true",
                      help="write the back-fill even when FILE already holds events (default: only once per file)")
    _add_generator_args(emit)
    emit.set_defaults(func=run_emit)

    run = demo_sub.add_parser(
        "run", help="local node + setup + agent + generator in the background, then the TUI (make demo)",
        description="Start everything a demo needs and open the TUI. Background parts keep running after "
                    "the TUI quits; stop them with `auditlog demo stop` (make demo-stop).")
    _add_state_arg(run)
    run.add_argument("--port", type=port_arg(), default=9200, help="port of the local node (default 9200)")
    run.add_argument("--heap", default="1g", type=heap_arg, help="JVM heap of the local node, e.g. 512m (default 1g)")
    _add_generator_args(run, backfill_days=7, count=20_000, rate=2.0)
    run.add_argument("--prefix", default=DEFAULT_PREFIX, metavar="NAME",
                     help=f"index namespace for setup, agent and TUI (default {DEFAULT_PREFIX!r})")
    run.add_argument("--metrics-port", type=port_arg(0), default=0, metavar="PORT",
                     help="the agent's Prometheus port (default 0: any free port, see agent.log)")
    run.add_argument("--no-tui", action="store_true", help="start the background parts only")
    run.add_argument("--wait", type=_number(0, MAX_WAIT, "seconds"), default=120.0, metavar="S",
                     help="seconds to wait for the first events to be searchable (default 120)")
    add_connection_args(run)
    run.set_defaults(func=run_demo)

    stop = demo_sub.add_parser("stop", help="stop what `demo run` started (make demo-stop)")
    _add_state_arg(stop)
    stop.set_defaults(func=run_stop)


def _add_state_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state-dir", type=Path, default=None, metavar="DIR",
                        help=f"demo state folder (default {default_state_dir()})")


def _add_generator_args(parser: argparse.ArgumentParser, *, backfill_days: float = 0, count: int = 0,
                        rate: float = 0) -> None:
    group = parser.add_argument_group("events")
    group.add_argument("--backfill-days", type=_number(0, MAX_BACKFILL_DAYS, "days"), default=backfill_days,
                       metavar="N",
                       help=f"history window in days before now (default {backfill_days:g})")
    group.add_argument("--count", type=int, default=count, metavar="N",
                       help=f"events in the history window (default {count})")
    group.add_argument("--rate", type=_rate, default=rate, metavar="N",
                       help=f"live events per second after the history, e.g. 5, 5/s or 120/m "
                            f"(default {rate:g}; 0 = none)")
    group.add_argument("--duration", type=_number(0, MAX_DURATION, "seconds"), default=0, metavar="S",
                       help="seconds of live events (default 0 = until stopped)")
    group.add_argument("--seed", type=int, default=0, help="random seed: the same seed, the same history")


def _rate(text: str) -> float:
    """Parse ``N``, ``N/s`` or ``N/m`` into events per second."""
    number, _, unit = text.strip().partition("/")
    per = {"": 1.0, "s": 1.0, "m": 60.0}.get(unit.strip().lower())
    try:
        value = float(number)
    except ValueError:
        per = None
    if per is None:
        raise argparse.ArgumentTypeError(f"not a rate: {text!r} (use e.g. 5, 5/s or 120/m)")
    if not 0 <= value / per <= MAX_RATE:  # nan and inf fail this too
        raise argparse.ArgumentTypeError(f"must be between 0 and {MAX_RATE:,.0f} events per second, got {text!r}")
    return value / per


def _number(lo: float, hi: float, unit: str) -> Callable[[str], float]:
    """An argparse type: a finite number from ``lo`` to ``hi`` (nan, inf and huge values are usage errors)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not lo <= value <= hi:  # nan fails every comparison
            raise argparse.ArgumentTypeError(f"must be between {lo:g} and {hi:,.0f} {unit}, got {text!r}")
        return value

    return parse


def _plan(args: argparse.Namespace, *, require_output: bool) -> DemoPlan:
    if args.count and not args.backfill_days:
        raise UsageError("--count needs --backfill-days N (the history window)")
    if args.backfill_days and not args.count:
        raise UsageError("--backfill-days needs --count N (how many events in the window)")
    if require_output and not args.count and not args.rate:
        raise UsageError("nothing to write: give --backfill-days N --count N and/or --rate N")
    try:
        return DemoPlan(backfill_days=args.backfill_days, backfill_count=args.count, rate=args.rate,
                        duration=args.duration or None, seed=args.seed)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def run_emit(args: argparse.Namespace) -> int:
    """``auditlog demo emit``: write the plan's events, stop cleanly on SIGTERM/SIGINT."""
    plan = _plan(args, require_output=True)
    path: Path = args.path
    if path.is_dir():
        raise UsageError(f"--path: {path} is a folder, give a file name")
    if plan.backfill_count and not args.again and path.is_file() and path.stat().st_size:
        # A restarted demo (container restart, `make demo` after `make demo-stop`) must not write a
        # second, shifted history next to the first one: the history is written once per file.
        print(f"{path} already holds events: skipping the back-fill (--again writes it anyway)", file=sys.stderr)
        plan = DemoPlan(rate=plan.rate, duration=plan.duration, seed=plan.seed)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write, close = emitter_writer(path)
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from None
    generator = DemoGenerator(plan, write)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        generator.stop()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        stats = generator.run()
    except OSError as exc:  # a full disk, a device that takes no more (/dev/full): the file named, one line
        raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        with contextlib.suppress(OSError):  # the write's own error is the one to tell
            close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print(f"wrote {stats.backfilled} back-filled and {stats.live} live events to {path}", file=sys.stderr)
    return 0


def _connection(args: argparse.Namespace) -> tuple[ConnectionSettings, bool]:
    """Return the settings and whether the user named a cluster (else the demo runs the local node)."""
    named = bool(args.es_url or os.environ.get("AUDITLOG_ES_URL"))
    return settings_from_args(args), named


def run_demo(args: argparse.Namespace) -> int:
    """``auditlog demo run``: everything up, then the TUI."""
    _plan(args, require_output=True)  # validated here; the generator child re-parses the same flags
    try:
        tiers = TierTable(prefix=args.prefix)
    except ValueError as exc:
        raise UsageError(f"--prefix: {exc}") from None
    state_dir: Path = args.state_dir or default_state_dir()
    existing = DemoState.load(state_dir)
    unconfirmed = sorted(name for name in (existing.processes if existing else {})
                         if existing is not None and part_verdict(existing, name) is Verdict.UNCONFIRMED)
    if unconfirmed:  # an earlier version's state file: overwriting it would forget parts that may still run
        raise CommandError(f"{state_dir / STATE_FILE} names {', '.join(unconfirmed)}, which may still run but "
                           "cannot be confirmed (an earlier version wrote it): `auditlog demo stop` says how to "
                           "stop them by hand; then run again")
    if existing is not None and running_parts(existing):
        print(f"the demo is already running ({', '.join(sorted(running_parts(existing)))}); opening the TUI")
        settings, named = _connection(args)
        return _open_tui(args, child_env(settings if named else ConnectionSettings(url=existing.es_url)),
                         state_dir, tiers)

    settings, named = _connection(args)
    state = DemoState(es_url=settings.url)
    if not named:
        settings, state = _start_node(args, state_dir)
    state.save(state_dir)
    try:
        env = _start_background(args, settings, tiers, state, state_dir)
    except (CommandError, KeyboardInterrupt, Terminated) as exc:
        if not state.processes and state.node_port is None:
            DemoState.remove(state_dir)  # nothing was started: nothing to stop later
            raise
        # Whatever started so far keeps running: say how to stop it instead of leaving it unnoticed.
        stop = "auditlog demo stop" + (f" --state-dir {state_dir}" if state_dir != default_state_dir() else "")
        if isinstance(exc, (KeyboardInterrupt, Terminated)):
            print(f"\ninterrupted; stop what was started with: {stop}", file=sys.stderr)
            raise
        raise CommandError(f"{exc} (stop what was started with: {stop})") from None
    if args.no_tui:
        _print_stop_hint(state_dir)
        return 0
    return _open_tui(args, env, state_dir, tiers)


def _start_background(
    args: argparse.Namespace, settings: ConnectionSettings, tiers: TierTable, state: DemoState, state_dir: Path
) -> dict[str, str]:
    """Run setup, start the agent and the generator, wait for the first events; return the children's env."""
    env = child_env(settings)
    _setup(settings, tiers)
    logs = state_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    state.record("agent", spawn("agent", auditlog_argv(
        "agent", "--path", str(logs / "audit*.jsonl"), "--state-dir", str(agent_dir(state_dir)),
        "--prefix", tiers.prefix, "--metrics-port", str(args.metrics_port)), state_dir, env))
    state.save(state_dir)
    generator = spawn_process("generator", auditlog_argv(
        "demo", "emit", "--path", str(logs / DEMO_LOG), "--backfill-days", f"{args.backfill_days:g}",
        "--count", str(args.count), "--rate", f"{args.rate:g}", "--duration", f"{args.duration:g}",
        "--seed", str(args.seed)), state_dir, env)
    state.record("generator", generator.pid)
    state.save(state_dir)
    print(f"agent (pid {state.processes['agent']}) and generator (pid {state.processes['generator']}) started; "
          f"logs in {state_dir}")
    _wait_for_events(settings, tiers, state, state_dir, args.wait, expected=args.count, generator=generator)
    return env


def _start_node(args: argparse.Namespace, state_dir: Path) -> tuple[ConnectionSettings, DemoState]:
    from auditlog.indexer.es_node import LocalNode, NodeConfig, NodeStartError

    print(f"starting the local Elasticsearch node on port {args.port} (first run downloads it)...")
    node = LocalNode(NodeConfig(port=args.port, heap=args.heap), log=lambda line: print(line, file=sys.stderr))
    ours = node.running_info() is None  # a node running before is the user's: never stopped here
    try:
        info = node.start()
    except NodeStartError as exc:
        hint = ""
        if "already in use" in str(exc):
            hint = f" (to use an Elasticsearch already listening there: --es http://127.0.0.1:{args.port})"
        raise CommandError(f"{exc}{hint}") from exc
    except BaseException:
        # Ctrl-C (or SIGTERM) while it starts: no state file names it yet, so `demo stop` would not find it,
        # and the next `demo run` would take it for the user's own node and never stop it either
        if ours:
            print("interrupted; stopping the node it was starting", file=sys.stderr)
            with contextlib.suppress(Exception):
                node.stop()
        raise
    # A node that was already running is the user's: `demo stop` leaves it alone.
    state = DemoState(es_url=info.url, node_port=None if info.already_running else info.port,
                      node_state_dir=str(info.state_dir))
    print(f"Elasticsearch {info.version} at {info.url}")
    return ConnectionSettings(url=info.url), state


def _setup(settings: ConnectionSettings, tiers: TierTable) -> None:
    """Run what `auditlog setup` runs, with its one-line cluster error messages."""
    from auditlog.commands.admin import NEEDS
    from auditlog.indexer.errors import cluster_errors
    from auditlog.indexer.setup import SetupError, run_setup

    client = make_client(settings, max_retries=0, retry_on_timeout=False)
    try:
        with cluster_errors(settings.url, NEEDS["setup"]):
            report = run_setup(client, tiers)
    except SetupError as exc:
        raise CommandError(str(exc)) from None
    finally:
        client.close()
    print(f"setup: {len(report.changes)} objects checked" + (", some installed or upgraded" if report.changed else ""))


def _wait_for_events(
    settings: ConnectionSettings, tiers: TierTable, state: DemoState, state_dir: Path, timeout: float,
    expected: int, generator: subprocess.Popen[bytes],
) -> None:
    """Wait until the back-filled history (``expected`` events) is searchable, a part died, or ``timeout`` passed.

    The TUI opens on a snapshot, so opening it on a half-shipped history would show a half-empty week. A
    ``generator`` that exits 0 has ended as planned (``--rate 0``: history only; or its ``--duration`` is over):
    it is dropped from ``demo.json`` and the wait goes on; any other exit is a failure.
    """
    from elasticsearch import ApiError, TransportError

    client = make_client(settings, max_retries=0)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            # the generator's exit status tells a planned end from a crash: read it before anything reaps it
            ended = generator.poll() if "generator" in state.processes else None
            if ended == 0:
                _forget(state, state_dir, "generator")
                print("the generator finished as planned (--rate 0 or --duration over); the agent keeps running")
            # part_verdict reaps what it judges, so the generator (judged by its exit status) is left out
            dead = sorted({name for name in state.processes if name != "generator"
                           and part_verdict(state, name) is not Verdict.OURS} | ({"generator"} if ended else set()))
            if dead:
                logs = ", ".join(str(state_dir / f"{name}.log") for name in dead)
                raise CommandError(f"the {' and the '.join(dead)} stopped unexpectedly; see {logs}")
            try:
                count = int(client.count(index=tiers.read_pattern, allow_no_indices=True)["count"])
            except (ApiError, TransportError, KeyError, TypeError, ValueError):  # also an answer of another shape
                count = 0
            if count >= expected:
                print(f"{count} events searchable")
                return
            time.sleep(1.0)
            if count:
                print(f"{count} of {expected} history events searchable...", end="\r", flush=True,
                      file=unfiltered(sys.stdout))  # the "\r" is ours: the line holds only numbers
        print(f"no events searchable after {timeout:g} s yet; see {state_dir}/*.log", file=sys.stderr)
    finally:
        client.close()


def _forget(state: DemoState, state_dir: Path, name: str) -> None:
    """Drop a part that has ended as planned from ``demo.json`` (``demo stop`` has nothing to say about it)."""
    state.processes.pop(name, None)
    state.identities.pop(name, None)
    state.save(state_dir)


def _open_tui(args: argparse.Namespace, env: dict[str, str], state_dir: Path, tiers: TierTable) -> int:
    if args.no_tui:
        return 0
    tui = subprocess.Popen(auditlog_argv("tui", "--prefix", tiers.prefix), env=env)
    try:
        status = tui.wait()
    except KeyboardInterrupt:  # a SIGINT to this process (the terminal's ctrl+c is a key to the TUI): end it cleanly
        _end_child(tui, signal.SIGTERM)
        status = 130
    except Terminated as exc:
        # SIGTERM/SIGHUP to `demo run`: the TUI gets the same (it restores the terminal and exits); killing it,
        # as subprocess.call does on any exception, left the terminal in the alternate screen and raw mode
        _end_child(tui, signal.Signals(exc.signum))
        _print_stop_hint(state_dir)
        raise
    _print_stop_hint(state_dir)
    return 0 if status in (0, 130) else status


def _end_child(proc: subprocess.Popen[bytes], sig: signal.Signals, grace: float = 10.0) -> int:
    """Pass ``sig`` on to ``proc`` and wait for it (killed after ``grace`` seconds); return its exit status."""
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(sig)
    try:
        return proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def _print_stop_hint(state_dir: Path) -> None:
    state = DemoState.load(state_dir)
    parts = running_parts(state) if state else {}
    running = ", ".join(f"{name} (pid {pid})" for name, pid in sorted(parts.items()))
    node = f"; Elasticsearch on port {state.node_port}" if state and state.node_port else ""
    print(f"\nStill running in the background: {running or 'nothing'}{node}.")
    print("Stop everything with:  make demo-stop   (or: auditlog demo stop"
          + (f" --state-dir {state_dir}" if state_dir != default_state_dir() else "") + ")")


def run_stop(args: argparse.Namespace) -> int:
    """``auditlog demo stop``: generator first (no new lines), then the agent, then the node."""
    state_dir: Path = args.state_dir or default_state_dir()
    state = DemoState.load(state_dir)
    if state is None:
        print(f"no demo state in {state_dir}: nothing to stop")
        return 0
    refused = False
    for name in ("generator", "agent", *sorted(set(state.processes) - {"generator", "agent"})):
        pid = state.processes.get(name)
        if pid is None:
            continue
        try:
            print(f"{name} (pid {pid}): {_said(stop_part(state, name))}")
        except SignalRefused as exc:  # a pid it cannot confirm is never signalled: say so and go on
            print(f"{name} (pid {pid}): {exc}")
            refused = True
    if state.node_port is not None:
        from auditlog.indexer.es_node import LocalNode, NodeConfig

        node_dir = Path(state.node_state_dir) if state.node_state_dir else None
        try:
            said = _said(LocalNode(NodeConfig(port=state.node_port, state_dir=node_dir)).stop_result())
        except SignalRefused as exc:
            said, refused = str(exc), True
        print(f"Elasticsearch on port {state.node_port}: {said}")
    if not state.processes and state.node_port is None:
        print("nothing was running")
    if refused:  # keep the record of what may still run
        raise CommandError(f"{state_dir / STATE_FILE} kept: stop what is named above by hand, then remove it")
    DemoState.remove(state_dir)
    return 0


def _said(result: StopResult) -> str:
    """Return how `demo stop` reports one part's ``result``."""
    if result.outcome is Outcome.STOPPED:
        return "stopped"
    if result.outcome is Outcome.STALE:
        return f"was not running (stale record: {result.detail}; nothing signalled)"
    return "was not running"
