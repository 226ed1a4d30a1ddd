"""Small statistics the benchmarks share: percentiles, timing loops and how a cost grows with input size."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence


def percentile(values: Sequence[float], pct: float) -> float:
    """Return the ``pct`` percentile (0-100) of ``values`` by linear interpolation.

    Raises:
        ValueError: on an empty sequence.
    """
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def timings(fn: Callable[[], object], repeats: int, warmup: int = 1) -> list[float]:
    """Call ``fn`` ``warmup`` times untimed, then ``repeats`` times; return the wall seconds of each timed call."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    """Return median and p95 in milliseconds, and the sample count."""
    return {"median_ms": statistics.median(seconds) * 1000, "p95_ms": percentile(seconds, 95) * 1000,
            "samples": len(seconds)}


def growth(sizes: Sequence[int], values: Sequence[float | None]) -> str:
    """Classify how ``values`` grow with ``sizes`` from the log-log slope between the smallest and largest size.

    Returns:
        ``flat`` (slope < 0.25), ``linear`` (0.75-1.25), ``sub-linear``, ``super-linear``, or ``n/a``.
    """
    pairs = [(s, v) for s, v in zip(sizes, values, strict=True) if v is not None and v > 0]
    if len(pairs) < 2 or pairs[0][0] == pairs[-1][0]:
        return "n/a"
    (s0, v0), (s1, v1) = pairs[0], pairs[-1]
    slope = math.log(v1 / v0) / math.log(s1 / s0)
    if slope < 0.25:
        label = "flat"
    elif slope < 0.75:
        label = "sub-linear"
    elif slope <= 1.25:
        label = "linear"
    else:
        label = "super-linear"
    return f"{label} (log-log slope {slope:.2f})"
