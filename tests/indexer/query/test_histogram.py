"""Unit tests of the histogram's interval choice and request (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from auditlog.indexer.query.filter import Filter
from auditlog.indexer.query.histogram import choose_interval, histogram_request

T0 = datetime(2026, 11, 20, tzinfo=UTC)


@pytest.mark.parametrize(("span", "expected"), [
    (timedelta(minutes=15), "1m"),
    (timedelta(hours=1), "1m"),
    (timedelta(hours=2), "2m"),
    (timedelta(hours=24), "30m"),
    (timedelta(days=3), "2h"),
    (timedelta(days=7), "3h"),
    (timedelta(days=30), "12h"),
    (timedelta(days=60), "1d"),
    (timedelta(days=365), "1w"),
    (timedelta(days=3650), "1M"),
])
def test_interval_follows_the_range(span: timedelta, expected: str) -> None:
    """The smallest ladder step giving at most 60 buckets is chosen."""
    assert expected == choose_interval(T0, T0 + span).name


def test_interval_never_exceeds_target_buckets_within_the_ladder() -> None:
    """For any range up to two years the chosen step gives at most the target bucket count."""
    for hours in (1, 5, 13, 49, 200, 1000, 20_000):
        interval = choose_interval(T0, T0 + timedelta(hours=hours), target=40)
        assert timedelta(hours=hours) / interval.length <= 40


def test_day_and_longer_steps_are_calendar_intervals() -> None:
    """Days and weeks follow the time zone's calendar (DST-safe); shorter steps are fixed."""
    assert choose_interval(T0, T0 + timedelta(days=50)).kind == "calendar_interval"
    assert choose_interval(T0, T0 + timedelta(hours=5)).kind == "fixed_interval"


def test_request_covers_the_whole_range_with_empty_buckets() -> None:
    """Empty buckets are included over the full range in the requested zone."""
    interval = choose_interval(T0, T0 + timedelta(days=1))
    body = histogram_request(Filter(), T0, T0 + timedelta(days=1), interval, "Europe/Zurich")
    hist = body["aggs"]["over_time"]["date_histogram"]
    assert hist["fixed_interval"] == "30m"
    assert hist["min_doc_count"] == 0
    assert hist["time_zone"] == "Europe/Zurich"
    assert {"min": int(T0.timestamp() * 1000), "max": int(T0.timestamp() * 1000) + 86_400_000} == \
        hist["extended_bounds"]
