"""Unit tests of the pager's cursor walking against a fake client (real-node proofs: tests/integration)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from auditlog.core.background import Cancelled
from auditlog.indexer.query.filter import Filter
from auditlog.indexer.query.pager import Pager
from auditlog.indexer.tiers import TierTable
from tests.indexer.query.fakes import FakeClient
from tests.support.paging import all_pages

TIERS = TierTable(prefix="fake")


def _pager(client: FakeClient, page_size: int) -> Pager:
    return Pager(client, TIERS, Filter(), page_size=page_size)  # type: ignore[arg-type]


@pytest.mark.parametrize(("count", "page_size"), [(0, 10), (1, 10), (10, 10), (11, 10), (95, 7), (1000, 1)])
def test_walking_all_pages_yields_each_doc_once_in_order(count: int, page_size: int) -> None:
    """Forward paging returns every document exactly once, in the stable order."""
    client = FakeClient(count)
    with _pager(client, page_size) as pager:
        ids = [hit.id for page in all_pages(pager) for hit in page.hits]
    assert [f"e{i}" for i in range(count)] == ids


def test_jumping_to_a_page_returns_the_same_hits_as_walking() -> None:
    """Page N fetched directly equals page N reached by walking."""
    walked = [[h.id for h in p.hits] for p in all_pages(_pager(FakeClient(500), 13))]
    pager = _pager(FakeClient(500), 13)
    for number in (30, 5, 38, 0, 37):
        assert walked[number] == [h.id for h in pager.page(number).hits]


def test_jump_skips_without_sources_in_whole_page_steps() -> None:
    """A far jump fetches only sort values, in batches that are whole pages."""
    client = FakeClient(30_000)
    pager = _pager(client, 300)
    page = pager.page(90)
    assert [page.hits[0].id] == ["e27000"]
    skips = [s for s in client.searches if s.get("source") is False]
    assert skips, "expected source-less skip requests"
    assert all(s["size"] % 300 == 0 and s["size"] <= 10_000 for s in skips)


def test_page_past_the_end_is_empty_and_last() -> None:
    """Asking beyond the total returns an empty page without an error."""
    pager = _pager(FakeClient(25), 10)
    assert 3 == len(all_pages(pager))
    page = pager.page(7)
    assert page.hits == ()
    assert page.is_last


def test_rows_span_page_boundaries() -> None:
    """rows(start, stop) stitches pages together for a virtual list."""
    pager = _pager(FakeClient(100), 10)
    assert [f"e{i}" for i in range(17, 33)] == [h.id for h in pager.rows(17, 33)]
    assert [f"e{i}" for i in range(95, 100)] == [h.id for h in pager.rows(95, 140)]


def test_total_is_asked_once() -> None:
    """track_total_hits is only requested until the total is known."""
    client = FakeClient(100)
    pager = _pager(client, 10)
    all_pages(pager)
    assert [s["track_total_hits"] for s in client.searches] == [True] + [False] * 9


def test_expired_snapshot_is_renewed_and_generation_grows() -> None:
    """When the PIT expired the pager opens a new one, starts its cursors over and bumps the generation."""
    client = FakeClient(100)
    pager = _pager(client, 10)
    assert pager.page(3).generation == 0
    client.expire_next = True
    page = pager.page(5)
    assert page.generation == 1
    assert [f"e{i}" for i in range(50, 60)] == [h.id for h in page.hits]
    assert client.opened == 2


def test_close_releases_the_snapshot() -> None:
    """close() closes the point in time on the cluster."""
    client = FakeClient(10)
    pager = _pager(client, 5)
    pager.page(0)
    pager.close()
    assert set() == client.open_pits


def test_event_id_is_filled_from_the_document_id() -> None:
    """A source without event.id gets it from _id (the contract's _id = event.id)."""
    page = _pager(FakeClient(3), 5).page(0)
    assert page.hits[1].source["event"]["id"] == "e1"


def test_bad_page_size_is_rejected() -> None:
    """Page sizes outside 1..10,000 are refused at construction."""
    with pytest.raises(ValueError):
        _pager(FakeClient(1), 0)
    with pytest.raises(ValueError):
        _pager(FakeClient(1), 10_001)


class _CancelsAfterFirstSearch(FakeClient):
    """A fake cluster whose first search also sets a cancel flag (the user moved on meanwhile)."""

    def __init__(self, count: int, flag: threading.Event) -> None:
        super().__init__(count)
        self.flag = flag

    def search(self, **kwargs: Any) -> dict[str, Any]:
        self.flag.set()
        return super().search(**kwargs)


def test_a_cancelled_walk_stops_at_its_next_request() -> None:
    """A far jump whose cancel flag is set during the first step raises Cancelled without sending a second request."""
    flag = threading.Event()
    client = _CancelsAfterFirstSearch(30_000, flag)
    pager = _pager(client, 100)
    with pytest.raises(Cancelled):
        pager.rows(25_000, 25_100, cancel=flag)
    assert len(client.searches) == 1


def test_a_walk_after_a_cancelled_one_reads_the_right_rows() -> None:
    """The boundaries a cancelled walk recorded stay valid: the next read without cancel finds the right rows."""
    flag = threading.Event()
    pager = _pager(_CancelsAfterFirstSearch(30_000, flag), 100)
    with pytest.raises(Cancelled):
        pager.rows(25_000, 25_003, cancel=flag)
    assert ["e25000", "e25001", "e25002"] == [h.id for h in pager.rows(25_000, 25_003)]


def test_an_odd_hit_at_a_page_boundary_of_a_jump_is_one_bad_answer() -> None:
    """A jump whose source-less walk meets a hit that is no object where a page starts says so (no TypeError)."""
    from auditlog.indexer.query.pit import BadAnswerError

    client = FakeClient(100)

    def odd_boundary(body: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
        if body.get("source") is False:
            answer["hits"]["hits"][9] = "not a hit"
        return answer

    client.tamper = odd_boundary
    with pytest.raises(BadAnswerError, match="hit 10 of a page walk"):
        _pager(client, 10).page(5)


def test_failed_shards_in_a_source_less_walk_are_seen() -> None:
    """The walk's filter_path keeps _shards and timed_out, so failed shards in a jump fail it as in a page read."""
    client = FakeClient(100)
    pager = _pager(client, 10)
    pager.page(5)
    walks = [s for s in client.searches if s.get("source") is False]
    assert walks and all({"_shards", "timed_out"} <= set(s["filter_path"]) for s in walks)
