"""The query layer: what every reader of audit events (TUI, export, ``auditlog show``) calls.

No UI and no Textual here. One ``Filter`` drives the list (``Pager``), the facet counts and total
(``facet_counts``), the histogram (``histogram``) and the export (``EventStream``), so the numbers on
screen and in the file agree. Share the pager's snapshot (``Pager.snapshot()``) with the others to
make them agree exactly while events keep arriving.
"""

from __future__ import annotations

from indexer.query.args import TimeSpec, add_filter_args, filter_from_args, parse_time
from indexer.query.dsl import SORT, build_query, filter_clauses
from indexer.query.events import get_event
from indexer.query.facets import Facet, FacetBucket, FacetCounts, facet_counts
from indexer.query.filter import Filter
from indexer.query.histogram import Histogram, HistogramBucket, Interval, choose_interval, histogram
from indexer.query.hits import Hit
from indexer.query.pager import Page, Pager
from indexer.query.pit import PitExpiredError, PointInTime
from indexer.query.stream import EventStream, stream_events

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
    "add_filter_args",
    "build_query",
    "choose_interval",
    "facet_counts",
    "filter_clauses",
    "filter_from_args",
    "get_event",
    "histogram",
    "parse_time",
    "stream_events",
]
