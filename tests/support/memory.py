"""What a call leaves behind in memory: for the C extensions' tests (a leaked reference or buffer grows it)."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable


def retained_bytes(call: Callable[[], object], times: int) -> int:
    """Traced bytes still held after ``times`` calls of ``call`` (after one untraced warm-up call).

    Args:
        call: what to repeat; its results are dropped at once.
        times: how many calls are traced.

    Returns:
        The traced memory after the calls minus before them.
    """
    call()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(times):
            call()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
