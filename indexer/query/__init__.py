"""The query layer: what every reader of audit events (TUI, export, ``auditlog show``) calls.

No UI and no Textual here. One ``Filter`` drives the list (``Pager``), the facet counts and total
(``facet_counts``), the histogram (``histogram``) and the export (``EventStream``), so the numbers on
screen and in the file agree. Share the pager's snapshot (``Pager.snapshot()``) with the others to
make them agree exactly while events keep arriving.
"""

from __future__ import annotations

from auditlog.indexer.query.dsl import SORT, build_query, filter_clauses
from auditlog.indexer.query.events import get_event
from auditlog.indexer.query.facets import Facet, FacetBucket, FacetCounts, facet_counts
from auditlog.indexer.query.filter import Filter, tenants_in, values_problem
from auditlog.indexer.query.histogram import Histogram, HistogramBucket, Interval, choose_interval, histogram
from auditlog.indexer.query.hits import Hit
from auditlog.indexer.query.pager import Page, Pager
from auditlog.indexer.query.pit import PitExpiredError, PointInTime
from auditlog.indexer.query.stream import EventStream, stream_events
from auditlog.indexer.query.timespec import TimeSpec, parse_time

__all__ = [
    "SORT",
    "EventStream",
    "Facet",
    "FacetBucket",
    "FacetCounts",
    "Filter",
    "Histogram",
    "HistogramBucket",
    "Hit",
    "Interval",
    "Page",
    "Pager",
    "PitExpiredError",
    "PointInTime",
    "TimeSpec",
    "build_query",
    "choose_interval",
    "facet_counts",
    "filter_clauses",
    "get_event",
    "histogram",
    "parse_time",
    "stream_events",
    "tenants_in",
    "values_problem",
]
