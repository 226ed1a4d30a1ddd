"""The node-loss scenario's delivery arithmetic: stalls and catch-up from sampled counts (no cluster)."""

from __future__ import annotations

from pathlib import Path

from bench.node_loss import DeliveryWatch
from bench.reliability import Writer


def _watch(samples: list[tuple[float, int, int]]) -> DeliveryWatch:
    watch = DeliveryWatch(9, Writer([], Path("/nonexistent"), 1, None, 0))
    watch.samples = samples
    return watch


SAMPLES = [(0.0, 100, 0), (1.0, 200, 100), (2.0, 300, 100), (5.0, 400, 100), (6.0, 400, 300),
           (7.0, 400, 300), (9.0, 400, 400)]


def test_longest_stall_is_the_longest_time_without_progress_while_lines_wait() -> None:
    """Delivery stood at 100 from t=1 to t=6 while lines waited: a 4-second stall beginning at t=1."""
    assert (4.0, 1.0) == _watch(SAMPLES).longest_stall()


def test_stall_from_a_moment_on_ignores_what_came_before() -> None:
    """Counted from t=5.5 only, the longest stall is the pause from t=6 to t=9 (delivery at 300)."""
    assert (1.0, 6.0) == _watch(SAMPLES).longest_stall(after=5.5)


def test_no_stall_once_everything_written_is_delivered() -> None:
    """Time with nothing left to deliver is not a stall."""
    assert (0.0, None) == _watch([(0.0, 10, 10), (5.0, 10, 10), (9.0, 10, 10)]).longest_stall()


def test_catch_up_moments_come_from_the_samples() -> None:
    """The writer had written all 400 lines at t=5 and the agent delivered them by t=9."""
    watch = _watch(SAMPLES)
    assert (5.0, 9.0) == (watch.written_at(400), watch.caught_up_at(400))
