"""Whether a recorded pid is still the process we started, and stopping its process group only then.

A pid alone does not name a process: after a reboot, or once the process has exited, the kernel hands the
same number to anything else. Looking for a word in the command line (the old check) is no better: a
``tail -f .../elasticsearch/logs/gc.log`` or the user's own ``auditlog tui`` matches it. So whoever starts a
background process (the local Elasticsearch node, the demo's agent and generator) records its
:class:`Identity` next to the pid:

- the process's start time, field 22 of ``/proc/<pid>/stat`` in clock ticks since boot: two processes that
  share a pid within one boot never share it;
- the boot id, ``/proc/sys/kernel/random/boot_id``: start times restart from zero at every boot.

Both must match before the pid counts as ours (:func:`judge` decides, from what :func:`observe` read).

State files written before identities were recorded hold a bare pid. For those the rule is: **refuse, never
guess**. A live pid whose command line still names the program, and which started before the state file
was written, is :attr:`Verdict.UNCONFIRMED`: nothing is signalled and the caller says so in one line (stop it
by hand, remove the file). Anything else (gone, another program, started after the file was written, so
after a reboot) is stale. The start-time-before-mtime rule alone would not do: a decoy started before
the stale file was written (the reviewer's repro) passes it.

Stopping (:func:`stop_group`) signals a process *group*, and only when the recorded process leads it
(``getpgid(pid) == pid``): a process that merely reuses the pid inside another group must never turn a
``killpg`` into a signal to somebody else's group. "Stopped" is only reported when a signal was sent and
every process of the group has exited.

Linux only: without ``/proc`` no identity can be read or checked, and nothing is signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

PROC = Path("/proc")
BOOT_ID = PROC / "sys" / "kernel" / "random" / "boot_id"


class SignalRefused(RuntimeError):
    """A recorded process was not signalled (or did not exit); the one-line message says what to do."""


@dataclass(frozen=True)
class Identity:
    """What tells one process apart from any later process with the same pid."""

    start_ticks: int
    boot_id: str

    def to_json(self) -> dict[str, Any]:
        """Return the form saved in a state file."""
        return {"start_ticks": self.start_ticks, "boot_id": self.boot_id}

    @classmethod
    def from_json(cls, data: object) -> Identity | None:
        """Read what :meth:`to_json` wrote; ``None`` for a state file from before identities were recorded.

        Args:
            data: the saved value (``None`` when the state file has none).

        Returns:
            The identity, or ``None`` when there is none.

        Raises:
            ValueError: a value of the wrong shape (an edited or damaged state file).
        """
        if data is None:
            return None
        if not isinstance(data, Mapping):
            raise ValueError("identity is not an object")
        ticks, boot = data.get("start_ticks"), data.get("boot_id")
        if type(ticks) is not int or ticks < 0 or not isinstance(boot, str) or not boot:
            raise ValueError("identity needs a start_ticks count and a boot_id")
        return cls(start_ticks=ticks, boot_id=boot)


@dataclass(frozen=True)
class ProcStat:
    """The fields of ``/proc/<pid>/stat`` these checks use."""

    state: str
    pgrp: int
    start_ticks: int


def parse_stat(text: str) -> ProcStat:
    """Parse one ``/proc/<pid>/stat`` line.

    The command name (field 2) is in parentheses and may itself hold spaces and ``)``, so the fields are
    counted after the *last* ``)``.

    Args:
        text: the file's content.

    Returns:
        The state (field 3), process group (field 5) and start time in clock ticks (field 22).

    Raises:
        ValueError: not a stat line.
    """
    _, paren, rest = text.rpartition(")")
    fields = rest.split()
    if not paren or len(fields) < 20:
        raise ValueError("not a /proc/<pid>/stat line")
    # fields[0] is field 3 of proc(5), so field n is fields[n - 3]
    return ProcStat(state=fields[0], pgrp=int(fields[2]), start_ticks=int(fields[19]))


@dataclass(frozen=True)
class Observed:
    """A live process as seen now."""

    stat: ProcStat
    boot_id: str
    cmdline: bytes
    started_at: float | None  # wall-clock seconds (None: unknown), for state files without an identity


class Verdict(Enum):
    """What a recorded pid is now."""

    OURS = "ours"  # the very process that was recorded: it may be signalled
    GONE = "gone"  # no such process (or only its zombie)
    OTHER = "other"  # the pid belongs to another process now: the record is stale
    UNCONFIRMED = "unconfirmed"  # a bare pid (old state file) that might be ours: never signalled


def judge(recorded: Identity | None, observed: Observed | None, *, markers: Sequence[bytes] = (),
          recorded_at: float | None = None) -> Verdict:
    """Decide whether a recorded process is the one running under its pid now (no I/O).

    Args:
        recorded: the identity saved when the process was started; ``None`` for an old state file.
        observed: the process under that pid now (:func:`observe`); ``None`` when there is none.
        markers: for an old state file, words one of which its command line must contain.
        recorded_at: for an old state file, when it was written (its mtime, wall-clock seconds).

    Returns:
        The verdict; only :attr:`Verdict.OURS` may be signalled.
    """
    if observed is None or observed.stat.state in ("Z", "X"):
        return Verdict.GONE
    if recorded is not None:
        same = recorded.boot_id == observed.boot_id and recorded.start_ticks == observed.stat.start_ticks
        return Verdict.OURS if same else Verdict.OTHER
    if not any(marker in observed.cmdline for marker in markers):
        return Verdict.OTHER
    # a process started after the state file was written cannot be the one it names (e.g. after a reboot). The
    # slack covers a start time read from whole-second btime and coarse mtimes; within it the pid stays unconfirmed
    # (refused), which is the safe side.
    started_at, slack = observed.started_at, 2.0
    if recorded_at is not None and started_at is not None and started_at > recorded_at + slack:
        return Verdict.OTHER
    return Verdict.UNCONFIRMED


def read_boot_id() -> str | None:
    """Return this boot's id (``None`` without ``/proc``)."""
    try:
        return BOOT_ID.read_text().strip() or None
    except OSError:
        return None


def _boot_time() -> float | None:
    try:
        for line in (PROC / "stat").read_text().splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def observe(pid: int) -> Observed | None:
    """Read what :func:`judge` needs about ``pid`` from ``/proc``.

    Args:
        pid: the process to look at.

    Returns:
        What it is now, or ``None`` when there is no such process (or no ``/proc`` to tell).
    """
    boot_id = read_boot_id()
    try:
        stat = parse_stat((PROC / str(pid) / "stat").read_text())
    except (OSError, ValueError):
        return None
    if boot_id is None:
        return None
    try:
        cmdline = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        cmdline = b""  # exited in between; judge() then sees no marker
    boot = _boot_time()
    # btime is whole seconds, so started_at may read up to a second early; only old state files use it
    started_at = None if boot is None else boot + stat.start_ticks / os.sysconf("SC_CLK_TCK")
    return Observed(stat=stat, boot_id=boot_id, cmdline=cmdline, started_at=started_at)


def identify(pid: int) -> Identity | None:
    """Return the identity to record for a process just started (``None``: it is gone, or no ``/proc``)."""
    seen = observe(pid)
    return None if seen is None else Identity(start_ticks=seen.stat.start_ticks, boot_id=seen.boot_id)


def verdict(pid: int, recorded: Identity | None, *, markers: Sequence[bytes] = (),
            state_file: Path | None = None) -> Verdict:
    """Return :func:`judge`'s verdict on ``pid`` as it is now.

    Args:
        pid: the recorded pid.
        recorded: the recorded identity (``None``: an old state file).
        markers: see :func:`judge`.
        state_file: the file the pid was read from; its mtime is ``recorded_at`` for an old state file.

    Returns:
        The verdict.
    """
    recorded_at: float | None = None
    if recorded is None and state_file is not None:
        with contextlib.suppress(OSError):
            recorded_at = state_file.stat().st_mtime
    return judge(recorded, observe(pid), markers=markers, recorded_at=recorded_at)


def group_alive(pgid: int) -> bool:
    """Return whether any live process is left in process group ``pgid`` (zombies count as gone)."""
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = parse_stat((entry / "stat").read_text())
        except (OSError, ValueError):
            continue
        if stat.pgrp == pgid and stat.state not in ("Z", "X"):
            return True
    return False


def _leads_its_group(pid: int) -> bool:
    try:
        return os.getpgid(pid) == pid
    except ProcessLookupError:
        return False


def stop_group(pid: int, *, grace: float, kill_grace: float = 10.0, what: str = "process",
               reap: Callable[[int], object] | None = None) -> bool:
    """SIGTERM the process group ``pid`` leads, SIGKILL it after ``grace`` seconds, wait until it is gone.

    Call it only for a pid :func:`judge` found :attr:`Verdict.OURS`.

    Args:
        pid: the recorded process, which must lead its process group.
        grace: seconds between SIGTERM and SIGKILL.
        kill_grace: seconds to wait for the group to go after SIGKILL.
        what: how messages name the process ("Elasticsearch", "agent").
        reap: called with ``pid`` while waiting (collects the exit status of the caller's own child).

    Returns:
        True: signalled, and every process of the group has exited. False: it had already gone.

    Raises:
        SignalRefused: it does not lead its group, may not be signalled by this user, or outlived SIGKILL.
    """
    if not _leads_its_group(pid):
        if not group_alive(pid) and not PROC.joinpath(str(pid)).exists():
            return False
        raise SignalRefused(f"{what} (pid {pid}) does not lead its own process group; not signalled")

    def gone(deadline: float) -> bool:
        while time.monotonic() < deadline:
            if reap is not None:
                reap(pid)
            if not group_alive(pid):
                return True
            time.sleep(0.1)
        return not group_alive(pid)

    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, kill_grace)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            # gone between the check and this signal: "stopped" only when our SIGTERM came first
            return sig is signal.SIGKILL
        except PermissionError:
            raise SignalRefused(f"not allowed to signal {what} (pid {pid}): run this as its user or root") from None
        if gone(time.monotonic() + wait):
            return True
    raise SignalRefused(f"{what} (process group {pid}) is still there after SIGKILL")


class Outcome(Enum):
    """What stopping a recorded process did."""

    STOPPED = "stopped"  # signalled, and every process of its group has exited
    NOT_RUNNING = "not running"  # nothing was recorded, or it had exited before a signal was sent
    STALE = "stale"  # the record named a process that is gone or another one: removed, nothing signalled


@dataclass(frozen=True)
class StopResult:
    """The outcome of stopping one recorded process, and for a stale record why it was stale."""

    outcome: Outcome
    detail: str = ""


def stale_reason(pid: int, seen: Verdict) -> str:
    """Return why the record of ``pid`` is stale, for the one line that reports it."""
    return f"pid {pid} is gone" if seen is Verdict.GONE else f"pid {pid} is another process now"
