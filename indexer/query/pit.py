"""Point-in-time snapshots: open, search within (refreshing the keep-alive), close.

A point in time (PIT) freezes the set of visible documents, so a listing that is paged with
``search_after`` neither loses nor repeats events while new ones arrive, and it allows the cheap
``_shard_doc`` tiebreaker. Elasticsearch extends a PIT's life by ``keep_alive`` on every search that
uses it; ``PointInTime.touch`` does that without fetching anything, for an idle UI. The id may change
between responses, so the most recent one is always used.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Final

from elasticsearch import ApiError, Elasticsearch, TransportError

#: How long a snapshot lives after its last use, unless a caller asks otherwise.
DEFAULT_KEEP_ALIVE: Final = "5m"


class PitExpiredError(Exception):
    """The point in time is gone (closed, or idle longer than its keep-alive)."""


def is_search_context_missing(error: ApiError) -> bool:
    """Return whether an error means "the point in time expired" (rather than "no such index")."""
    body = error.body if isinstance(error.body, Mapping) else {}
    err = body.get("error", {})
    if not isinstance(err, Mapping):
        return False
    kinds = {err.get("type")} | {c.get("type") for c in err.get("root_cause", []) if isinstance(c, Mapping)}
    return "search_context_missing_exception" in kinds


class PointInTime:
    """One open point in time over an index pattern; usable as a context manager."""

    def __init__(self, client: Elasticsearch, index: str, *, keep_alive: str = DEFAULT_KEEP_ALIVE) -> None:
        """Open a point in time.

        Args:
            client: the Elasticsearch client.
            index: index name or pattern (a pattern that matches nothing gives an empty snapshot).
            keep_alive: how long the snapshot lives after each use (Elasticsearch time unit, e.g. ``5m``).

        Raises:
            elasticsearch.ApiError / elasticsearch.ConnectionError: when the cluster refuses or is unreachable.
        """
        self.client = client
        self.index = index
        self.keep_alive = keep_alive
        self._lock = threading.Lock()
        response = client.open_point_in_time(index=index, keep_alive=keep_alive, allow_partial_search_results=False)
        self._id: str | None = str(response["id"])

    @property
    def id(self) -> str:
        """The most recent PIT id.

        Raises:
            PitExpiredError: when the point in time was closed.
        """
        if self._id is None:
            raise PitExpiredError("point in time is closed")
        return self._id

    @property
    def closed(self) -> bool:
        """Whether ``close`` was called."""
        return self._id is None

    def search(self, **body: Any) -> dict[str, Any]:
        """Run a search inside the snapshot (no ``index``: the PIT names it) and refresh its keep-alive.

        Args:
            **body: keyword arguments of ``Elasticsearch.search`` (query, sort, size, aggs, ...).

        Returns:
            The response body as a dict.

        Raises:
            PitExpiredError: when Elasticsearch no longer knows the point in time.
        """
        # Never partial results: when some shards' contexts are gone (a node restarted, the snapshot closed while
        # it is read), Elasticsearch would otherwise answer 200 with the other shards' hits, and an export ended
        # as if it were complete (seen: 31 of 600 events written, exit 0). Shards skipped as unable to match
        # are not failures.
        body.setdefault("allow_partial_search_results", False)
        try:
            response = self.client.search(pit={"id": self.id, "keep_alive": self.keep_alive}, **body)
        except ApiError as exc:
            if is_search_context_missing(exc):
                raise PitExpiredError(f"point in time expired (keep_alive {self.keep_alive})") from exc
            raise
        new_id = response.get("pit_id")
        if new_id:
            with self._lock:
                if self._id is not None:
                    self._id = str(new_id)
        return dict(response)

    def touch(self) -> None:
        """Extend the keep-alive without fetching events (call it from an idle UI's timer).

        Raises:
            PitExpiredError: when it already expired.
        """
        self.search(size=0, track_total_hits=False, filter_path=["pit_id"])

    def close(self, timeout: float | None = None) -> None:
        """Release the snapshot on the cluster; closing twice, after expiry or with the cluster down is harmless.

        A snapshot that cannot be closed expires by itself after ``keep_alive``, so a failure here is
        not worth masking the caller's own error (``close`` runs in ``finally`` / ``__exit__``).

        Args:
            timeout: seconds the request may take (``None``: the client's own timeout), for a caller on its way out.
        """
        with self._lock:
            pit_id, self._id = self._id, None
        if pit_id is None:
            return
        with contextlib.suppress(ApiError, TransportError):
            client = self.client.options(ignore_status=404)
            if timeout is not None:
                client = client.options(request_timeout=timeout)
            client.close_point_in_time(id=pit_id)

    def __enter__(self) -> PointInTime:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
