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


#: The longest piece of an answer (a reason, a value) quoted in a ``BadAnswerError``: its message stays one line.
QUOTE_LIMIT: Final = 160


class PitExpiredError(Exception):
    """The point in time is gone (closed, or idle longer than its keep-alive)."""


class SnapshotIndexDeletedError(PitExpiredError):
    """An index of the point in time was deleted (retention, an admin) after it opened: the snapshot is gone too."""

    # A PitExpiredError: the pager renews its snapshot (without that index) as on expiry, and an export stops
    # without a file, instead of every later page, count and export of the listing failing with "no such index".

    def __init__(self, index: str) -> None:
        super().__init__(f"index {index} was deleted while its events were read (retention?)")
        self.index = index


class SearchFailedError(TransportError):
    """Elasticsearch answered 200, but the answer reports a failure: an error object, failed shards, a timeout."""

    # A TransportError, so every reader already shows it as one line ("Elasticsearch failed: <reason>") where
    # it shows the client's own errors.


class BadAnswerError(ValueError):
    """An answer of another shape, or one that breaks the listing's promises (order of cursors, exact total)."""

    # A ValueError, one of indexer.errors.ANSWER_ERRORS, so every reader shows it as the one line it gives
    # any answer it cannot read ("the answer of Elasticsearch is not what this command reads (...)").


def quoted(value: object, limit: int = QUOTE_LIMIT) -> str:
    """Return ``value`` on one line for a message: a string as is, anything else as its repr, cut to ``limit``.

    Pass ``repr(value)`` to show a string with its quotes (a total ``"5"`` is not the number 5).

    Args:
        value: a piece of an answer (a reason, a sort value, a total).
        limit: the most characters returned.

    Returns:
        One line of at most ``limit`` characters.
    """
    text = " ".join((value if isinstance(value, str) else repr(value)).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _error_kinds(err: Mapping[str, Any]) -> list[object]:
    """The ``type`` of an error object and of its root causes, whatever their shape (a list is one value here)."""
    causes = err.get("root_cause")
    return [err.get("type"), *(c.get("type") for c in causes if isinstance(c, Mapping))] if isinstance(
        causes, list) else [err.get("type")]


def deleted_index(error: ApiError) -> str | None:
    """Return the index a search inside a point in time names as missing (it was deleted), or ``None``.

    The snapshot names concrete indices, so a 404 ``index_not_found_exception`` there means one of them went.
    """
    body = error.body if isinstance(error.body, Mapping) else {}
    err = body.get("error", {})
    if error.meta.status != 404 or not isinstance(err, Mapping):
        return None
    if not any(kind == "index_not_found_exception" for kind in _error_kinds(err)):
        return None
    name = err.get("index")
    return quoted(name) if isinstance(name, str) and name else "an index"


def is_search_context_missing(error: ApiError) -> bool:
    """Return whether an error means "the point in time expired" (rather than "no such index")."""
    body = error.body if isinstance(error.body, Mapping) else {}
    err = body.get("error", {})
    if not isinstance(err, Mapping):
        return False
    # compared one by one, not put in a set: a hostile "type" may be a list, which is unhashable
    return any(kind == "search_context_missing_exception" for kind in _error_kinds(err))


def _reason(err: object) -> str:
    """Elasticsearch's own reason inside an error or shard failure object (its ``reason``, else its ``type``)."""
    if isinstance(err, Mapping):
        inner = err.get("reason")
        if isinstance(inner, Mapping):  # a shard failure nests the error object under "reason"
            return _reason(inner)
        return quoted(inner or err.get("type") or "no reason given")
    return quoted(err)


def check_answer(response: object) -> dict[str, Any]:
    """Return a search answer's body when it is a complete result; raise when it reports a failure.

    The requests ask for ``allow_partial_search_results=false``, so a real node answers a failure with an
    error status; an answer that is 200 all the same but carries an ``error`` object, failed shards or
    ``timed_out`` is still a failure (a proxy, another product, a node setting): read as a result, it
    would show or export part of the events as if they were all.

    Args:
        response: what ``Elasticsearch.search`` returned (its body is read).

    Returns:
        The body as a dict.

    Raises:
        BadAnswerError: when the body is not a JSON object.
        SearchFailedError: when the body carries an error, or reports failed shards or a timeout.
    """
    body = getattr(response, "body", response)
    if not isinstance(body, Mapping):
        raise BadAnswerError(f"its answer is a {type(body).__name__}, not a JSON object")
    if "error" in body:
        status = body.get("status")
        code = f" ({status})" if type(status) is int else ""
        raise SearchFailedError(f"its answer carries an error{code}: {_reason(body['error'])}")
    shards = body.get("_shards")
    if isinstance(shards, Mapping) and shards.get("failed") not in (None, 0):
        failed = shards.get("failed")
        failures = shards.get("failures")
        first = failures[0] if isinstance(failures, list) and failures else None
        why = f": {_reason(first)}" if first is not None else ""
        raise SearchFailedError(f"{quoted(failed)} of {quoted(shards.get('total'))} shards failed{why}; "
                             "a partial answer is not used")
    if body.get("timed_out") not in (None, False):
        raise SearchFailedError("the search timed out; a partial answer is not used")
    return dict(body)


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
            PitExpiredError: when Elasticsearch no longer knows the point in time, or
                ``SnapshotIndexDeletedError`` when one of its indices was deleted.
            SearchFailedError: when the answer is 200 but reports a failure, failed shards or a timeout.
            BadAnswerError: when the answer is not a JSON object.
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
            gone = deleted_index(exc)
            if gone is not None:
                raise SnapshotIndexDeletedError(gone) from exc
            raise
        body = check_answer(response)
        new_id = body.get("pit_id")
        if isinstance(new_id, str) and new_id:  # anything else is no id: the last good one stays in use
            with self._lock:
                if self._id is not None:
                    self._id = str(new_id)
        return body

    def touch(self) -> None:
        """Extend the keep-alive without fetching events (call it from an idle UI's timer).

        Raises:
            PitExpiredError: when it already expired.
        """
        self.search(size=0, track_total_hits=False, filter_path=["pit_id", "_shards", "timed_out"])

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
