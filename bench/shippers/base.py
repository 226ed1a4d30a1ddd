"""What every benchmarked shipper provides, and the child process that runs one."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from auditlog.indexer.tiers import TierTable
from bench.procstat import Usage, peak_rss_bytes, usage


@dataclass(frozen=True)
class ShipTarget:
    """Where a shipper reads, where it keeps state and where it writes."""

    es_url: str
    tiers: TierTable
    paths: tuple[str, ...]
    state_dir: Path
    batch_size: int


def tiers_by_class(target: ShipTarget) -> dict[str, list[str]]:
    """Return the target's retention classes with the tiers routed to each, for shippers' routing rules."""
    out: dict[str, list[str]] = {}
    for tier, cls in target.tiers.classes.items():
        out.setdefault(cls, []).append(tier)
    return out


class Launcher(Protocol):
    """Knows how to run one kind of shipper against a ``ShipTarget``."""

    name: str
    #: True when the shipper keeps running after the input is drained (a daemon), False for one-shot readers.
    tails: bool

    def unavailable(self) -> str | None:
        """Return why this shipper cannot run here, or ``None`` when it can."""
        ...

    def version(self) -> str:
        """Return the shipper's version string for the results."""
        ...

    def command(self, target: ShipTarget) -> list[str]:
        """Prepare ``target.state_dir`` (config files) and return the command line to run."""
        ...


class ShipperProcess:
    """One running shipper: start, measure from ``/proc``, stop gracefully or kill -9.

    The child is reaped with ``os.wait4`` (never ``Popen.wait``) so the kernel's CPU accounting of a process
    that already exited is kept in ``reaped``. Its peak RSS is not taken from ``ru_maxrss``: Linux carries the
    forked parent's (the harness's) high-water mark across ``exec`` into it. A sampler thread reads ``VmHWM``
    (per address space, so the program's own) from ``/proc`` every 20 ms while the process lives instead.
    """

    def __init__(self, argv: list[str], log_path: Path, env: dict[str, str] | None = None) -> None:
        self.argv = argv
        self.log_path = log_path
        self.env = env
        self.reaped: Usage | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._code: int | None = None
        self._hwm = 0

    def start(self) -> None:
        """Start the process, appending its output to ``log_path``."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        env = dict(os.environ)
        env.update(self.env or {})
        self._proc = subprocess.Popen(self.argv, stdout=self._log, stderr=subprocess.STDOUT, env=env,
                                      start_new_session=True)
        self._code = None
        self.reaped = None
        self._hwm = 0
        threading.Thread(target=self._sample_hwm, args=(self._proc.pid,), daemon=True, name="hwm").start()

    def _sample_hwm(self, pid: int) -> None:
        while self._code is None:
            self._hwm = max(self._hwm, peak_rss_bytes(pid))
            time.sleep(0.02)

    @property
    def pid(self) -> int:
        """The process id (after ``start``)."""
        assert self._proc is not None, "not started"
        return self._proc.pid

    def exit_code(self) -> int | None:
        """Return the exit status when the process has ended (reaping it), else ``None``."""
        if self._code is None:
            pid, status, ru = os.wait4(self.pid, os.WNOHANG)
            if pid:
                self._code = os.waitstatus_to_exitcode(status)
                self.reaped = Usage(ru.ru_utime + ru.ru_stime, self._hwm)
                assert self._proc is not None
                self._proc.returncode = self._code  # keep Popen from reaping (or warning) again
                self._close_log()
        return self._code

    def usage(self) -> Usage:
        """Return CPU seconds and peak RSS of the process tree so far (or at exit, once reaped)."""
        if self.exit_code() is not None:
            assert self.reaped is not None
            return self.reaped
        return usage(self.pid)

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait until the process exits (at most ``timeout`` seconds); return its status or ``None``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.exit_code() is None:
            if deadline is not None and time.monotonic() > deadline:
                return None
            time.sleep(0.05)
        return self._code

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, wait up to ``timeout`` seconds, then SIGKILL; return the exit status."""
        if self.exit_code() is None:
            os.kill(self.pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while self.exit_code() is None and time.monotonic() < deadline:
                time.sleep(0.05)
        if self.exit_code() is None:
            return self.kill9()
        return int(self._code or 0)

    def kill9(self) -> int:
        """SIGKILL the whole process group at once (no chance to flush) and reap it."""
        if self.exit_code() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
            while self.exit_code() is None:
                time.sleep(0.01)
        return int(self._code or 0)

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, chars: int = 1500) -> str:
        """Return the end of the process output, for error messages."""
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""
