"""A recorded pid counts as ours only with the same start time and boot id; only such a group leader is signalled."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditlog.core.processes import (
    Identity,
    Observed,
    ProcStat,
    SignalRefused,
    Verdict,
    identify,
    judge,
    parse_stat,
    stop_group,
    verdict,
)
from tests.support.processes import ES_DECOY, sleeping

BOOT = "0b5e4c4e-1111-4222-8333-944455556666"
ES = (b"elasticsearch",)



def _seen(start_ticks: int = 500, *, state: str = "S", boot_id: str = BOOT, cmdline: bytes = b"java\0elasticsearch",
          started_at: float | None = 1000.0) -> Observed:
    return Observed(stat=ProcStat(state=state, pgrp=42, start_ticks=start_ticks), boot_id=boot_id, cmdline=cmdline,
                    started_at=started_at)


@pytest.fixture
def decoy() -> Iterator[subprocess.Popen[bytes]]:
    """A process that is no Elasticsearch node but names one in its arguments (like ``tail -f .../gc.log``)."""
    with sleeping(ES_DECOY) as proc:
        yield proc


def test_stat_fields_are_counted_after_the_last_parenthesis() -> None:
    """A command name holding spaces and ')' does not shift the state, process group or start time."""
    line = "77 (a) b (c)) R 1 77 77 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 123456 0 0"
    assert parse_stat(line) == ProcStat(state="R", pgrp=77, start_ticks=123456)


def test_the_recorded_process_is_recognised() -> None:
    """Same start time and boot id: the pid is still the process that was recorded."""
    assert judge(Identity(500, BOOT), _seen(500)) is Verdict.OURS


def test_a_recycled_pid_with_another_start_time_is_not_ours() -> None:
    """A later process under the same pid (another start time) is somebody else's, whatever its command line."""
    assert judge(Identity(500, BOOT), _seen(900)) is Verdict.OTHER


def test_the_same_start_time_in_another_boot_is_not_ours() -> None:
    """Start times restart at every boot, so an equal count after a reboot proves nothing."""
    assert judge(Identity(500, BOOT), _seen(500, boot_id="another-boot")) is Verdict.OTHER


def test_a_zombie_counts_as_gone() -> None:
    """A process that has exited but not been collected is no longer running."""
    assert judge(Identity(500, BOOT), _seen(500, state="Z")) is Verdict.GONE


def test_an_old_state_file_never_makes_a_decoy_ours() -> None:
    """Without a recorded identity, a live process naming elasticsearch is at most unconfirmed, never signalled."""
    assert judge(None, _seen(), markers=ES, recorded_at=2000.0) is Verdict.UNCONFIRMED


def test_an_old_state_file_names_nothing_started_after_it() -> None:
    """A process that started after the state file was written (e.g. after a reboot) is not what it recorded."""
    assert judge(None, _seen(started_at=3000.0), markers=ES, recorded_at=2000.0) is Verdict.OTHER


def test_an_old_state_file_pid_without_the_marker_is_another_program() -> None:
    """A bare pid now running a program that does not name ours is stale."""
    assert judge(None, _seen(cmdline=b"bash"), markers=ES, recorded_at=2000.0) is Verdict.OTHER


def test_a_malformed_identity_is_refused() -> None:
    """An identity of the wrong shape in a state file is an error, not a bare pid."""
    with pytest.raises(ValueError, match="start_ticks"):
        Identity.from_json({"start_ticks": "5", "boot_id": BOOT})


def test_a_live_process_is_recognised_by_its_recorded_identity(decoy: subprocess.Popen[bytes]) -> None:
    """identify() at start and verdict() later agree on the same live process."""
    assert verdict(decoy.pid, identify(decoy.pid)) is Verdict.OURS


def test_a_live_process_with_another_recorded_start_time_is_not_ours(decoy: subprocess.Popen[bytes]) -> None:
    """The live pid with a recorded start time one tick off (a recycled pid) is another process."""
    seen = identify(decoy.pid)
    assert seen is not None
    assert verdict(decoy.pid, Identity(seen.start_ticks + 1, seen.boot_id)) is Verdict.OTHER


def test_a_decoy_in_an_old_state_file_is_not_ours(decoy: subprocess.Popen[bytes], tmp_path: Path) -> None:
    """A decoy naming elasticsearch, recorded by a state file without identity, is never OURS."""
    state_file = tmp_path / "node.json"
    state_file.write_text("{}")
    assert verdict(decoy.pid, None, markers=ES, state_file=state_file) is Verdict.UNCONFIRMED


def test_a_process_that_does_not_lead_its_group_is_not_signalled() -> None:
    """stop_group refuses a pid inside another process group (here ours) and leaves it running."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with pytest.raises(SignalRefused, match="does not lead its own process group"):
            stop_group(child.pid, grace=1)
        assert child.poll() is None
    finally:
        child.kill()
        child.wait()


def test_a_group_leader_is_stopped_and_reported_so(decoy: subprocess.Popen[bytes]) -> None:
    """stop_group signals the leader's group and says True once it has exited."""
    assert stop_group(decoy.pid, grace=5, reap=lambda pid: decoy.poll()) and decoy.poll() is not None
