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


@pytest.mark.parametrize("text", ["\u0663d", "1\u0660m", "\uff17d", "\u0662\u0660\u0662\u0666-11-20",
                                  "2026-11-20T10:00:00+\u0660\u0661:00"])
def test_other_scripts_digits_are_no_time(text: str) -> None:
    """Digits of other scripts (Arabic-Indic, full-width) are refused, never read as an age or a date."""
    with pytest.raises(argparse.ArgumentTypeError, match="invalid"):
        parse_time(text)
