"""Cyclic garbage collector settings for hot loops that allocate many short-lived, acyclic objects.

The agent's parser and the export's row builder allocate dozens of dicts and lists per event that
reference counting frees at once; none form cycles. With the default gen-0 threshold (700 allocations)
the cyclic collector runs every few events and, worse, every gen-2 pass walks every live object (an
export holds a 2,000-hit response). Raising the thresholds saves CPU in both (docs/benchmarks.md,
"Measurements behind code choices"). Reference cycles are still collected, only less often.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

#: (gen 0, gen 1, gen 2) thresholds while a hot loop runs.
RELAXED = (20_000, 20, 100)


def relax_for_process() -> None:
    """Collect once, freeze what exists (start-up objects leave every later pass) and raise the thresholds."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*RELAXED)


@contextmanager
def relaxed() -> Iterator[None]:
    """Raise the thresholds while the block runs; the previous ones come back afterwards."""
    previous = gc.get_threshold()
    gc.set_threshold(*RELAXED)
    try:
        yield
    finally:
        gc.set_threshold(*previous)
