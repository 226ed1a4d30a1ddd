"""The agent process: a reload that cannot be applied keeps the running configuration (no exit); its log lines."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from auditlog.agent import config, daemon
from auditlog.agent.daemon import Agent
from tests.support.waiting import wait_until

UNREACHABLE = "http://127.0.0.1:9"  # discard port: nothing is shipped, nothing hangs


class _Log:
    """Records the agent's log calls as (level, event, fields)."""

    def __init__(self) -> None:
        self.records: list[tuple[str, str, dict[str, Any]]] = []

    def __getattr__(self, level: str) -> Callable[..., None]:
        return lambda event, **kw: self.records.append((level, event, kw))

    def has(self, event: str) -> bool:
        return any(e == event for _, e, _ in list(self.records))


def _toml(path: Path, tmp: Path, **keys: str) -> Path:
    values = {"inputs.paths": f'["{tmp}/logs/*.jsonl"]', "state.dir": f'"{tmp}/state"',
              "elasticsearch.url": f'"{UNREACHABLE}"', "metrics.enabled": "false",
              "shutdown.timeout": '"1s"', "inputs.rescan_interval": '"100ms"'}
    values.update({k.replace("__", "."): v for k, v in keys.items()})
    sections: dict[str, list[str]] = {}
    for dotted, value in values.items():
        section, _, key = dotted.partition(".")
        sections.setdefault(section, []).append(f"{key} = {value}")
    path.write_text("".join(f"[{s}]\n" + "\n".join(lines) + "\n" for s, lines in sections.items()))
    return path


def _wait(check: Callable[[], bool]) -> bool:
    return wait_until(check, timeout=20.0)


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Log]:
    log = _Log()
    monkeypatch.setattr(daemon, "log", log)
    yield log


def _reload(tmp_path: Path, log: _Log, first: dict[str, str], then: dict[str, str],
            look: Callable[[Agent], Any]) -> tuple[int, Agent, Any]:
    """Run an agent on ``first``, reload it with ``then``, return its exit status, itself and ``look(agent)``
    taken once the reload was decided and a pipeline runs again."""
    (tmp_path / "logs").mkdir(exist_ok=True)
    path = _toml(tmp_path / "agent.toml", tmp_path, **first)
    agent = Agent(config.load(path, env={}))

    def step() -> Any:
        if not _wait(lambda: agent.pipeline is not None):
            return None
        _toml(path, tmp_path, **then)
        agent._reload = True
        decided = ("configuration reload failed; keeping the running configuration", "configuration reloaded")
        _wait(lambda: any(log.has(e) for e in decided))
        _wait(lambda: agent.pipeline is not None)
        return look(agent)

    code, seen = _run_driven(agent, step)
    return code, agent, seen[0] if seen else None


def _run_driven(agent: Agent, step: Callable[[], Any]) -> tuple[int, list[Any]]:
    """Run ``agent`` while a helper thread calls ``step`` and then stops it (SIGTERM's handler); return the
    exit status and what ``step`` returned (nothing when it raised)."""
    seen: list[Any] = []

    def drive() -> None:
        try:
            seen.append(step())
        finally:
            agent._on_signal(signal.SIGTERM, None)

    helper = threading.Thread(target=drive, daemon=True)
    helper.start()
    code = agent.run()
    helper.join(30)
    return code, seen


def _errors(log: _Log) -> list[str]:
    return [str(kw.get("error")) for level, _, kw in log.records if level == "error"]


def test_a_reload_to_a_metrics_port_in_use_keeps_the_agent_running(tmp_path: Path, recorded: _Log) -> None:
    """A reload to a port another process listens on is one error line; the agent runs on and exits 0."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, running = _reload(tmp_path, recorded, {"metrics__enabled": "true", "metrics__port": "0"},
                                       {"metrics__enabled": "true", "metrics__port": str(port)},
                                       lambda a: a.cfg["metrics.port"])
    errors = _errors(recorded)
    named = f"metrics.port: cannot listen on 127.0.0.1:{port}" in errors[0]
    assert (0, 0, 1, True) == (code, running, len(errors), named)


def test_a_reload_that_moves_the_state_directory_is_refused(tmp_path: Path, recorded: _Log) -> None:
    """A reload changing state.dir is one error line naming the key; the agent keeps its locked directory."""
    code, _, running = _reload(tmp_path, recorded, {}, {"state__dir": f'"{tmp_path}/other"'},
                               lambda a: a.cfg.state_dir)
    errors = _errors(recorded)
    assert (0, tmp_path / "state", 1, True, False) == (code, running, len(errors), errors[0].startswith("state.dir:"),
                                                       (tmp_path / "other").exists())


def test_a_reload_without_paths_is_refused(tmp_path: Path, recorded: _Log) -> None:
    """A reload with inputs.paths = [] is refused like a start without paths; the old paths stay."""
    code, _, running = _reload(tmp_path, recorded, {}, {"inputs__paths": "[]"}, lambda a: a.cfg["inputs.paths"])
    errors = _errors(recorded)
    assert (0, [f"{tmp_path}/logs/*.jsonl"], ["inputs.paths: no files to ship"]) == (code, running, errors)


def test_a_reload_of_a_file_nested_too_deeply_keeps_the_running_configuration(tmp_path: Path, recorded: _Log) -> None:
    """A reload of a file whose arrays nest 500 deep is one error line naming the file; the old paths stay."""
    code, _, running = _reload(tmp_path, recorded, {}, {"inputs__paths": "[" * 500 + "]" * 500},
                               lambda a: a.cfg["inputs.paths"])
    errors = _errors(recorded)
    assert (0, [f"{tmp_path}/logs/*.jsonl"], 1, True) == (code, running, len(errors), "nested too deeply" in errors[0])


def test_a_reload_that_changes_the_metrics_host_moves_the_endpoint(tmp_path: Path, recorded: _Log) -> None:
    """A reload changing only metrics.host (same port) serves the endpoint on the new host."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code, _, at = _reload(tmp_path, recorded, {"metrics__enabled": "true", "metrics__host": '"0.0.0.0"',
                                               "metrics__port": str(port)},
                          {"metrics__enabled": "true", "metrics__host": '"127.0.0.1"', "metrics__port": str(port)},
                          lambda a: a._server_at)
    assert (0, ("127.0.0.1", port), []) == (code, at, _errors(recorded))


def test_a_reload_whose_pipeline_cannot_start_goes_back_to_the_running_one(tmp_path: Path, recorded: _Log,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """When the new configuration's pipeline cannot open its state, the previous configuration runs on."""
    real = daemon.Pipeline

    def pipeline(cfg: config.AgentConfig, *args: Any, **kwargs: Any) -> Any:
        if cfg["batch.max_events"] == 7:
            raise OSError(13, "Permission denied")
        return real(cfg, *args, **kwargs)

    monkeypatch.setattr(daemon, "Pipeline", pipeline)
    code, _, running = _reload(tmp_path, recorded, {}, {"batch__max_events": "7"},
                               lambda a: (_wait(lambda: a.cfg["batch.max_events"] != 7), a.cfg["batch.max_events"])[1])
    errors = _errors(recorded)
    assert (0, 2000, 1, True) == (code, running, len(errors), "cannot use state directory" in errors[0])


def test_a_dead_letter_file_that_is_a_fifo_stops_the_start_with_one_line_naming_it(tmp_path: Path) -> None:
    """A FIFO where the dead-letter file belongs stops the agent at start, naming it, instead of blocking it."""
    from auditlog.core.errors import CommandError

    (tmp_path / "logs").mkdir()
    (tmp_path / "state").mkdir()
    os.mkfifo(tmp_path / "state" / "deadletter.jsonl")
    path = _toml(tmp_path / "agent.toml", tmp_path)
    with pytest.raises(CommandError, match=r"deadletter\.jsonl is a FIFO, not a regular file") as refused:
        Agent(config.load(path, env={})).run()
    assert "\n" not in str(refused.value)


def test_a_metrics_host_that_does_not_resolve_is_named_at_start(tmp_path: Path, recorded: _Log) -> None:
    """At start, a metrics.host no resolver knows stops the agent naming metrics.host (not metrics.port)."""
    from auditlog.core.errors import UsageError

    (tmp_path / "logs").mkdir()
    path = _toml(tmp_path / "agent.toml", tmp_path, metrics__enabled="true", metrics__port="0",
                 metrics__host='"no-such-host.invalid"')
    with pytest.raises(UsageError, match=r"^metrics\.host: cannot listen on no-such-host\.invalid:0"):
        Agent(config.load(path, env={})).run()


def test_a_metrics_host_that_is_not_an_address_of_this_host_is_named_at_start(tmp_path: Path, recorded: _Log) -> None:
    """At start, a metrics.host no interface of this host holds (EADDRNOTAVAIL) stops the agent naming metrics.host."""
    from auditlog.core.errors import UsageError

    (tmp_path / "logs").mkdir()
    path = _toml(tmp_path / "agent.toml", tmp_path, metrics__enabled="true", metrics__port="0",
                 metrics__host='"192.0.2.1"')  # TEST-NET-1 (RFC 5737): never assigned to a host
    with pytest.raises(UsageError, match=r"^metrics\.host: cannot listen on 192\.0\.2\.1:0"):
        Agent(config.load(path, env={})).run()


def test_a_metrics_port_in_use_at_start_says_how_to_choose_another(tmp_path: Path, recorded: _Log) -> None:
    """At start, a metrics.port another process listens on (a second agent on the host, or a program holding it for
    a moment at boot) stops the agent with one line that names --metrics-port and port 0, as a failure that a
    restart may cure (exit 1, which the systemd unit restarts), not a bad setting (exit 2, never restarted)."""
    from auditlog.core.errors import CommandError

    (tmp_path / "logs").mkdir()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        path = _toml(tmp_path / "agent.toml", tmp_path, metrics__enabled="true", metrics__port=str(port))
        with pytest.raises(CommandError) as refused:
            Agent(config.load(path, env={})).run()
    message = str(refused.value)
    assert (True, True, True, False) == (message.startswith(f"metrics.port: cannot listen on 127.0.0.1:{port}: "),
                                         "--metrics-port" in message, "0 for any free port" in message,
                                         "\n" in message)


def test_a_library_thread_dying_is_one_json_log_line_not_a_traceback() -> None:
    """With the agent's logging, an error ending a thread the agent does not own is logged as one JSON line."""
    code = (
        "import threading\n"
        "from auditlog.agent.daemon import configure_logging\n"
        "configure_logging()\n"
        "def boom():\n"
        "    raise RecursionError('maximum recursion depth exceeded')\n"
        "t = threading.Thread(target=boom, name='watchdog-ish')\n"
        "t.start(); t.join()\n"
    )
    err = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stderr
    assert ("Traceback" in err, len(err.splitlines()), '"thread": "watchdog-ish"' in err,
            "RecursionError: maximum recursion depth exceeded" in err) == (False, 1, True, True)


def test_a_stop_signal_at_any_bytecode_of_waits_and_log_writes_stops_the_agent(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """SIGTERM's handler, run before every bytecode of threading, the wake-ups and structlog's writer, stops
    the agent (exit 0); the loop logs the storm of signals, once where it looks (its tick, its end)."""
    import structlog

    from auditlog.agent import watcher
    from auditlog.core import wakeup
    from tests.support.reentry import survives_handler_everywhere

    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "a.jsonl").write_text('{"message": "x"}\n' * 3)
    agent = Agent(config.load(_toml(tmp_path / "agent.toml", tmp_path), env={}))
    monkeypatch.setattr(daemon.signal, "signal", lambda sig, handler: signal.SIG_DFL)  # the body runs in a thread
    codes: list[int] = []
    modules = [threading, wakeup, watcher, structlog._output]
    survived = survives_handler_everywhere(lambda: codes.append(agent.run()),
                                           lambda: agent._on_signal(signal.SIGTERM, None), modules, timeout=60)
    said = capsys.readouterr().err.count('"event": "stop signal received"')
    assert (survived, codes, said in (1, 2)) == (True, [0], True)


def test_a_pipeline_that_failed_on_its_own_is_started_again_and_ships_the_rest(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recorded: _Log) -> None:
    """After an acknowledging bug the agent starts a new pipeline from the last checkpoint: every line is
    acknowledged in the end, the agent stays up and exits 0 on SIGTERM."""
    from auditlog.agent.checkpoints import Checkpointer
    from tests.agent.test_pipeline import GatedES, write

    settle = Checkpointer.settle
    failures = [1]

    def once_broken(self: Checkpointer, *args: Any) -> None:
        if failures and failures.pop():
            raise ValueError("a bug upstream")
        settle(self, *args)

    es = GatedES()
    es.open.set()
    monkeypatch.setattr(Checkpointer, "settle", once_broken)
    monkeypatch.setattr(daemon, "make_client", lambda *a, **kw: es)
    monkeypatch.setattr(GatedES, "close", lambda self: None, raising=False)
    (tmp_path / "logs").mkdir()
    write(tmp_path / "logs" / "a.jsonl", 0, 40)
    agent = Agent(config.load(_toml(tmp_path / "agent.toml", tmp_path, batch__max_events="10",
                                    batch__max_latency='"50ms"'), env={}))

    def caught_up() -> bool:
        pipeline = agent.pipeline
        lags = list(pipeline.lag()) if pipeline is not None else []
        return recorded.has("the pipeline stopped after an internal error; starting it again in a second") \
            and bool(lags) and all(lag == 0 for *_, lag in lags)

    code, reached = _run_driven(agent, lambda: _wait(caught_up))
    events = sorted({i for i in es.ids if i.startswith("ev-")})  # the digests' documents aside
    assert (code, reached, events) == (0, [True], [f"ev-{i:08d}" for i in range(40)])


def test_a_state_disk_that_fills_during_the_first_scan_stops_the_start_with_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A registry write refused while the start's scan registers the files found (a state disk with room to open the
    databases, not to grow them) stops the agent with one line naming the state directory, not a traceback."""
    import sqlite3

    from auditlog.agent.tailer import Tailer
    from auditlog.core.errors import CommandError

    def full(self: Tailer) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(Tailer, "recover", full)
    (tmp_path / "logs").mkdir()
    path = _toml(tmp_path / "agent.toml", tmp_path)
    with pytest.raises(CommandError, match=r"^cannot use state directory .*state: database or disk is full$"):
        Agent(config.load(path, env={})).run()


def test_a_state_directory_removed_while_the_agent_runs_stops_it_with_one_line(tmp_path: Path) -> None:
    """The state directory removed under a running agent: it stops with one line naming the directory (exit 1 from
    the CLI), rather than starting a pipeline again on a fresh folder its lock does not guard."""
    import shutil

    from auditlog.core.errors import CommandError

    (tmp_path / "logs").mkdir()
    agent = Agent(config.load(_toml(tmp_path / "agent.toml", tmp_path), env={}))

    def remove() -> None:
        if _wait(lambda: agent.pipeline is not None):
            shutil.rmtree(tmp_path / "state")

    helper = threading.Thread(target=remove, daemon=True)
    helper.start()
    with pytest.raises(CommandError, match=r"^state directory .*state was removed or replaced while the agent ran"):
        agent.run()
    helper.join(30)
