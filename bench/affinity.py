"""Core placement for the split-cores ingest run: the node on its own cores, the shipper and harness on one other.

On one machine the shipper and Elasticsearch compete for the same cores, so every microsecond of shipper
CPU is taken from the node; the shared run measures that. In production the shipper runs on the
application hosts and the node elsewhere; the split run stands for that: the node is pinned to all cores
but the last, this process (and so every shipper it starts afterwards, which inherits the mask) to the
last one. "x ceiling" then says how well a shipper feeds the node, independent of its own CPU cost.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


def set_affinity(pid: int, cores: set[int]) -> None:
    """Pin every thread of ``pid`` to ``cores`` (threads it creates later inherit their creator's mask)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(ProcessLookupError):
            os.sched_setaffinity(int(task.name), cores)


def placement(cores: set[int]) -> tuple[set[int], set[int]]:
    """Return (node cores, shipper cores): all but the last usable core for the node, the last for the shipper.

    Raises:
        ValueError: with fewer than two usable cores.
    """
    ordered = sorted(cores)
    if len(ordered) < 2:
        raise ValueError(f"a split run needs two usable cores, this process has {len(ordered)}")
    return set(ordered[:-1]), {ordered[-1]}


@contextlib.contextmanager
def split_cores(node_pid: int) -> Iterator[tuple[set[int], set[int]]]:
    """Pin the node and this process apart while the block runs; the previous masks come back afterwards.

    Raises:
        ValueError: with fewer than two usable cores.
        OSError: when the node's threads cannot be pinned (not a local process, no permission).
    """
    mine, node_before = os.sched_getaffinity(0), os.sched_getaffinity(node_pid)
    node_cores, shipper_cores = placement(mine)
    set_affinity(node_pid, node_cores)
    set_affinity(os.getpid(), shipper_cores)
    try:
        yield node_cores, shipper_cores
    finally:
        set_affinity(os.getpid(), mine)
        with contextlib.suppress(OSError):
            set_affinity(node_pid, node_before)
