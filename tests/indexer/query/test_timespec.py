"""Time flags: values that leave the calendar are parse errors, never an OverflowError later."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

import pytest

from auditlog.indexer.query.timespec import parse_time


@pytest.mark.parametrize("text", ["1000000d", "999999999w", "366001d"])
def test_a_relative_age_beyond_a_thousand_years_is_refused(text: str) -> None:
    """An age that counts back past year 1 (or beyond what a timedelta holds) is a parse error saying so."""
    with pytest.raises(argparse.ArgumentTypeError, match="relative age goes back at most"):
        parse_time(text)


@pytest.mark.parametrize("text", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "9999-12-31",
                                  "0001-01-01"])
def test_an_instant_at_the_calendar_edge_is_refused(text: str) -> None:
    """An instant whose UTC time is within two days of year 1 or year 9999's end is a parse error."""
    with pytest.raises(argparse.ArgumentTypeError, match="out of range"):
        parse_time(text)


def test_the_longest_relative_age_still_resolves() -> None:
    """The largest accepted age resolves against today's date without leaving the calendar."""
    assert parse_time("366000d").resolve(datetime(2026, 12, 4, tzinfo=UTC)).year > 1000
