"""Tests for the facet multi-select's option labels and the histogram caption."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from auditlog.indexer.query.histogram import Histogram, HistogramBucket, Interval
from auditlog.tui.widgets.facet_list import option_label
from auditlog.tui.widgets.histogram import histogram_caption


def test_option_label_shows_name_and_count() -> None:
    """A worker option shows the name (not the id) and the count, right-aligned."""
    expected = "Anna Keller    1,234"
    assert expected == option_label("w-1", "Anna Keller", 1234, width=20)


def test_long_option_label_is_cut_with_ellipsis() -> None:
    """A long value is cut so the count stays visible."""
    label = option_label("booking_questions", None, 26, width=17)
    expected = (17, True)
    assert expected == (len(label), label.endswith("… 26"))


def test_histogram_caption_names_interval_range_and_peak() -> None:
    """The caption says the interval, the range in the user's zone and the peak."""
    start = datetime(2026, 11, 20, 10, tzinfo=UTC)
    hist = Histogram(Interval("1h", "fixed_interval", timedelta(hours=1)), start, start + timedelta(hours=2),
                     (HistogramBucket(start, 3), HistogramBucket(start + timedelta(hours=1), 9)))
    expected = "events per 1h · 2026-11-20 10:00 → 2026-11-20 12:00 · peak 9"
    assert expected == histogram_caption(hist, UTC)
