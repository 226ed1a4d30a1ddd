"""Time bounds: only events within the clock skew ahead and the longest retention plus a margin back are routable."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from auditlog.agent.timebounds import TIMESTAMP_OUT_OF_RANGE, BoundsSettings, TimeBounds
from auditlog.indexer.tiers import TierTable

NOW = datetime(2026, 6, 15, 12, 0, 0, tzinfo=UTC).timestamp()


def bounds(skew: float = 86400, margin: float = 86400, tiers: TierTable | None = None) -> TimeBounds:
    return TimeBounds(tiers or TierTable(), BoundsSettings(skew, margin), clock=lambda: NOW)


@pytest.mark.parametrize(
    "second",
    ["2026-06-15T12:00:00", "2026-06-16T12:00:00", "2026-05-16T12:00:00", "2026-05-15T12:00:00"],
    ids=["now", "one-day-ahead", "thirty-days-back", "thirty-one-days-back"],
)
def test_times_within_the_bounds_are_routable(second: str) -> None:
    """Up to one day ahead and up to 30 days (enterprise retention) plus one day back is accepted."""
    assert bounds()(second) is None


@pytest.mark.parametrize(
    ("second", "words"),
    [("2026-06-16T12:00:01", "ahead of the agent's clock"), ("9999-12-31T23:59:59", "ahead of the agent's clock"),
     ("2026-05-15T11:59:59", "older than the longest retention (30 days) plus 1 day"),
     ("0999-01-01T00:00:00", "older than the longest retention")],
    ids=["a-second-too-far-ahead", "year-9999", "a-second-too-old", "year-999"],
)
def test_times_outside_the_bounds_are_refused_with_the_reason(second: str, words: str) -> None:
    """A time past either bound is refused with a reason starting timestamp_out_of_range."""
    reason = bounds()(second)
    assert reason is not None and reason.startswith(TIMESTAMP_OUT_OF_RANGE + ":") and words in reason


def test_skew_is_configurable() -> None:
    """With a skew of 60 s, two minutes ahead is refused."""
    assert (bounds(skew=60)("2026-06-15T12:02:00") or "").startswith(TIMESTAMP_OUT_OF_RANGE)


def test_past_bound_follows_the_longest_retention_in_the_table() -> None:
    """Without enterprise tenants, the longest retention is business's 7 days."""
    tiers = TierTable(classes={"business": "business", "basic": "professional"})
    assert (bounds(margin=0, tiers=tiers)("2026-06-08T11:59:59") or "").startswith(TIMESTAMP_OUT_OF_RANGE)


def test_bounds_follow_the_clock() -> None:
    """The window moves with the clock (refreshed at most once a second)."""
    now = [NOW]
    tb = TimeBounds(TierTable(), BoundsSettings(0, 0), clock=lambda: now[0])
    assert tb("2026-06-15T12:00:05") is not None
    now[0] += 5
    assert tb("2026-06-15T12:00:05") is None


def test_huge_settings_do_not_overflow() -> None:
    """A skew and margin reaching past year 9999 or before year 1 accept every contract year."""
    tb = bounds(skew=1e13, margin=1e13)
    assert (tb("9999-12-31T23:59:59"), tb("0001-01-01T00:00:00")) == (None, None)


def test_negative_settings_are_refused() -> None:
    """A negative skew is a configuration error."""
    with pytest.raises(ValueError):
        bounds(skew=-1)


def test_window_is_what_a_call_compares_with() -> None:
    """After a call, the window holds the bounds it compared with and when they go stale (a second later)."""
    tb = bounds(skew=0, margin=0)
    assert tb("2026-06-15T12:00:00") is None
    earliest, latest, until = tb.window()
    assert ("2026-05-16T12:00:00", "2026-06-15T12:00:00", NOW + 1.0) == (earliest, latest, until)
