"""CPU seconds and peak memory of a child process from ``/proc`` (no psutil).

CPU is ``utime + stime`` of the process and of its live descendants (threads are included by the kernel);
peak memory is ``VmHWM`` (the resident-set high-water mark). Read them before stopping the process, so
shutdown work is not counted against the measured window.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Usage:
    """Resources one process (tree) used so far."""

    cpu_seconds: float
    peak_rss_bytes: int


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may contain spaces and parentheses: split after the last ')'.
    return raw[raw.rindex(")") + 2:].split()


def _cpu_of(pid: int) -> float:
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    # fields[11], [12] = utime, stime; [13], [14] = children's utime/stime already waited for.
    return sum(int(v) for v in fields[11:15]) / _TICKS


def peak_rss_bytes(pid: int) -> int:
    """Return the resident-set high-water mark (``VmHWM``) of ``pid``, 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def descendants(pid: int) -> list[int]:
    """Return the live descendants of ``pid`` (children, grandchildren, ...)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        if fields:
            parents.setdefault(int(fields[1]), []).append(int(entry))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def usage(pid: int) -> Usage:
    """Return the CPU seconds of ``pid`` and its descendants and the largest peak RSS among them.

    Args:
        pid: a live process.

    Returns:
        CPU seconds so far and the peak resident set size in bytes.
    """
    tree = [pid, *descendants(pid)]
    return Usage(cpu_seconds=sum(_cpu_of(p) for p in tree), peak_rss_bytes=max(peak_rss_bytes(p) for p in tree))


def current_rss_bytes(pid: int) -> int:
    """Return the current resident set size of ``pid`` (``VmRSS``), 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0
