"""The wait for searchable documents: index statistics while the shipper writes, one refresh and count at the end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from auditlog.indexer.tiers import TierTable
from bench.ingest import RunFailed, wait_searchable


class FakeCluster:
    """Answers ``indexed`` and ``searchable`` from scripted sequences, recording the calls in order."""

    def __init__(self, indexed: list[int], searchable: list[int]) -> None:
        self._indexed: Iterator[int] = iter(indexed)
        self._searchable: Iterator[int] = iter(searchable)
        self.calls: list[str] = []

    def indexed(self, tiers: TierTable) -> int:
        self.calls.append("indexed")
        return next(self._indexed)

    def searchable(self, tiers: TierTable) -> int:
        self.calls.append("searchable")
        return next(self._searchable)


def test_no_refresh_or_count_runs_before_the_statistics_reach_the_expected_count() -> None:
    """While the shipper writes only index statistics are read; the refreshing count comes once they are complete."""
    cluster = FakeCluster(indexed=[0, 40, 100], searchable=[100])
    wait_searchable(cluster, TierTable(prefix="x-audit"), 100, poll_s=0)  # type: ignore[arg-type]
    assert cluster.calls == ["indexed", "indexed", "indexed", "searchable"]


def test_counting_goes_on_until_every_document_is_searchable() -> None:
    """Statistics that overshoot (a document indexed twice) hand over to the count, which must be exact."""
    cluster = FakeCluster(indexed=[120], searchable=[90, 100])
    wait_searchable(cluster, TierTable(prefix="x-audit"), 100, poll_s=0)  # type: ignore[arg-type]
    assert cluster.calls == ["indexed", "searchable", "searchable"]


def test_more_searchable_documents_than_lines_fail_the_run() -> None:
    """A count above the number of lines is a duplicate, whatever the statistics said."""
    cluster = FakeCluster(indexed=[100], searchable=[101])
    with pytest.raises(RunFailed, match="duplicates"):
        wait_searchable(cluster, TierTable(prefix="x-audit"), 100, poll_s=0)  # type: ignore[arg-type]


def test_statistics_that_stop_growing_fail_the_run() -> None:
    """A shipper that stops short is reported as stalled while the statistics are read."""
    cluster = FakeCluster(indexed=[5] * 10, searchable=[])
    with pytest.raises(RunFailed, match="stalled at 5/100"):
        wait_searchable(cluster, TierTable(prefix="x-audit"), 100, poll_s=0, stall_s=0)  # type: ignore[arg-type]
