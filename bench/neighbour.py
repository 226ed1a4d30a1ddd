"""A CPU-burning neighbour: the slow-core case, reproducible on any machine.

On a machine with slower cores the agent fed the node less well (agent/ceiling fell from 0.85 to 0.72).
Running the bench there is not reproducible; halving every core's speed here is: one busy-looping process
per usable core, pinned to it, at the same priority as everything else, so the scheduler gives the node and
the shipper about half of each core while the neighbour runs. The neighbours are stopped (SIGKILL, reaped)
when the block ends, also on errors.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator

_BURN = "import os, sys; os.sched_setaffinity(0, {int(sys.argv[1])})\nwhile True:\n    pass\n"


@contextlib.contextmanager
def cpu_neighbours(cores: set[int] | None = None) -> Iterator[list[int]]:
    """Keep one busy-looping process per core of ``cores`` (default: every usable core) while the block runs.

    Yields:
        The neighbours' process ids.
    """
    chosen = sorted(cores if cores is not None else os.sched_getaffinity(0))
    procs = [subprocess.Popen([sys.executable, "-c", _BURN, str(core)], stdin=subprocess.DEVNULL,
                              start_new_session=True) for core in chosen]
    try:
        yield [p.pid for p in procs]
    finally:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
