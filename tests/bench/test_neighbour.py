"""The CPU neighbour burns one core each while it runs and leaves nothing behind."""

from __future__ import annotations

import os
import time
from pathlib import Path

from bench.neighbour import cpu_neighbours


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def test_neighbour_burns_cpu_on_its_core_and_is_gone_afterwards() -> None:
    """One neighbour pinned to one core accumulates CPU time; after the block its process no longer exists."""
    core = min(os.sched_getaffinity(0))
    with cpu_neighbours({core}) as pids:
        (pid,) = pids
        deadline = time.monotonic() + 20  # a loaded machine may give the neighbour its first tick late
        while (_cpu_ticks(pid) == 0 or os.sched_getaffinity(pid) != {core}) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _cpu_ticks(pid) > 0
        assert {core} == os.sched_getaffinity(pid)
    assert not Path(f"/proc/{pid}").exists()
