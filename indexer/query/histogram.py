"""Events over time for the current filter: a date histogram whose interval follows the time range.

The interval is the smallest step of a fixed ladder (1 minute ... 1 month) that splits the range into
at most ``target`` buckets (60 by default: one bar per character column in a small terminal). The range
is the filter's ``since``..``until``; an open end is taken from the data (the oldest matching event)
and from ``now``. Steps of a day and more are calendar intervals, so days and weeks follow the
requested time zone across daylight-saving changes; shorter steps are fixed. Empty buckets are
included (``min_doc_count: 0`` over the whole range), so bars line up with the time axis and the
counts add up to the filter's total.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from elasticsearch import Elasticsearch

from auditlog.indexer.query.dsl import TIME_FIELD, build_query
from auditlog.indexer.query.filter import Filter
from auditlog.indexer.query.pit import PointInTime
from auditlog.indexer.tiers import TierTable

DEFAULT_TARGET_BUCKETS: Final = 60

#: (Elasticsearch interval, kind, length) from shortest to longest.
INTERVALS: Final[tuple[tuple[str, str, timedelta], ...]] = (
    ("1m", "fixed_interval", timedelta(minutes=1)),
    ("2m", "fixed_interval", timedelta(minutes=2)),
    ("5m", "fixed_interval", timedelta(minutes=5)),
    ("10m", "fixed_interval", timedelta(minutes=10)),
    ("15m", "fixed_interval", timedelta(minutes=15)),
    ("30m", "fixed_interval", timedelta(minutes=30)),
    ("1h", "fixed_interval", timedelta(hours=1)),
    ("2h", "fixed_interval", timedelta(hours=2)),
    ("3h", "fixed_interval", timedelta(hours=3)),
    ("6h", "fixed_interval", timedelta(hours=6)),
    ("12h", "fixed_interval", timedelta(hours=12)),
    ("1d", "calendar_interval", timedelta(days=1)),
    ("1w", "calendar_interval", timedelta(weeks=1)),
    ("1M", "calendar_interval", timedelta(days=31)),
)


@dataclass(frozen=True)
class Interval:
    """A histogram step: its Elasticsearch name (``5m``, ``1d``), kind (fixed/calendar) and length."""

    name: str
    kind: str
    length: timedelta


def choose_interval(since: datetime, until: datetime, *, target: int = DEFAULT_TARGET_BUCKETS) -> Interval:
    """Return the smallest ladder step that splits ``since``..``until`` into at most ``target`` buckets.

    Args:
        since: start of the range.
        until: end of the range.
        target: the most buckets wanted (at least 1).

    Returns:
        The interval (the longest step when even it gives more buckets).
    """
    span = max(until - since, timedelta(0))
    for name, kind, length in INTERVALS:
        if span / length <= max(target, 1):
            return Interval(name, kind, length)
    name, kind, length = INTERVALS[-1]
    return Interval(name, kind, length)


@dataclass(frozen=True)
class HistogramBucket:
    """Events from ``start`` (timezone-aware, the requested zone) for one interval."""

    start: datetime
    count: int


@dataclass(frozen=True)
class Histogram:
    """Counts per interval over the range, oldest first; ``total`` is their sum."""

    interval: Interval
    since: datetime | None
    until: datetime | None
    buckets: tuple[HistogramBucket, ...]

    @property
    def total(self) -> int:
        """Events in all buckets (= the filter's total)."""
        return sum(b.count for b in self.buckets)


def histogram_request(flt: Filter, since: datetime, until: datetime, interval: Interval,
                      time_zone: str = "UTC") -> dict[str, Any]:
    """Return the search body of the histogram (pure)."""
    return {
        "query": build_query(flt),
        "size": 0,
        "track_total_hits": False,
        "aggs": {
            "over_time": {
                "date_histogram": {
                    "field": TIME_FIELD,
                    interval.kind: interval.name,
                    "time_zone": time_zone,
                    "min_doc_count": 0,
                    "extended_bounds": {"min": _millis(since), "max": _millis(until)},
                }
            }
        },
    }


def _millis(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def histogram(
    client: Elasticsearch,
    tiers: TierTable,
    flt: Filter,
    *,
    target: int = DEFAULT_TARGET_BUCKETS,
    time_zone: str = "UTC",
    now: datetime | None = None,
    pit: PointInTime | None = None,
    index: str | None = None,
) -> Histogram:
    """Count the events of ``flt`` per time interval.

    Args:
        client: the Elasticsearch client.
        tiers: the index namespace (its ``read_pattern`` is searched).
        flt: the current filter.
        target: the most buckets wanted.
        time_zone: IANA zone or offset for bucket boundaries (days start at local midnight).
        now: end of an open range (defaults to the current time).
        pit: count inside this snapshot (the pager's).
        index: search this index or pattern instead of ``tiers.read_pattern`` (ignored with ``pit``).

    Returns:
        The histogram; empty when nothing matches and the range is open.

    Raises:
        elasticsearch.ApiError / elasticsearch.ConnectionError: when the cluster fails.
    """
    def search(**body: Any) -> dict[str, Any]:
        if pit is not None:
            return pit.search(**body)
        return dict(client.search(index=index or tiers.read_pattern, allow_no_indices=True,
                                  allow_partial_search_results=False, **body))

    until = flt.until or now or datetime.now(UTC)
    since = flt.since
    if since is None:
        # An open start: the oldest matching event decides the range (one cheap request).
        found = search(query=build_query(flt), size=0, track_total_hits=False,
                       aggs={"oldest": {"min": {"field": TIME_FIELD}}})
        oldest = found.get("aggregations", {}).get("oldest", {}).get("value")
        if oldest is None:
            return Histogram(choose_interval(until - timedelta(days=1), until, target=target), None, until, ())
        since = min(datetime.fromtimestamp(oldest / 1000, UTC), until)
    until = max(until, since)  # a start in the future: one empty range, not a refused request
    interval = choose_interval(since, until, target=target)
    response = search(**histogram_request(flt, since, until, interval, time_zone))
    raw = response.get("aggregations", {}).get("over_time", {}).get("buckets", [])
    buckets = tuple(
        HistogramBucket(start=datetime.fromisoformat(b["key_as_string"]) if "key_as_string" in b
                        else datetime.fromtimestamp(b["key"] / 1000, UTC), count=int(b["doc_count"]))
        for b in raw
    )
    return Histogram(interval=interval, since=since, until=until, buckets=buckets)
