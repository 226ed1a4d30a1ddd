"""Tests for tui.timerange: the filter bar's time presets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from auditlog.tui.timerange import preset_range

NOW = datetime(2026, 11, 20, 0, 30, tzinfo=UTC)


def test_today_starts_at_local_midnight() -> None:
    """"Today" begins at midnight in the user's zone (01:30 in Zurich is already the 20th)."""
    zone = ZoneInfo("Europe/Zurich")
    expected = (datetime(2026, 11, 20, 0, 0, tzinfo=zone), None)
    assert expected == preset_range("today", NOW, zone)


def test_relative_presets_are_open_ended() -> None:
    """The 24 h / 7 d / 30 d presets count back from now and leave the end open for the live tail."""
    expected = [(NOW - timedelta(hours=24), None), (NOW - timedelta(days=7), None), (NOW - timedelta(days=30), None)]
    assert expected == [preset_range(key, NOW, UTC) for key in ("24h", "7d", "30d")]


def test_all_is_unbounded() -> None:
    """"All time" has no bounds."""
    expected = (None, None)
    assert expected == preset_range("all", NOW, UTC)


def test_unknown_preset_is_refused() -> None:
    """An unknown key raises, naming it."""
    with pytest.raises(ValueError, match="'1y'"):
        preset_range("1y", NOW, UTC)
