"""One agent per state directory: a second holder is refused naming the first; a killed holder frees it."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from auditlog.agent.statelock import LOCK_FILE, hold_state_dir, make_state_dir, private_database, state_dir_problem
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


@pytest.mark.parametrize("mode", [0o777, 0o1777, 0o775, 0o757])
def test_a_directory_others_may_write_is_refused_naming_the_mode(tmp_path: Path, mode: int) -> None:
    """A state directory writable by the group or others (whoever may replace the signing key) stops the agent."""
    state = tmp_path / "state"
    state.mkdir()
    state.chmod(mode)
    with pytest.raises(CommandError, match=rf"state\.dir .*: other users may write it \(mode {mode:o}\).*chmod go-w"), \
            hold_state_dir(state):
        pass
    assert not (state / LOCK_FILE).exists()


def test_a_directory_only_its_owner_writes_is_held(tmp_path: Path) -> None:
    """Modes 700 and 755 (what mkdir makes with the usual umask) are held as before."""
    held = []
    for mode in (0o700, 0o755):
        state = tmp_path / f"s{mode:o}"
        state.mkdir()
        state.chmod(mode)
        with hold_state_dir(state):
            held.append((state / LOCK_FILE).exists())
    assert [True, True] == held


def test_a_directory_made_under_a_group_writable_umask_is_held_and_its_files_are_not(tmp_path: Path) -> None:
    """Under umask 002 the agent makes and holds its own directory, and what it creates there is not group-writable."""
    previous = os.umask(0o002)
    try:
        with hold_state_dir(tmp_path / "state"):
            (tmp_path / "state" / "made").write_text("x")
            modes = [stat.S_IMODE((tmp_path / "state" / name).stat().st_mode) & 0o022 for name in (".", "made")]
    finally:
        os.umask(previous)
    assert [0, 0] == modes


def _status(mode: int, uid: int) -> os.stat_result:
    return os.stat_result((stat.S_IFDIR | mode, 0, 0, 2, uid, 0, 4096, 0, 0, 0))


@pytest.mark.parametrize(("owner", "refused"), [(1000, False), (0, False), (1001, True)])
def test_a_directory_of_another_user_is_refused(owner: int, refused: bool) -> None:
    """A 755 directory is the agent's when it or root owns it; another user's may be reopened to anyone."""
    problem = state_dir_problem(_status(0o755, owner), 1000)
    assert refused == (problem is not None and "belongs to another user (uid 1001)" in problem)


def test_a_state_directory_made_by_a_command_under_umask_002_is_not_group_writable(tmp_path: Path) -> None:
    """The helper every writer of the state directory uses makes it 700 whatever the umask (002 made it 775)."""
    previous = os.umask(0o002)
    try:
        make_state_dir(tmp_path / "a" / "state")
    finally:
        os.umask(previous)
    assert 0o700 == stat.S_IMODE((tmp_path / "a" / "state").stat().st_mode)


@pytest.mark.parametrize("plant", ["fifo", "link"])
def test_a_lock_file_that_is_not_a_regular_file_is_refused_naming_it(tmp_path: Path, plant: str) -> None:
    """A FIFO or a link (say to /dev/zero) in place of agent.lock is one line naming the file, not a bare errno."""
    path = tmp_path / LOCK_FILE
    if plant == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")
    refused = pytest.raises(CommandError, match=f"{LOCK_FILE} is a (FIFO|symbolic link), not a regular file")
    with refused, hold_state_dir(tmp_path):
        pass


def test_every_file_an_agent_run_leaves_in_its_state_directory_is_the_owners_alone(tmp_path: Path) -> None:
    """Under umask 022 a run that ships, dead-letters, records ids and signs a digest makes its state directory 700
    and every file in it (the SQLite side files included) 600."""
    from auditlog.agent.config import load
    from auditlog.agent.pipeline import Pipeline
    from tests.agent.test_pipeline import GatedES, _inbox_lines, _now_line, _running
    from tests.support.waiting import wait_until

    (tmp_path / "in").mkdir()
    state = tmp_path / "state"
    config = tmp_path / "agent.toml"
    config.write_text(f'[inputs]\npaths = ["{tmp_path}/in/*.jsonl"]\npoll_interval = 0.02\nwatcher = "polling"\n'
                      f'[state]\ndir = "{state}"\n[batch]\nmax_latency = 0.05\n[digest]\ninterval = 0.05\n'
                      "[metrics]\nenabled = false\n")
    es = GatedES()
    es.open.set()
    modes: dict[str, int] = {}
    previous = os.umask(0o022)
    try:
        with hold_state_dir(state):
            pipeline = Pipeline(load(config), es)  # type: ignore[arg-type]
            _inbox_lines(tmp_path / "in", "a.jsonl", [_now_line(0), b"not json", _now_line(1)])
            with _running(pipeline):
                assert wait_until(lambda: pipeline.dlq.count == 1 and any(not i.startswith("ev-") for i in es.ids))
                modes |= {p.name: stat.S_IMODE(p.lstat().st_mode) for p in state.iterdir()}  # -wal, -shm open
            modes |= {p.name: stat.S_IMODE(p.lstat().st_mode) for p in state.iterdir()}
        modes["."] = stat.S_IMODE(state.stat().st_mode)
    finally:
        os.umask(previous)
    assert {"registry.sqlite-wal", "ids.sqlite-shm", "digest-signing.key", "deadletter.jsonl"} <= modes.keys()
    assert {name: 0o700 if name == "." else 0o600 for name in modes} == modes


def test_state_files_an_earlier_version_left_readable_are_narrowed_and_none_is_widened(tmp_path: Path) -> None:
    """A registry and its WAL made 644 before lose their group and other bits; a 400 side file stays 400."""
    for name, mode in (("registry.sqlite", 0o644), ("registry.sqlite-wal", 0o644), ("registry.sqlite-shm", 0o400)):
        (tmp_path / name).write_bytes(b"")
        (tmp_path / name).chmod(mode)
    private_database(tmp_path / "registry.sqlite")
    assert {"registry.sqlite": 0o600, "registry.sqlite-wal": 0o600, "registry.sqlite-shm": 0o400} == {
        p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
