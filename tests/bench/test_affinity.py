"""Split cores: the node's threads and the harness are pinned apart, and both masks come back afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.affinity import placement, split_cores


def masks(pid: int) -> set[frozenset[int]]:
    """The distinct CPU masks of every thread of ``pid``."""
    return {frozenset(os.sched_getaffinity(int(t.name))) for t in Path(f"/proc/{pid}/task").iterdir()}


@pytest.fixture
def threaded_child() -> Iterator[int]:
    """A child process with a few threads, standing in for the node."""
    code = "import threading, time\nfor _ in range(3): threading.Thread(target=time.sleep, args=(60,)).start()\n" \
           "print('up', flush=True)\ntime.sleep(60)\n"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline() == b"up\n"
    yield proc.pid
    proc.kill()
    proc.wait()


def test_placement_gives_the_node_all_cores_but_the_last() -> None:
    """Four cores: the node gets three, the shipper the last."""
    assert placement({0, 1, 2, 3}) == ({0, 1, 2}, {3})


def test_placement_needs_two_cores() -> None:
    """One core cannot be split."""
    with pytest.raises(ValueError, match="two usable cores"):
        placement({0})


def test_split_cores_pins_every_thread_and_restores(threaded_child: int) -> None:
    """Inside the block all of the node's threads and this process sit on disjoint cores; afterwards as before."""
    before_node, before_self = masks(threaded_child), masks(os.getpid())
    with split_cores(threaded_child) as (node_cores, shipper_cores):
        inside_node, inside_self = masks(threaded_child), masks(os.getpid())
    assert (inside_node, inside_self) == ({frozenset(node_cores)}, {frozenset(shipper_cores)})
    assert not node_cores & shipper_cores
    assert (masks(threaded_child), masks(os.getpid())) == (before_node, before_self)
