"""The demo's state file: a damaged one is refused in one line, and nothing is signalled on its word."""

from __future__ import annotations

import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from auditlog.cli import main
from auditlog.core.errors import CommandError
from auditlog.core.processes import Identity, Outcome, SignalRefused, identify
from auditlog.demo.stack import STATE_FILE, DemoState, agent_dir, running_parts, stop_part
from tests.support.processes import sleeping


@pytest.mark.parametrize("content", ['{"processes": {"agent": "x"}}', "[1, 2]", "not json", "",
                                     '{"es_url": "http://127.0.0.1:9", "processes": {"agent": -1}}',
                                     '{"es_url": "http://127.0.0.1:9", "node_port": "9200"}'])
def test_a_damaged_state_file_is_refused(tmp_path: Path, content: str) -> None:
    """Wrong types, a pid of -1 (which kill would take as every process), or no JSON: CommandError naming it."""
    (tmp_path / STATE_FILE).write_text(content)
    with pytest.raises(CommandError, match="is not a demo state"):
        DemoState.load(tmp_path)


def test_demo_stop_on_a_damaged_state_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`demo stop` exits 1 with one line saying what to do, not a KeyError traceback."""
    (tmp_path / STATE_FILE).write_text('{"processes": {}}')
    code = main(["demo", "stop", "--state-dir", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert (1, 1, True) == (code, len(err), "remove it and stop what it started by hand" in err[0])


def test_a_sound_state_file_loads(tmp_path: Path) -> None:
    """What save() writes, load() reads back."""
    DemoState(es_url="http://127.0.0.1:9200", node_port=9200, node_state_dir="/x", processes={"agent": 4242}).save(
        tmp_path)
    state = DemoState.load(tmp_path)
    assert state is not None and (state.processes, state.node_port) == ({"agent": 4242}, 9200)


def test_an_agent_folder_an_earlier_demo_left_group_writable_is_narrowed(tmp_path: Path) -> None:
    """The demo agent's folder made 775 under umask 002 by an earlier version is the agent's alone again."""
    (tmp_path / "agent").mkdir()
    (tmp_path / "agent").chmod(0o775)
    assert 0o755 == stat.S_IMODE(agent_dir(tmp_path).stat().st_mode)


class _Node:
    """A stand-in LocalNode whose start is interrupted (Ctrl-C while the node boots)."""

    running_before = False
    stopped: ClassVar[list[bool]] = []

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def running_info(self) -> object | None:
        return object() if self.running_before else None

    def start(self) -> object:
        raise KeyboardInterrupt

    def stop(self) -> bool:
        self.stopped.append(True)
        return True


@pytest.mark.parametrize("running_before", [False, True], ids=["launched", "users-own"])
def test_ctrl_c_while_the_node_starts_stops_only_a_node_the_demo_launched(
    running_before: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Interrupted while its node boots, `demo run` stops that node (no state file names it yet), exit 130;
    a node that was running before is the user's and is left alone."""
    import auditlog.indexer.es_node as es_node

    monkeypatch.setattr(_Node, "running_before", running_before)
    monkeypatch.setattr(_Node, "stopped", [])
    monkeypatch.setattr(es_node, "LocalNode", _Node)
    monkeypatch.delenv("AUDITLOG_ES_URL", raising=False)
    code = main(["demo", "run", "--state-dir", str(tmp_path), "--no-tui"])
    assert (code, _Node.stopped) == (130, [] if running_before else [True])


# -- demo stop signals only the very processes demo run recorded (pid, start time and boot id) -------------
@pytest.fixture
def users_own_auditlog() -> Iterator[subprocess.Popen[bytes]]:
    """A process group leader that is no demo part but names auditlog (like the user's own `auditlog tui`)."""
    with sleeping("auditlog", "tui") as proc:
        yield proc


def _recycled(pid: int) -> Identity:
    seen = identify(pid)
    assert seen is not None
    return Identity(seen.start_ticks + 1, seen.boot_id)


def test_identities_survive_demo_json(tmp_path: Path) -> None:
    """What record() reads at start is what load() gives stop."""
    DemoState(es_url="http://127.0.0.1:9", processes={"agent": 4242}, identities={"agent": Identity(7, "b")}).save(
        tmp_path)
    state = DemoState.load(tmp_path)
    assert state is not None and state.identities == {"agent": Identity(7, "b")}


def test_a_recycled_pid_is_stale_and_not_signalled(users_own_auditlog: subprocess.Popen[bytes]) -> None:
    """A part's pid now held by the user's own auditlog process (another start time) is stale and left alone."""
    pid = users_own_auditlog.pid
    state = DemoState(es_url="x", processes={"agent": pid}, identities={"agent": _recycled(pid)})
    assert (stop_part(state, "agent").outcome, users_own_auditlog.poll()) == (Outcome.STALE, None)


def test_a_recycled_pid_is_not_a_running_part(users_own_auditlog: subprocess.Popen[bytes]) -> None:
    """`demo run` does not take a recycled pid for a running demo (it would open the TUI instead of starting)."""
    pid = users_own_auditlog.pid
    assert running_parts(DemoState(es_url="x", processes={"agent": pid}, identities={"agent": _recycled(pid)})) == {}


def test_an_old_demo_json_never_signals_a_live_auditlog_process(tmp_path: Path,
                                                                 users_own_auditlog: subprocess.Popen[bytes]) -> None:
    """A demo.json without identities naming a live auditlog process: refused in one line, the process lives."""
    DemoState(es_url="x", processes={"agent": users_own_auditlog.pid}).save(tmp_path)
    state = DemoState.load(tmp_path)
    assert state is not None
    with pytest.raises(SignalRefused, match="cannot be confirmed"):
        stop_part(state, "agent")
    assert users_own_auditlog.poll() is None


def test_demo_stop_keeps_a_demo_json_it_refused_to_act_on(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                          users_own_auditlog: subprocess.Popen[bytes]) -> None:
    """`demo stop` exits 1 and keeps demo.json when a part could not be confirmed, so nothing is forgotten."""
    DemoState(es_url="x", processes={"agent": users_own_auditlog.pid}).save(tmp_path)
    code = main(["demo", "stop", "--state-dir", str(tmp_path)])
    capsys.readouterr()
    assert (code, (tmp_path / STATE_FILE).is_file(), users_own_auditlog.poll()) == (1, True, None)


def test_demo_run_refuses_an_old_demo_json_naming_a_live_process(tmp_path: Path,
                                                                users_own_auditlog: subprocess.Popen[bytes]) -> None:
    """`demo run` over an earlier version's demo.json whose pid may still run: exit 1, the file kept as it was."""
    DemoState(es_url="x", processes={"agent": users_own_auditlog.pid}).save(tmp_path)
    before = (tmp_path / STATE_FILE).read_bytes()
    code = main(["demo", "run", "--state-dir", str(tmp_path), "--no-tui", "--es", "http://127.0.0.1:9"])
    assert (code, (tmp_path / STATE_FILE).read_bytes(), users_own_auditlog.poll()) == (1, before, None)


def test_sigterm_to_demo_run_passes_on_to_its_tui_instead_of_killing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SIGTERM while `demo run` waits for its TUI: the TUI gets SIGTERM (and restores the terminal), not SIGKILL."""
    import argparse
    import os
    import signal
    import sys
    import threading

    import auditlog.commands.demo as demo
    from auditlog.cli import _raise_terminated
    from auditlog.core.errors import Terminated
    from auditlog.indexer.tiers import TierTable
    from tests.support.waiting import wait_until

    ready, got = tmp_path / "ready", tmp_path / "got"
    script = (f"import signal, sys, time, pathlib\n"
              f"def term(*a): pathlib.Path({str(got)!r}).write_text('TERM'); sys.exit(0)\n"
              f"signal.signal(signal.SIGTERM, term)\n"
              f"pathlib.Path({str(ready)!r}).write_text('up')\ntime.sleep(60)\n")
    monkeypatch.setattr(demo, "auditlog_argv", lambda *args: [sys.executable, "-c", script])
    previous = signal.signal(signal.SIGTERM, _raise_terminated)

    def terminate_once_up() -> None:
        if wait_until(ready.exists, timeout=20):
            os.kill(os.getpid(), signal.SIGTERM)

    timer = threading.Thread(target=terminate_once_up)
    timer.start()
    try:
        with pytest.raises(Terminated):
            demo._open_tui(argparse.Namespace(no_tui=False), dict(os.environ), tmp_path, TierTable())
    finally:
        signal.signal(signal.SIGTERM, previous)
        timer.join(20)
    assert got.read_text() == "TERM"
