"""The agent's one retry policy: capped exponential backoff with equal jitter.

Attempt ``n`` (from 0) waits a random time in ``[cap / 2, cap]`` with ``cap = min(maximum, initial *
2**n)``: half of the wait is fixed, half random ("equal jitter" in AWS's "Exponential Backoff And
Jitter"). Unlike full jitter (``[0, cap]``) it never retries at once, so a node that is down is not
hammered, while agents that failed together still spread out. The sink's request retries and the
pipeline's checkpoint-commit retries both use it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True)
class EqualJitterBackoff:
    """Capped exponential backoff whose every wait lies in ``[cap / 2, cap]``."""

    initial: float = 0.1
    maximum: float = 30.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.initial <= 0 or self.maximum < self.initial:
            raise ValueError("backoff initial must be > 0 and maximum >= initial")

    def delay(self, attempt: int) -> float:
        """Return the seconds to wait before attempt ``attempt + 1`` (``attempt`` counts from 0)."""
        cap = min(self.maximum, self.initial * (2 ** min(attempt, 30)))
        return cap / 2 + self.rng.uniform(0, cap / 2)
