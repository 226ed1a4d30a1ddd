"""Time specs for filters: RFC 3339 with an offset or ``Z``, a bare date (midnight UTC), ``now``, or a
relative age ``<n><unit>`` (``s``, ``m``, ``h``, ``d``, ``w``: that long before "now").

A relative spec is resolved against one "now" chosen by the caller, so one command or one screen uses one
"now". Parse errors are ``argparse.ArgumentTypeError`` (a ``ValueError`` whose text is the whole message),
so the same parser serves command-line flags and the TUI's custom-range dialog.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Final

# re.ASCII: Python's \d also matches other scripts' digits, which int() reads ("٣d" was 3 days ago)
_RELATIVE: Final = re.compile(r"^(\d{1,9})([smhdw])$", re.ASCII)
_UNITS: Final = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
#: the longest relative age (about 1000 years): counting back further from "now" leaves the calendar
MAX_AGE: Final = timedelta(days=366_000)
#: room an instant leaves to the calendar's ends (year 1, year 9999), for the days that callers add or
#: subtract and the time zones that show it (UTC+14)
EDGE: Final = timedelta(days=2)


def in_calendar(instant: datetime, edge: timedelta = EDGE) -> bool:
    """Whether ``instant`` (timezone-aware) is at least ``edge`` away from the calendar's ends, in UTC (pure).

    Args:
        instant: a timezone-aware time.
        edge: the room required at both ends.

    Returns:
        False for an instant whose UTC time, give or take ``edge``, would leave years 1 to 9999
        (``9999-12-31T23:59:59-23:59``, ``0001-01-01T00:00:00+23:59``).
    """
    try:
        utc = instant.astimezone(UTC)
        _ = (utc - edge, utc + edge)  # both must exist
    except OverflowError:
        return False
    return True


@dataclass(frozen=True)
class TimeSpec:
    """A ``--since`` / ``--until`` value: an absolute instant, or an age before "now"."""

    absolute: datetime | None = None
    ago: timedelta | None = None

    def resolve(self, now: datetime) -> datetime:
        """Return the instant, relative ones counted back from ``now``."""
        if self.absolute is not None:
            return self.absolute
        return now - (self.ago or timedelta(0))


def parse_time(text: str) -> TimeSpec:
    """Parse a time flag value (see the module docs).

    Args:
        text: the value as typed.

    Returns:
        The parsed time.

    Raises:
        argparse.ArgumentTypeError: when the value is neither RFC 3339, a date, ``now`` nor ``<n><unit>``.
    """
    value = text.strip()
    if value.lower() == "now":
        return TimeSpec(ago=timedelta(0))
    match = _RELATIVE.match(value)
    if match:
        try:
            ago = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
        except OverflowError:  # 999999999w: more days than a timedelta holds
            ago = MAX_AGE + MAX_AGE
        if ago > MAX_AGE:
            raise argparse.ArgumentTypeError(f"invalid time {text!r}: a relative age goes back at most "
                                             f"{MAX_AGE.days} days (about 1000 years)")
        return TimeSpec(ago=ago)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value, re.ASCII):
        try:
            day = date.fromisoformat(value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"invalid date {text!r}: {exc}") from None
        return TimeSpec(absolute=_in_range(datetime(day.year, day.month, day.day, tzinfo=UTC), text))
    # RFC 3339 allows lowercase t/z; fromisoformat wants the uppercase letters.
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", value, re.ASCII):
        raise argparse.ArgumentTypeError(
            f"invalid time {text!r}: use RFC 3339 with an offset (2026-11-20T10:00:00Z), "
            "a date (2026-11-20), 'now' or a relative age like 15m, 24h, 7d"
        )
    try:
        instant = datetime.fromisoformat(value.upper().replace(" ", "T"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"invalid time {text!r}: {exc}") from None
    return TimeSpec(absolute=_in_range(instant, text))


def _in_range(instant: datetime, text: str) -> datetime:
    if not in_calendar(instant):
        raise argparse.ArgumentTypeError(f"invalid time {text!r}: out of range (in UTC it must fall between "
                                         f"0001-01-0{1 + EDGE.days} and 9999-12-{31 - EDGE.days})")
    return instant
