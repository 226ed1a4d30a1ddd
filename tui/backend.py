"""The TUI's data access, outside any widget: one filter -> listing, counts, histogram, export source.

No Textual here (toolong's split): screens call these blocking methods from worker threads and hand
the results to widgets. Everything goes through the query layer (``indexer.query``); the listing's
point in time is shared with the facets, the histogram and the export, so the count on screen, the
facet counts and the exported rows all come from one snapshot. The list's first page is read alone
(``open_listing``) so rows appear as early as possible; facet counts and histogram follow (``counts``).

A snapshot lives ``keep_alive`` after its last use; the screen touches it while open. Should it still
expire (a suspended laptop, a restarted cluster), the pager silently opens a new one and its
``generation`` grows: ``Listing.renewed`` tells, the screen then reloads, and an export of the old
listing is refused (``SnapshotRenewedError``) instead of writing a different set of events.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from elasticsearch import Elasticsearch

from auditlog.core.background import DaemonExecutor, results
from auditlog.indexer.query import EventStream, FacetCounts, Filter, Histogram, Pager, facet_counts, histogram
from auditlog.indexer.query.pit import DEFAULT_KEEP_ALIVE
from auditlog.indexer.tiers import TierTable

LIST_PAGE_SIZE = 100
#: Sparkline width: buckets wanted across the range.
HISTOGRAM_BUCKETS = 60


class SnapshotRenewedError(Exception):
    """The listing's snapshot expired and was replaced: what is on screen is no longer what it reads."""


@dataclass(frozen=True)
class Listing:
    """A filter's snapshot: the pager over its events, their exact total and the snapshot's generation."""

    filter: Filter
    pager: Pager
    total: int
    generation: int = 0

    @property
    def renewed(self) -> bool:
        """Whether the pager replaced the snapshot this listing was counted in (it expired)."""
        return self.pager.generation != self.generation


@dataclass(frozen=True)
class Counts:
    """What the filter panel and the histogram show for a listing (same snapshot)."""

    facets: FacetCounts
    histogram: Histogram | None


class Backend:
    """Reads events of one namespace (all of it, or one retention class for the customer view)."""

    def __init__(self, client: Elasticsearch, tiers: TierTable, *, index: str | None = None,
                 tenant: str | None = None, page_size: int = LIST_PAGE_SIZE,
                 keep_alive: str = DEFAULT_KEEP_ALIVE) -> None:
        """Args:
            client: the Elasticsearch client.
            tiers: the index namespace.
            index: read this pattern instead of ``tiers.read_pattern`` (customer view: one class).
            tenant: force every filter to this tenant (customer view).
            page_size: rows per list page.
            keep_alive: how long a listing's snapshot outlives its last use (Elasticsearch time unit).
        """
        self.client = client
        self.tiers = tiers
        self.index = index or tiers.read_pattern
        self.tenant = tenant
        self.page_size = page_size
        self.keep_alive = keep_alive

    def scoped(self, flt: Filter) -> Filter:
        """Return ``flt`` restricted to the forced tenant, if any."""
        forced = (self.tenant,)
        return flt if self.tenant is None or flt.tenants == forced else flt.with_(tenants=forced)

    def open_listing(self, flt: Filter) -> Listing:
        """Open a snapshot for ``flt`` and read its first page (which gives the exact total).

        Raises:
            elasticsearch.ApiError / elasticsearch.ConnectionError: when the cluster fails.
        """
        flt = self.scoped(flt)
        pager = Pager(self.client, self.tiers, flt, page_size=self.page_size, index=self.index,
                      keep_alive=self.keep_alive)
        try:
            total = pager.total
        except BaseException:
            pager.close()
            raise
        return Listing(flt, pager, total, pager.generation)

    def counts(self, listing: Listing, *, zone: str, now: datetime, with_histogram: bool = True,
               cancel: threading.Event | None = None) -> Counts:
        """Count ``listing``'s events per worker, type and source, and over time, in its snapshot.

        The two requests run concurrently, each in a daemon thread: the list is already on screen, the
        counts follow. A cancelled call returns at once, leaving its requests to end (by answer or
        timeout) in threads nobody waits for, not even the program's exit.

        Args:
            listing: the snapshot to count in.
            zone: the histogram's time zone.
            now: the current time (the histogram's open end).
            with_histogram: also read the histogram.
            cancel: set by the caller when the counts are no longer wanted.

        Returns:
            The facet counts and the histogram (``None`` without ``with_histogram``).

        Raises:
            Cancelled: when ``cancel`` is set before both answers are in.
            elasticsearch.ApiError / elasticsearch.ConnectionError: when the cluster fails.
        """
        pit = listing.pager.snapshot()
        flt = listing.filter
        pool = DaemonExecutor("auditlog-counts")
        calls: list[Future[Any]] = [pool.submit(facet_counts, self.client, self.tiers, flt, pit=pit)]
        if with_histogram:
            calls.append(pool.submit(histogram, self.client, self.tiers, flt, target=HISTOGRAM_BUCKETS,
                                     time_zone=zone, now=now, pit=pit))
        answers = results(calls, cancel)
        return Counts(answers[0], answers[1] if with_histogram else None)

    def export_source(self, listing: Listing, on_renewed: Callable[[], None] | None = None
                      ) -> Callable[[], tuple[Iterable[Mapping[str, Any]], int, Callable[[], None]]]:
        """Return an opener of every event of ``listing``'s snapshot (for the export dialog).

        The opener raises ``SnapshotRenewedError`` (after calling ``on_renewed``) when the snapshot
        expired: the events it would read are no longer the ones counted on screen.
        """
        def opener() -> tuple[Iterable[Mapping[str, Any]], int, Callable[[], None]]:
            listing.pager.touch()  # notices an expired snapshot (generation grows) before reading
            if listing.renewed:
                if on_renewed is not None:
                    on_renewed()
                raise SnapshotRenewedError("the list's snapshot expired and was reloaded; export again")
            stream = EventStream(self.client, self.tiers, listing.filter, pit=listing.pager.snapshot(),
                                 index=self.index)
            return stream, stream.total, stream.close
        return opener

    def ping(self) -> bool:
        """Return whether the cluster answers."""
        try:
            return bool(self.client.ping())
        except Exception:
            return False
