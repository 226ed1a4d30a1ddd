"""The benchmark statistics: percentiles and the flat/linear growth label."""

from __future__ import annotations

import pytest

from bench.growth import growth, latency_summary, percentile


def test_percentile_interpolates_between_samples() -> None:
    """The 95th percentile of 0..100 is 95 and the median of an even count is the midpoint."""
    assert percentile([float(v) for v in range(101)], 95) == 95.0
    assert percentile([1.0, 3.0], 50) == 2.0


def test_percentile_of_nothing_is_an_error() -> None:
    """An empty sample has no percentile."""
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)


def test_latency_summary_reports_milliseconds() -> None:
    """Seconds in, median and p95 in milliseconds out."""
    assert latency_summary([0.010, 0.020, 0.030]) == {"median_ms": 20.0, "p95_ms": pytest.approx(29.0),
                                                       "samples": 3}


def test_growth_flat_when_cost_does_not_change_with_size() -> None:
    """The same cost at 10k and 1M is flat."""
    assert growth([10_000, 100_000, 1_000_000], [5.0, 5.2, 5.1]).startswith("flat")


def test_growth_linear_when_cost_follows_size() -> None:
    """A cost 100x larger at 100x the size is linear."""
    assert growth([10_000, 100_000, 1_000_000], [1.0, 10.0, 100.0]).startswith("linear")


def test_growth_ignores_missing_points() -> None:
    """Sizes without a measurement are skipped; fewer than two points say n/a."""
    assert growth([1, 10, 100], [None, None, 3.0]) == "n/a"
    assert growth([1, 10, 100], [1.0, None, 100.0]).startswith("linear")
