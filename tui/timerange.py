"""The time-range presets of the filter bar (pure): today, 24 h, 7 d, 30 d, all."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

#: (key, label) in the order the filter bar offers them; "custom" opens a dialog.
PRESETS: tuple[tuple[str, str], ...] = (
    ("today", "Today"),
    ("24h", "Last 24 h"),
    ("7d", "Last 7 days"),
    ("30d", "Last 30 days"),
    ("all", "All time"),
    ("custom", "Custom…"),
)
_AGES = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}


def preset_range(key: str, now: datetime, tz: tzinfo) -> tuple[datetime | None, datetime | None]:
    """Return (since, until) of a preset; the end stays open so a live tail sees new events.

    Args:
        key: one of ``PRESETS``' keys except ``custom``.
        now: the current time (timezone-aware).
        tz: the user's zone ("today" starts at local midnight).

    Returns:
        The range; ``None`` = unbounded.

    Raises:
        ValueError: on an unknown key.
    """
    if key == "all":
        return None, None
    if key == "today":
        local = now.astimezone(tz)
        return local.replace(hour=0, minute=0, second=0, microsecond=0), None
    if key in _AGES:
        return now - _AGES[key], None
    raise ValueError(f"unknown time preset {key!r}")
