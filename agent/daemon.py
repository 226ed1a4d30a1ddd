"""The agent process: logging, metrics endpoint, signals, config reload around a :class:`Pipeline`.

- SIGTERM / SIGINT: graceful stop (stop reading, flush in flight, checkpoint), exit status 0, within
  ``shutdown.timeout`` seconds plus two (however many senders wait on a node that does not answer).
- SIGHUP, or the config file's modification time changing: the file is re-read; when it is valid
  the running pipeline stops gracefully and a new one starts with it (same process, same metrics
  counters); when it is not, the error is logged with the key named and the agent keeps running. A
  valid file that cannot be applied (metrics address in use, state that cannot be opened) is logged
  the same way and the running configuration kept; ``state.dir`` cannot change on a reload (its lock).
  A SIGHUP during the start (the pre-flight can take seconds) is remembered and done once the agent runs.
- Start runs the pre-flight checks (``agent.preflight``, also ``auditlog agent check``) and logs each;
  a failing check is an error line, and the agent starts anyway (what failed is then backpressure).
- The agent's own logs are structlog JSON lines on stderr; connection secrets are never logged
  (:meth:`indexer.client.ConnectionSettings.redacted`).
"""

from __future__ import annotations

import argparse
import collections
import errno
import logging
import os
import signal
import socket
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator
from types import FrameType

import structlog

from auditlog.agent import config as agent_config
from auditlog.agent import preflight as preflight_checks
from auditlog.agent.config import AgentConfig
from auditlog.agent.metrics import Metrics, MetricsServer
from auditlog.agent.pipeline import Pipeline
from auditlog.agent.sink import client_options
from auditlog.agent.statelock import hold_state_dir
from auditlog.core.errors import CommandError, UsageError
from auditlog.core.gc_tuning import relax_for_process
from auditlog.core.wakeup import Wakeup
from auditlog.indexer.client import make_client

log = structlog.get_logger("auditlog.agent")

_CONFIG_CHECK_INTERVAL = 2.0
_RESTART_PAUSE = 1.0  # seconds between a pipeline that failed on its own and the next


def _stderr_logger(*_args: object) -> structlog.PrintLogger:
    return structlog.PrintLogger(sys.stderr)


def configure_logging(level: str = "info") -> None:
    """Send structlog JSON lines to stderr at ``level``."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        # Resolve sys.stderr per logger, not once: whoever swaps it later (a test runner capturing
        # output, a daemoniser) must not leave the agent printing into a closed stream.
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )
    threading.excepthook = _log_thread_death


def _log_thread_death(args: threading.ExceptHookArgs) -> None:
    """A thread dying on an error: one JSON log line, not a traceback on stderr.

    The agent's own threads catch their errors; what reaches here is a library's, in practice watchdog's (its
    recursive walk of a folder nested a thousand deep raises ``RecursionError`` in its thread). File-system
    events may stop then, which costs latency only: the periodic rescan still finds every change.
    """
    if args.exc_type is SystemExit:
        return
    structlog.get_logger("auditlog.agent").error(
        "a thread stopped on an error (if it was the file-system watcher's, file-system events may have stopped; "
        "the periodic rescan, inputs.rescan_interval, still finds every change)",
        thread=getattr(args.thread, "name", "?"), error=f"{args.exc_type.__name__}: {str(args.exc_value)[:300]}")


#: bind() errors that a metrics.host is the cause of (not its port)
_HOST_ERRNOS = frozenset({errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT})


class Agent:
    """Runs pipelines until told to stop, reloading the configuration on request."""

    def __init__(self, cfg: AgentConfig, args: argparse.Namespace | None = None) -> None:
        self.cfg = cfg
        self.args = args
        self.metrics = Metrics()
        self.pipeline: Pipeline | None = None
        self._terminate = False
        self._reload = False
        # received, not logged yet (bounded: appending to a full deque drops its oldest, and takes no lock either)
        self._signals: collections.deque[int] = collections.deque(maxlen=64)
        self._stopped = Wakeup()  # raised with _terminate: ends the pause before a failed pipeline's successor
        self._next_cfg: AgentConfig | None = None
        self._server: MetricsServer | None = None
        self._server_at: tuple[str, int] | None = None  # the (host, port) asked for, port 0 included
        self._next_config_check = time.monotonic() + _CONFIG_CHECK_INTERVAL
        self._config_mtime = self._mtime()
        self.early_signals: list[int] = []  # SIGHUPs received before :meth:`run` took the signals over
        #: the state directory the lock guards (device, inode; agent/statelock.py): every pipeline checks it is
        #: still that folder before it makes anything there (None: not held by run(), as in tests)
        self.state_id: tuple[int, int] | None = None

    def _mtime(self) -> float | None:
        try:
            return os.stat(self.cfg.source).st_mtime if self.cfg.source else None
        except OSError:
            return None

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # A handler runs in the main thread between two of its bytecodes, and those may hold any lock: the log's
        # (structlog writes under one), an Event's. Taking it again here waits for ever, so the handler only sets
        # flags, remembers the signal and wakes the loop (request_stop takes no lock); the loop logs it.
        self._signals.append(signum)
        if signum == signal.SIGHUP:
            self._reload = True
            return
        self._terminate = True
        self._stopped.set()
        pipeline = self.pipeline
        if pipeline is not None:
            pipeline.request_stop()

    def _announce_signals(self) -> None:
        """Log the signals received since the last call (their handler may not log)."""
        seen: list[int] = []
        while self._signals:
            signum = self._signals.popleft()
            if signum not in seen:  # a storm of the same signal is one line
                seen.append(signum)
        for signum in seen:
            if signum == signal.SIGHUP:
                log.info("SIGHUP: reloading configuration")
            else:
                log.info("stop signal received", signal=signal.Signals(signum).name)

    def _lag(self) -> Iterator[tuple[str, str, int]]:
        """The running pipeline's lag per file (none between pipelines)."""
        pipeline = self.pipeline
        return pipeline.lag() if pipeline is not None else iter(())

    def _tick(self) -> None:
        """Called by the pipeline loop and at its shutdown: log signals; apply a pending reload when it is valid."""
        self._announce_signals()
        if self._terminate:
            return
        now = time.monotonic()
        if not self._reload and self.cfg.source and now >= self._next_config_check:
            self._next_config_check = now + _CONFIG_CHECK_INTERVAL
            mtime = self._mtime()
            if mtime is not None and mtime != self._config_mtime:
                self._config_mtime = mtime
                log.info("configuration file changed: reloading", path=self.cfg.source)
                self._reload = True
        if not self._reload:
            return
        self._reload = False
        try:
            new = agent_config.load(self.cfg.source, self.args)
            new.connection()  # inconsistent elasticsearch.* keys are refused now, not when the client is built
            refused = reload_problem(self.cfg, new)
        except UsageError as exc:
            refused = str(exc)
        if refused:
            log.error("configuration reload failed; keeping the running configuration", error=refused)
            return
        self._next_cfg = new
        if self.pipeline is not None:
            self.pipeline.request_stop()

    def _switch_metrics(self, cfg: AgentConfig, *, reloading: bool) -> bool:
        """Serve metrics as ``cfg`` asks (host and port); return whether that worked.

        At start a port that cannot be bound raises ``UsageError`` (exit 2). On a reload it is an error
        line and False: the running endpoint (and configuration) stays.
        """
        want = (cfg["metrics.host"], cfg["metrics.port"]) if cfg["metrics.enabled"] else None
        if want == self._server_at:
            return True
        if want is None:
            if self._server is not None:
                self._server.stop()
            self._server, self._server_at = None, None
            return True
        old, old_at = self._server, self._server_at
        try:
            server = MetricsServer(self.metrics, want[0], want[1], lag=self._lag)
        except OSError as exc:
            if old is None or old_at is None or old_at[1] != want[1] or want[1] == 0:
                return self._cannot_listen(want, exc, reloading)
            # the same port on another host: the running endpoint holds it; free it and try again
            old.stop()
            self._server, self._server_at = None, None
            try:
                server = MetricsServer(self.metrics, want[0], want[1], lag=self._lag)
            except OSError as again:
                self._restore_metrics(old_at)
                return self._cannot_listen(want, again, reloading)
            old = None
        if old is not None:
            old.stop()
        server.start()
        self._server, self._server_at = server, want
        log.info("metrics endpoint", url=f"http://{want[0]}:{server.port}/metrics")
        return True

    def _cannot_listen(self, want: tuple[str, int], exc: OSError, reloading: bool) -> bool:
        # the host's fault: a name that does not resolve, an address no interface of this host holds, a family
        # (IPv6) the kernel lacks; any other failure (in use, privileged port) is the port's
        host_at_fault = isinstance(exc, socket.gaierror) or exc.errno in _HOST_ERRNOS
        key = "metrics.host" if host_at_fault else "metrics.port"
        message = f"{key}: cannot listen on {want[0]}:{want[1]}: {exc}"
        in_use = exc.errno == errno.EADDRINUSE
        if in_use:  # another agent on the host (each needs a port of its own), or any program
            message += ("; another agent or program listens there: give this agent its own metrics.port "
                        "(--metrics-port), or 0 for any free port (logged at start)")
        if not reloading:
            # a port in use may be free a moment later (a program holding it at boot): exit 1, which systemd's
            # unit restarts, where exit 2 (a bad setting) would leave the agent down for good
            raise CommandError(message) if in_use else UsageError(message)
        log.error("configuration reload failed; keeping the running configuration", error=message)
        return False

    def _restore_metrics(self, at: tuple[str, int]) -> None:
        """Serve the previous endpoint again after a failed move (an error line if even that fails)."""
        try:
            server = MetricsServer(self.metrics, at[0], at[1], lag=self._lag)
        except OSError as exc:
            log.error("metrics endpoint lost; it comes back with the next reload",
                      error=f"metrics.port: cannot listen on {at[0]}:{at[1]}: {exc}")
            return
        server.start()
        self._server, self._server_at = server, at

    def run(self) -> int:
        """Run until SIGTERM/SIGINT; return the exit status (0 after a graceful stop).

        Returns:
            0 after a graceful stop.

        Raises:
            UsageError: the metrics port cannot be bound at start.
            CommandError: the state directory cannot be used at start.
        """
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
        while self.early_signals:  # asked for before these handlers were in place (run, below)
            self._on_signal(self.early_signals.pop(0), None)
        fallback: AgentConfig | None = None  # the configuration before a reload, until the new one runs
        try:
            configure_logging(self.cfg["log.level"])
            self._switch_metrics(self.cfg, reloading=False)
            while not self._terminate:
                cfg = self.cfg
                configure_logging(cfg["log.level"])
                options = client_options(cfg["batch.max_events"], cfg["batch.max_bytes"], cfg["inputs.max_line_bytes"])
                client = make_client(cfg.connection(), **options)
                self._next_cfg = None
                try:
                    self.pipeline = Pipeline(cfg, client, self.metrics, tick=self._tick, state_id=self.state_id)
                except (OSError, sqlite3.Error) as exc:
                    client.close()
                    message = f"cannot use state directory {cfg.state_dir}: {exc}"
                    if fallback is None:
                        raise CommandError(message) from None
                    log.error("configuration reload failed; going back to the previous configuration", error=message)
                    self.cfg, fallback = fallback, None
                    self._switch_metrics(self.cfg, reloading=True)
                    continue
                before, fallback = fallback, None  # the configuration to go back to if this one cannot start
                if self._terminate:
                    self.pipeline.request_stop()
                try:
                    self.pipeline.run()
                except sqlite3.Error as exc:  # its recovering scan could not write the registry (a state disk full)
                    client.close()
                    self.pipeline = None
                    message = f"cannot use state directory {cfg.state_dir}: {exc}"
                    if before is None:
                        raise CommandError(message) from None
                    log.error("configuration reload failed; going back to the previous configuration", error=message)
                    self.cfg = before
                    self._switch_metrics(self.cfg, reloading=True)
                    continue
                client.close()
                if self.pipeline.lost_state is not None:  # a new pipeline would write a state no lock guards
                    raise CommandError(self.pipeline.lost_state)
                failed, self.pipeline = self.pipeline.failed, None
                if failed and not self._terminate:  # a second in between: a bug hit at every start does not spin
                    log.warning("the pipeline stopped after an internal error; starting it again in a second")
                    self._stopped.wait(_RESTART_PAUSE)
                if self._next_cfg is not None and not self._terminate \
                        and self._switch_metrics(self._next_cfg, reloading=True):
                    fallback, self.cfg = self.cfg, self._next_cfg
                    log.info("configuration reloaded", path=self.cfg.source)
        finally:
            self._announce_signals()  # one that came while no pipeline ran
            if self._server is not None:
                self._server.stop()
                self._server, self._server_at = None, None
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return 0


def reload_problem(running: AgentConfig, new: AgentConfig) -> str | None:
    """Return why ``new`` cannot replace ``running`` in the same process, or None (pure).

    A reload keeps the state directory: the lock that keeps a second agent off a registry is held on the
    directory the agent started with, so moving to another one needs a restart. A reload without
    ``inputs.paths`` is refused like a start without them.

    Args:
        running: the configuration in use.
        new: the configuration just read.

    Returns:
        A one-line reason naming the key, or None when the reload may go ahead.
    """
    if not new["inputs.paths"]:
        return "inputs.paths: no files to ship"
    if new.state_dir != running.state_dir:
        return (f"state.dir: a reload cannot move the state directory ({running.state_dir} is locked by this agent); "
                f"restart the agent to use {new.state_dir}")
    return None


def preflight(cfg: AgentConfig) -> None:
    """Run the pre-flight checks and log each line; a failure is an error line, and the agent starts anyway.

    Whatever fails (unreachable node, rejected credentials, unverifiable certificate, missing writer
    privileges or templates) is what the sink then meets as backpressure: lines are held, never
    dead-lettered, until the configuration is fixed and reloaded (SIGHUP) or the cluster recovers.
    """
    report = preflight_checks.check(cfg.connection(), cfg.tiers(), make_client, digests=cfg["digest.enabled"])
    for result in report.results:
        emit = {"ok": log.info, "skip": log.info, "warn": log.warning}.get(result.outcome, log.error)
        emit("pre-flight", check=result.name, outcome=result.outcome, detail=result.detail)


def run(cfg: AgentConfig, args: argparse.Namespace | None = None) -> int:
    """Run the agent in this process (blocking); return its exit status."""
    if not cfg["inputs.paths"]:
        raise UsageError("inputs.paths: no files to ship; give --path GLOB or inputs.paths in --config")
    # SIGHUP's default action ends the process: a reload asked while the state directory is taken and the
    # pre-flight runs (seconds against a node that does not answer; `systemctl reload` right after a start) killed
    # the agent with status 129. Until the agent's own handlers are in place it is remembered and done then.
    early: list[int] = []
    before = signal.signal(signal.SIGHUP, lambda signum, frame: early.append(signum))
    try:
        with hold_state_dir(cfg.state_dir) as guarded:  # one agent per state directory (agent/statelock.py)
            configure_logging(cfg["log.level"])
            preflight(cfg)
            relax_for_process()  # the full path allocates dozens of acyclic dicts per event (auditlog.core.gc_tuning)
            agent = Agent(cfg, args)
            agent.state_id = guarded
            agent.early_signals = early
            return agent.run()
    finally:
        signal.signal(signal.SIGHUP, before)
