"""The retry policy: capped exponential backoff with equal jitter."""

from __future__ import annotations

import random

import pytest

from auditlog.agent.backoff import EqualJitterBackoff


def test_waits_grow_exponentially_up_to_the_cap() -> None:
    """Every wait of attempt n lies in [cap/2, cap] with cap = min(maximum, initial * 2**n)."""
    policy = EqualJitterBackoff(initial=0.1, maximum=2.0, rng=random.Random(1))
    caps = [min(2.0, 0.1 * 2**n) for n in range(10)]
    assert [True] * 10 == [cap / 2 <= policy.delay(n) <= cap for n, cap in enumerate(caps)]


def test_never_retries_at_once() -> None:
    """Half of each wait is fixed (equal jitter), so no attempt waits less than initial / 2."""
    policy = EqualJitterBackoff(initial=0.2, maximum=5.0, rng=random.Random(7))
    assert 0.1 <= min(policy.delay(0) for _ in range(1000))


def test_refuses_a_cap_below_the_first_wait() -> None:
    """A maximum below the initial wait is a configuration error."""
    with pytest.raises(ValueError):
        EqualJitterBackoff(initial=1.0, maximum=0.5)
