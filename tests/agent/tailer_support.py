"""Helpers for driving the tailer in tests: a fake clock, line writing, draining with instant acks."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from auditlog.agent.harvester import Overlong
from auditlog.agent.registry import Registry
from auditlog.agent.tailer import Tailer, TailerSettings
from auditlog.agent.watcher import Watcher


class FakeClock:
    """A monotonic clock the test advances by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Harness:
    """A tailer over ``dir/pattern`` with a registry in ``state``; acks every block at once."""

    dir: Path
    state: Path
    pattern: str = "audit.log"
    close_inactive: float = 1.0
    fingerprint_bytes: int = 64
    max_open_files: int = 0
    started: float | None = None  # the agent's start (wall clock) on a first start; None: this process's
    clock: FakeClock = field(default_factory=FakeClock)
    read: list[tuple[str, int, bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.registry = Registry(self.state)
        self.tailer = self._new()
        self.tailer.recover()

    def _new(self) -> Tailer:
        settings = TailerSettings((str(self.dir / self.pattern),), fingerprint_bytes=self.fingerprint_bytes,
                                  chunk_bytes=4096, max_line_bytes=64 * 1024, close_inactive=self.close_inactive,
                                  max_open_files=self.max_open_files)
        return Tailer(settings, self.registry, clock=self.clock, started=self.started)

    def restart(self) -> None:
        """Stop the tailer (acks were all committed) and start a fresh one on the same registry."""
        self.tailer.close()
        self.tailer = self._new()
        self.tailer.recover()

    def crash_step(self) -> None:
        """Read what is new without committing, then crash (restart from the last checkpoints)."""
        self.tailer.scan()
        for b in self.tailer.poll():
            for off, line in b.lines:
                assert not isinstance(line, Overlong)
                self.read.append((b.key, off, line))
        self.restart()

    def step(self) -> int:
        """Scan, then poll until nothing new; commit every block's end; return lines read."""
        self.tailer.scan()
        n = 0
        for _ in range(1000):
            blocks = self.tailer.poll()
            if not blocks:
                break
            for b in blocks:
                for off, line in b.lines:
                    assert not isinstance(line, Overlong)
                    self.read.append((b.key, off, line))
                    n += 1
                self.registry.commit_offsets({b.key: b.end})
        return n

    def settle(self) -> None:
        """Let close_inactive pass and read everything that is left."""
        self.step()
        self.clock.now += self.close_inactive + 1
        self.step()
        self.clock.now += self.close_inactive + 1
        self.step()


def append(path: Path, *lines: str) -> None:
    """Append lines the way an app does (O_APPEND, one write per line)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        for line in lines:
            os.write(fd, line.encode() + b"\n")
    finally:
        os.close(fd)


def rotate(path: Path, n: int, *lines: str) -> None:
    """Rename ``path`` to ``path.<n>`` (rename+create rotation), then write ``lines`` to a new ``path``."""
    os.rename(path, path.with_name(f"{path.name}.{n}"))
    if lines:
        append(path, *lines)


def wait_for_moves(watcher: Watcher, timeout: float = 10.0) -> list[tuple[str, str]]:
    """Wait until the watcher reports at least one rename; return the renames it reported."""
    moves: list[tuple[str, str]] = []
    end = time.monotonic() + timeout
    while not moves and time.monotonic() < end:
        watcher.wait(0.1)
        moves += watcher.take_moves()
    return moves
