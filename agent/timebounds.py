"""Time bounds: which ``@timestamp`` values may be routed to a daily index at all.

An event dated far in the future or long past would create a daily index that retention never
reaches (``9999.12.31``) or deletes at once, and random dates can create thousands of indices until
the cluster's shard limit refuses every new day. So the router refuses, with a reason starting with
:data:`TIMESTAMP_OUT_OF_RANGE`, an event more than ``max_future_skew`` seconds ahead of the agent's
clock or older than the longest retention of the tier table plus ``max_age_margin`` seconds. Such a
line is dead-lettered (replay it after fixing the producer's clock); no index outside the bounds is
created by the agent.

Bounds are compared to the second as UTC strings ``YYYY-MM-DDTHH:MM:SS`` (contract timestamps have
four-digit years, so string order is time order), refreshed from the clock at most once per second:
per event it costs one clock read and two string comparisons.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from auditlog.indexer.tiers import RETENTION_DAYS, TierTable

#: the dead-letter reason's first word for an event outside the bounds.
TIMESTAMP_OUT_OF_RANGE = "timestamp_out_of_range"

DEFAULT_MAX_FUTURE_SKEW = 86400.0
DEFAULT_MAX_AGE_MARGIN = 86400.0
_REFRESH = 1.0  # seconds between recomputing the bounds from the clock


def _second(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")[:19]


def _span(seconds: float) -> str:
    if seconds % 86400 == 0:
        days = int(seconds // 86400)
        return f"{days} day{'s' if days != 1 else ''}"
    return f"{seconds:g} s"


@dataclass(frozen=True, slots=True)
class BoundsSettings:
    """How far ahead and how far back an event may be, in seconds (past = longest retention + margin)."""

    max_future_skew: float = DEFAULT_MAX_FUTURE_SKEW
    max_age_margin: float = DEFAULT_MAX_AGE_MARGIN


class TimeBounds:
    """Callable: a UTC second ``YYYY-MM-DDTHH:MM:SS`` -> ``None`` when routable, else the reason."""

    __slots__ = ("_earliest", "_latest", "_next", "clock", "max_age", "max_future_skew", "retention_days")

    def __init__(
        self,
        tiers: TierTable,
        settings: BoundsSettings | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Fix the limits once: the longest retention of ``tiers`` plus the margin, and the skew.

        Args:
            tiers: the routing table (its longest retention class sets the past bound).
            settings: skew and margin in seconds (defaults: one day each).
            clock: seconds since the epoch (the wall clock; tests pass a fixed one).

        Raises:
            ValueError: when the skew or the margin is negative.
        """
        settings = settings or BoundsSettings()
        if settings.max_future_skew < 0 or settings.max_age_margin < 0:
            raise ValueError("max_future_skew and max_age_margin must be >= 0")
        self.retention_days = max(RETENTION_DAYS[cls] for cls in {*tiers.classes.values()} or RETENTION_DAYS)
        self.max_future_skew = float(settings.max_future_skew)
        self.max_age = self.retention_days * 86400.0 + settings.max_age_margin
        #: the clock the bounds are computed from (seconds since the epoch)
        self.clock = clock
        self._next = float("-inf")
        self._earliest = ""
        self._latest = ""

    def _refresh(self, now: float) -> None:
        moment = datetime.fromtimestamp(now, UTC)
        try:
            self._earliest = _second(moment - timedelta(seconds=self.max_age))
        except OverflowError:  # a margin reaching before year 1: nothing is too old
            self._earliest = "0001-01-01T00:00:00"
        try:
            self._latest = _second(moment + timedelta(seconds=self.max_future_skew))
        except OverflowError:
            self._latest = "9999-12-31T23:59:59"
        self._next = now + _REFRESH

    def window(self) -> tuple[str, str, float]:
        """The bounds as last computed: ``(earliest, latest, until)``.

        Until the clock reaches ``until`` (when :meth:`__call__` recomputes them), a second from ``earliest``
        to ``latest`` is routable without asking; a caller on the hot path compares with these and calls
        only for a second outside them or after ``until``.

        Returns:
            The earliest and latest routable seconds (``YYYY-MM-DDTHH:MM:SS``) and the clock reading
            (:attr:`clock`) from which they are stale.
        """
        return self._earliest, self._latest, self._next

    def __call__(self, second: str) -> str | None:
        """Check one event's UTC second.

        Args:
            second: ``YYYY-MM-DDTHH:MM:SS`` of the event's ``@timestamp`` in UTC.

        Returns:
            ``None`` when an index may be created for it, else the dead-letter reason.
        """
        now = self.clock()
        if now >= self._next:
            self._refresh(now)
        if second > self._latest:
            return (f"{TIMESTAMP_OUT_OF_RANGE}: {second}Z is more than {_span(self.max_future_skew)} ahead of "
                    f"the agent's clock (latest accepted {self._latest}Z; routing.max_future_skew)")
        if second < self._earliest:
            return (f"{TIMESTAMP_OUT_OF_RANGE}: {second}Z is older than the longest retention "
                    f"({self.retention_days} days) plus {_span(self.max_age - self.retention_days * 86400.0)} "
                    f"(earliest accepted {self._earliest}Z; routing.max_age_margin)")
        return None
