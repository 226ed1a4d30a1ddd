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

_RELATIVE: Final = re.compile(r"^(\d{1,9})([smhdw])$")
_UNITS: Final = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


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
        return TimeSpec(ago=timedelta(**{_UNITS[match.group(2)]: int(match.group(1))}))
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            day = date.fromisoformat(value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"invalid date {text!r}: {exc}") from None
        return TimeSpec(absolute=datetime(day.year, day.month, day.day, tzinfo=UTC))
    # RFC 3339 allows lowercase t/z; fromisoformat wants the uppercase letters.
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", value):
        raise argparse.ArgumentTypeError(
            f"invalid time {text!r}: use RFC 3339 with an offset (2026-11-20T10:00:00Z), "
            "a date (2026-11-20), 'now' or a relative age like 15m, 24h, 7d"
        )
    try:
        instant = datetime.fromisoformat(value.upper().replace(" ", "T"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"invalid time {text!r}: {exc}") from None
    return TimeSpec(absolute=instant)
