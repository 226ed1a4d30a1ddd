"""One agent per state directory: a second holder is refused naming the first; a killed holder frees it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from auditlog.agent.statelock import LOCK_FILE, hold_state_dir
from auditlog.core.errors import CommandError

HOLD = ("import sys, time\n"
        "from auditlog.agent.statelock import hold_state_dir\n"
        "with hold_state_dir(sys.argv[1]):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(60)\n")


def _holder(state: Path) -> subprocess.Popen[str]:
    """A child process that holds the lock of ``state`` until killed."""
    child = subprocess.Popen([sys.executable, "-c", HOLD, str(state)], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline().strip() == "held"
    return child


def test_a_second_agent_is_refused_naming_the_first(tmp_path: Path) -> None:
    """While another process holds the state directory, holding it fails with that process's pid."""
    child = _holder(tmp_path)
    try:
        with pytest.raises(CommandError, match=rf"in use by another agent \(pid {child.pid}\)"), \
                hold_state_dir(tmp_path):
            pass
    finally:
        child.kill()
        child.wait(10)


def test_a_killed_holder_frees_the_directory(tmp_path: Path) -> None:
    """After kill -9 of the holder the next agent holds the directory and records its own pid."""
    child = _holder(tmp_path)
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    time.sleep(0.05)
    with hold_state_dir(tmp_path):
        recorded = (tmp_path / LOCK_FILE).read_text().strip()
    assert str(os.getpid()) == recorded
