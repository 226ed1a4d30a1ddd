"""Stream every event of a filter for export: point in time + ``search_after``, bounded memory.

The stream reads one snapshot in the listing's stable order (newest first), one batch at a time (the
next one is fetched in a background thread while this one is consumed), so memory stays at two
batches however many events match, and the number of events yielded equals
``total`` (the exact count of the same snapshot). Pass the TUI's own ``PointInTime`` to export exactly
the snapshot on screen; otherwise the stream opens (and closes) its own.

A consumer that stops early (Ctrl-C, SIGTERM, a full disk) does not wait for the request ahead: it runs in
a daemon thread (:class:`~auditlog.core.background.DaemonExecutor`) and its answer is dropped, and the
stream's own snapshot is closed at once with a short timeout (a hung node must not hold the exit twice; a
snapshot that cannot be closed expires after its keep-alive). Waiting for the request used to hold a
stopped export for up to the client's request timeout.

The answers are not trusted to keep those promises (``fetch_after`` checks each one): every cursor must
come strictly after the one before, so a repeated page or hit fails instead of looping or duplicating
rows, and the stream fails when the events outnumber ``total`` or, at the end, fall short of it. A
consumer that writes a file therefore never finishes one with a wrong row count.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future
from types import TracebackType
from typing import Any

from elasticsearch import Elasticsearch

from auditlog.core.background import DaemonExecutor
from auditlog.indexer.query.dsl import build_query
from auditlog.indexer.query.filter import Filter
from auditlog.indexer.query.hits import MAX_BATCH, Batch, event_source, fetch_after
from auditlog.indexer.query.pit import DEFAULT_KEEP_ALIVE, BadAnswerError, PointInTime
from auditlog.indexer.tiers import TierTable

DEFAULT_BATCH_SIZE = 2_000
#: seconds the close of an abandoned stream's own snapshot may take (it expires by itself otherwise)
ABANDON_CLOSE_TIMEOUT = 2.0


class EventStream:
    """The events of one filter, iterable once, with their exact ``total`` known before the first yield."""

    def __init__(
        self,
        client: Elasticsearch,
        tiers: TierTable,
        flt: Filter,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        keep_alive: str = DEFAULT_KEEP_ALIVE,
        pit: PointInTime | None = None,
        index: str | None = None,
    ) -> None:
        """Open the snapshot and fetch the first batch (so ``total`` is known at once).

        Args:
            client: the Elasticsearch client.
            tiers: the index namespace (its ``read_pattern`` is read).
            flt: what to export.
            batch_size: events per request, 1 to 10,000.
            keep_alive: how long the snapshot survives between two batches.
            pit: an open snapshot to read (not closed by the stream); ``None`` opens one.
            index: read this index or pattern instead of ``tiers.read_pattern`` (ignored with ``pit``).

        Raises:
            ValueError: on a batch size out of range.
            elasticsearch.ApiError / elasticsearch.ConnectionError: when the cluster fails.
            SearchFailedError: when the first answer reports a failure.
            BadAnswerError: when the first answer has no exact total or its hits cannot be read on from.
        """
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be 1..{MAX_BATCH}: {batch_size}")
        self.batch_size = batch_size
        self._query = build_query(flt)
        self._owns_pit = pit is None
        self._pit = pit or PointInTime(client, index or tiers.read_pattern, keep_alive=keep_alive)
        try:
            self._first: Batch | None = fetch_after(self._pit, self._query, size=batch_size, after=None,
                                                    track_total=True)
        except BaseException:
            self.close()
            raise
        if self._first.total is None:  # fetch_after raises first; this keeps the promise visible to mypy
            self.close()
            raise BadAnswerError("its answer has no exact hits.total")
        self.total: int = self._first.total

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """Yield each event's contract JSON (``event.id`` always set), newest first; closes at the end.

        Raises:
            PitExpiredError: when the snapshot expired between two batches (the consumer paused longer
                than ``keep_alive``, or a shared snapshot was renewed); nothing is silently skipped.
            SearchFailedError: when an answer reports a failure.
            BadAnswerError: when an answer is out of order, or the events outnumber ``total`` or end short of
                it; the events of a batch that would pass ``total`` are not yielded.
            RuntimeError: when iterated a second time.
        """
        batch, self._first = self._first, None
        if batch is None:
            raise RuntimeError("an EventStream can be iterated only once")
        # The next batch is asked for while this one is consumed: the cluster prepares it and the
        # response arrives (the thread waits with the GIL released) while the consumer renders rows.
        ahead = DaemonExecutor("export-fetch")
        finished = False
        rows = 0
        try:
            while True:
                # a bound of its own, besides the cursor's order: an answer that keeps serving new hits ends here
                if rows + len(batch.hits) > self.total:
                    raise BadAnswerError(f"it serves more than the {self.total:,} events its snapshot counts")
                rows += len(batch.hits)
                full = len(batch.hits) == self.batch_size
                following: Future[Batch] | None = None
                if full:
                    following = ahead.submit(fetch_after, self._pit, self._query, size=self.batch_size,
                                             after=batch.hits[-1]["sort"])
                for raw in batch.hits:
                    yield event_source(raw)
                if following is None:
                    if rows != self.total:
                        raise BadAnswerError(f"it served {rows:,} of the {self.total:,} events its snapshot "
                                             "counts; the listing ended early")
                    finished = True
                    return
                batch = following.result()
        finally:
            ahead.shutdown(wait=False)  # a request still running is abandoned: nobody wants its answer
            self.close(timeout=None if finished else ABANDON_CLOSE_TIMEOUT)

    def close(self, timeout: float | None = None) -> None:
        """Release the snapshot if the stream opened it (safe to call twice).

        Args:
            timeout: seconds the request may take (``None``: the client's own timeout).
        """
        if self._owns_pit:
            self._pit.close(timeout=timeout)

    def __enter__(self) -> EventStream:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def stream_events(client: Elasticsearch, tiers: TierTable, flt: Filter, **options: Any) -> Iterator[dict[str, Any]]:
    """Yield every event matching ``flt`` (see ``EventStream``; ``options`` are its keyword arguments)."""
    yield from EventStream(client, tiers, flt, **options)
