"""Page through the events of a filter to any depth: point in time + ``search_after``, page N on demand.

Order: ``@timestamp`` descending, then ``_shard_doc`` (the point in time's tiebreaker), so events with
the same timestamp keep one fixed order and a page boundary never loses or repeats one. ``from`` is
never used: page N is reached by walking the cursors forward.

Memory is bounded: the pager keeps one cursor (a few sort values) per page it has passed and a small
LRU of recently fetched pages; the caller (a virtual list in the TUI) keeps only what it shows.
Jumping far ahead (page 5,000 of 100 rows) walks the cursors with source-less requests of up to
10,000 hits each, recording every page boundary on the way, so later jumps back are direct.

When the snapshot expires (the UI sat idle longer than ``keep_alive``) the pager opens a new one,
forgets its cursors and increments ``generation``; the result set may then differ (new events), so a
UI should compare ``Page.generation`` with what it shows and reload. ``touch()`` keeps an idle
snapshot alive instead.

Thread-safety: every public method holds one lock, so a UI may call it from worker threads.

Cancelling: ``page`` and ``rows`` take a cancel flag (``threading.Event``), checked before each request of
the walk, so a read nobody waits for any more stops at its next step (``Cancelled``) instead of walking on
to its end; the cursors recorded so far are kept for the next read.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from types import TracebackType

from elasticsearch import Elasticsearch

from auditlog.core.background import check
from auditlog.core.cache import BoundedCache
from auditlog.indexer.query.dsl import build_query
from auditlog.indexer.query.filter import Filter
from auditlog.indexer.query.hits import MAX_BATCH, Batch, Cursor, Hit, fetch_after
from auditlog.indexer.query.pit import DEFAULT_KEEP_ALIVE, BadAnswerError, PitExpiredError, PointInTime
from auditlog.indexer.tiers import TierTable

DEFAULT_PAGE_SIZE = 100


@dataclass(frozen=True)
class Page:
    """One page of a listing: its number (from 0), its hits and the listing's exact total."""

    number: int
    hits: tuple[Hit, ...]
    total: int
    page_size: int
    generation: int

    @property
    def offset(self) -> int:
        """Row index of the page's first hit within the listing."""
        return self.number * self.page_size

    @property
    def is_last(self) -> bool:
        """Whether no page follows this one."""
        return self.offset + len(self.hits) >= self.total


class Pager:
    """A snapshot of one filter's events, read page by page (see the module docs)."""

    def __init__(
        self,
        client: Elasticsearch,
        tiers: TierTable,
        flt: Filter,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        keep_alive: str = DEFAULT_KEEP_ALIVE,
        cached_pages: int = 8,
        index: str | None = None,
    ) -> None:
        """Prepare a pager; the point in time is opened by the first request, not here.

        Args:
            client: the Elasticsearch client.
            tiers: the index namespace (its ``read_pattern`` is searched).
            flt: what to list.
            page_size: hits per page, 1 to 10,000.
            keep_alive: how long the snapshot survives without a request.
            cached_pages: how many recent pages to keep for scrolling back and forth.
            index: search this index or pattern instead of ``tiers.read_pattern``
                (e.g. one retention class for the customer view).

        Raises:
            ValueError: on a page size out of range.
        """
        if not 1 <= page_size <= MAX_BATCH:
            raise ValueError(f"page_size must be 1..{MAX_BATCH}: {page_size}")
        self.client = client
        self.filter = flt
        self.index = index or tiers.read_pattern
        self.page_size = page_size
        self.keep_alive = keep_alive
        self._query = build_query(flt)
        self._cached_pages = max(cached_pages, 0)
        self._lock = threading.RLock()
        self._pit: PointInTime | None = None
        self._generation = 0
        self._reset()

    def _reset(self) -> None:
        #: _cursors[n] is the search_after of page n (None for the first page).
        self._cursors: list[Cursor | None] = [None]
        self._total: int | None = None
        self._cache: BoundedCache[int, Page] | None = BoundedCache(self._cached_pages) if self._cached_pages else None

    # -- snapshot -----------------------------------------------------------------------------

    def _snapshot(self) -> PointInTime:
        if self._pit is None:
            self._pit = PointInTime(self.client, self.index, keep_alive=self.keep_alive)
        return self._pit

    def _renew(self) -> None:
        if self._pit is not None:
            self._pit.close()
        self._pit = None
        self._generation += 1
        self._reset()

    def _fetch(self, after: Cursor | None, size: int, *, with_source: bool) -> Batch:
        batch = fetch_after(
            self._snapshot(),
            self._query,
            size=size,
            after=after,
            with_source=with_source,
            track_total=self._total is None,
        )
        if batch.total is not None:
            self._total = batch.total
        return batch

    # -- public API ---------------------------------------------------------------------------

    def snapshot(self) -> PointInTime:
        """Return the pager's open point in time (opening it if needed), to share with facets/histogram/export.

        The snapshot is replaced when it expires (``generation`` grows) or the pager is closed; a
        consumer holding the old one then gets ``PitExpiredError`` and should ask again.
        """
        with self._lock:
            return self._snapshot()

    @property
    def generation(self) -> int:
        """How many times the snapshot was renewed after expiring (0 for the first one)."""
        return self._generation

    @property
    def total(self) -> int:
        """The exact number of events in the snapshot (fetches the first page if needed)."""
        with self._lock:
            if self._total is None:
                self.page(0)
            assert self._total is not None
            return self._total

    def page(self, number: int, cancel: threading.Event | None = None) -> Page:
        """Return page ``number`` (from 0); a page past the end is empty.

        Args:
            number: the page, 0 = newest events.
            cancel: set by the caller when the page is no longer wanted (checked before each request).

        Returns:
            The page.

        Raises:
            ValueError: on a negative number.
            Cancelled: when ``cancel`` is set before the page is read.
            elasticsearch.ApiError / elasticsearch.ConnectionError: when the cluster fails.
        """
        if number < 0:
            raise ValueError(f"page number must be >= 0: {number}")
        with self._lock:
            try:
                return self._page(number, cancel)
            except PitExpiredError:
                self._renew()
                return self._page(number, cancel)

    def _page(self, number: int, cancel: threading.Event | None = None) -> Page:
        cache = self._cache
        if cache is not None and (cached := cache.get(number)) is not None:
            return cache.put(number, cached)  # stored again: the page scrolled back to stays longest
        if self._total is not None and number * self.page_size >= self._total:
            return self._make_page(number, [])
        found, after = self._cursor_for(number, cancel)
        if not found:
            return self._make_page(number, [])
        check(cancel)
        batch = self._fetch(after, self.page_size, with_source=True)
        hits = [Hit.from_raw(raw) for raw in batch.hits]
        if len(hits) == self.page_size and len(self._cursors) == number + 1:
            self._cursors.append(hits[-1].sort)
        page = self._make_page(number, hits)
        if cache is not None:
            cache.put(number, page)
        return page

    def _make_page(self, number: int, hits: list[Hit]) -> Page:
        return Page(
            number=number,
            hits=tuple(hits),
            total=self._total if self._total is not None else len(hits),
            page_size=self.page_size,
            generation=self._generation,
        )

    def _cursor_for(self, number: int, cancel: threading.Event | None = None) -> tuple[bool, Cursor | None]:
        """Walk forward from the last known page boundary; ``(False, None)`` when ``number`` is past the end."""
        # Steps are whole pages, so every step starts exactly at a recorded boundary.
        step = (MAX_BATCH // self.page_size) * self.page_size
        while len(self._cursors) <= number:
            check(cancel)  # between steps: the boundaries recorded so far stay valid for the next walk
            known = len(self._cursors) - 1
            size = min((number - known) * self.page_size, step)
            batch = self._fetch(self._cursors[known], size, with_source=False)
            for count, raw in enumerate(batch.hits, start=1):
                if count % self.page_size == 0:
                    sort = raw.get("sort") if isinstance(raw, dict) else None
                    if sort is None:  # an odd hit is a marked row on a page, but no page can start after it
                        raise BadAnswerError(f"hit {count:,} of a page walk is no hit with sort values")
                    self._cursors.append(sort)
            if len(batch.hits) < size:
                break
        if len(self._cursors) <= number:
            return False, None
        return True, self._cursors[number]

    def rows(self, start: int, stop: int, cancel: threading.Event | None = None) -> list[Hit]:
        """Return the hits at row indices ``start`` (inclusive) to ``stop`` (exclusive), for a virtual list.

        Args:
            start: first row, from 0 (newest event).
            stop: one past the last row; clipped to the total.
            cancel: set by the caller when the rows are no longer wanted (checked before each request).

        Returns:
            The hits, fewer when the listing ends first.

        Raises:
            Cancelled: when ``cancel`` is set before all rows are read.
        """
        if start < 0 or stop < start:
            raise ValueError(f"bad row range {start}..{stop}")
        out: list[Hit] = []
        with self._lock:
            for number in range(start // self.page_size, -(-stop // self.page_size)):
                page = self.page(number, cancel)
                lo = max(start - page.offset, 0)
                hi = min(stop - page.offset, len(page.hits))
                out.extend(page.hits[lo:hi])
                if page.is_last:
                    break
        return out

    def touch(self) -> None:
        """Keep the snapshot alive while the UI is idle (no-op before the first request or after expiry)."""
        with self._lock:
            if self._pit is None:
                return
            try:
                self._pit.touch()
            except PitExpiredError:
                self._renew()

    def close(self) -> None:
        """Release the snapshot; the pager can be used again afterwards (it opens a new one)."""
        with self._lock:
            if self._pit is not None:
                self._pit.close()
                self._pit = None
                self._generation += 1
                self._reset()

    def __enter__(self) -> Pager:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
