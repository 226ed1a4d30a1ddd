"""Raw search responses: each hit's _source exactly as Elasticsearch sent it; paging that provably ends."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest
from elasticsearch import Elasticsearch

from auditlog.indexer.rawsource import (
    Stamp,
    mend_escapes,
    raw_client_options,
    read_stamp,
    scan,
    scan_sources,
    source_spans,
)
from tests.indexer.recording_es import Request, recording_client

#: searches a fake node answers before it gives in with an empty page (a reader that never stops fails, not hangs)
_GIVE_IN = 50
#: a stored event whose message holds an escaped lone surrogate, which Elasticsearch accepts
_LONE = b'{"@timestamp":"2026-01-01T00:00:00Z","message":"\\ud800lone","audit":{"stream":"s1","seq":7}}'


def _hit(n: int, source: bytes = b'{"n":1}', sort: bytes | None = None) -> bytes:
    tail = b',"sort":[%d]' % n if sort is None else sort
    return b'{"_index":"i","_id":"%d","_score":null,"_source":%s%s}' % (n, source, tail)


def _page(*hits: bytes, total: bytes = b'{"value":1000000,"relation":"eq"}') -> bytes:
    return b'{"pit_id":"p","hits":{"total":%s,"hits":[%s]}}' % (total, b",".join(hits))


def _node(answer: Callable[[int], bytes]) -> tuple[Elasticsearch, list[Request]]:
    """A raw client over a fake node whose n-th search (from 0) gets ``answer(n)``."""
    searches: list[int] = []

    def respond(method: str, path: str, _body: Any) -> tuple[int, Any]:
        if path.endswith("/_pit"):
            return 200, {"id": "p"} if method == "POST" else {"succeeded": True, "num_freed": 1}
        searches.append(len(searches))
        return 200, answer(len(searches) - 1) if len(searches) <= _GIVE_IN else _page()

    return recording_client(respond, **raw_client_options())


def _searches(log: list[Request]) -> list[Request]:
    return [r for r in log if r.path.startswith("/_search")]


READERS: dict[str, Callable[[Elasticsearch], list[list[bytes]]]] = {
    "scan_sources": lambda c: [[bytes(h._source) for h in p] for p in scan_sources(c, "i", {"match_all": {}})],
    "two-slices": lambda c: [[bytes(h._source) for h in p] for p in scan_sources(c, "i", {"match_all": {}}, slices=2)],
    "scan": lambda c: [[bytes(s or b"") for s in spans] for _h, spans in scan(c, "i", {"match_all": {}})],
}


def test_source_spans_are_the_stored_bytes() -> None:
    """Each hit's span is its _source exactly as Elasticsearch sent it, spacing and escapes included."""
    first, second = b'{"a":  1.50, "b":"\\u00e9", "c":{"sort":[1]}}', b'{"sort":[2],"_source":{}}'
    raw = (b'{"hits":{"hits":[{"_index":"i","_id":"1","_score":null,"_source":' + first + b',"sort":[0]},'
           b'{"_index":"i","_id":"2","_score":null,"_source":' + second + b',"sort":[1]}]}}')
    hits = orjson.loads(raw)["hits"]["hits"]
    assert [bytes(s) if s is not None else None for s in source_spans(raw, hits)] == [first, second]


@pytest.mark.parametrize("read", READERS.values(), ids=READERS.keys())
def test_a_page_answered_again_and_again_ends_in_one_error(read: Callable[[Elasticsearch], Any]) -> None:
    """A node that answers every search with the same page (search_after ignored) ends the scan with an error."""
    client, log = _node(lambda _n: _page(_hit(1), _hit(2)))
    with pytest.raises(ValueError, match="did not advance"):
        read(client)
    assert len(_searches(log)) <= 4  # two slices: each reads its first page twice


@pytest.mark.parametrize("read", READERS.values(), ids=READERS.keys())
def test_hits_without_sort_values_end_in_one_error(read: Callable[[Elasticsearch], Any]) -> None:
    """A page whose last hit has no sort values (the cursor would start over) ends the scan with an error."""
    client, _log = _node(lambda _n: _page(_hit(1, sort=b"")))
    with pytest.raises(ValueError, match="without sort values"):
        read(client)


@pytest.mark.parametrize("read", READERS.values(), ids=READERS.keys())
def test_a_cursor_moving_backwards_ends_in_one_error(read: Callable[[Elasticsearch], Any]) -> None:
    """A page that ends before the page ahead of it in _shard_doc order ends the scan with an error."""
    client, _log = _node(lambda n: _page(_hit(10 - n)))
    with pytest.raises(ValueError, match="did not advance"):
        read(client)


@pytest.mark.parametrize("read", READERS.values(), ids=READERS.keys())
def test_more_hits_than_the_point_in_time_counted_end_in_one_error(read: Callable[[Elasticsearch], Any]) -> None:
    """Pages that keep advancing past the first page's exact total end the scan with an error."""
    client, log = _node(lambda n: _page(_hit(2 * n), _hit(2 * n + 1), total=b'{"value":5,"relation":"eq"}'))
    with pytest.raises(ValueError, match="goes past the 5 hits"):
        read(client)
    assert len(_searches(log)) <= 6


@pytest.mark.parametrize("read", READERS.values(), ids=READERS.keys())
def test_a_page_cut_short_by_a_search_timeout_ends_in_one_error(read: Callable[[Elasticsearch], Any]) -> None:
    """A page answered with ``timed_out`` (a cluster's search timeout) may hold fewer hits than stored: an error,
    never a scan that ends early or reads the missing events as deleted."""
    client, _log = _node(lambda n: _page(_hit(n)).replace(b'{"pit_id"', b'{"timed_out":true,"pit_id"'))
    with pytest.raises(ValueError, match="timed out"):
        read(client)


@pytest.mark.parametrize("total", [b"null", b'{"value":5,"relation":"gte"}', b'{"value":"5","relation":"eq"}'],
                         ids=["missing", "lower-bound", "text"])
def test_a_first_page_without_an_exact_total_ends_in_one_error(total: bytes) -> None:
    """A first page that does not count the point in time exactly gives nothing to bound the paging: an error."""
    client, _log = _node(lambda n: _page(_hit(n), total=total))
    with pytest.raises(ValueError, match=r"exact hits\.total"):
        READERS["scan_sources"](client)


def test_only_the_first_page_counts_the_point_in_time() -> None:
    """The first page asks for the exact total and the later ones do not (counting again costs, tells nothing)."""
    client, log = _node(lambda n: _page(_hit(n), total=b'{"value":2,"relation":"eq"}') if n < 2 else _page())
    READERS["scan_sources"](client)
    assert [r.body["track_total_hits"] for r in _searches(log)] == [True, False, False]


@pytest.mark.parametrize("read", [READERS["scan_sources"], READERS["scan"]], ids=["scan_sources", "scan"])
def test_a_lone_surrogate_escape_is_read_as_its_stored_bytes(read: Callable[[Elasticsearch], Any]) -> None:
    """A page holding an event with an escaped lone surrogate yields every hit's _source as stored, that one too."""
    client, _log = _node(lambda n: _page(_hit(1, _LONE), _hit(2), total=b'{"value":2,"relation":"eq"}')
                         if n == 0 else _page())
    assert read(client) == [[_LONE, b'{"n":1}']]


def test_the_stamp_of_an_event_holding_a_lone_surrogate_is_read() -> None:
    """@timestamp, stream and number of an event whose message holds a lone surrogate are read as usual."""
    assert read_stamp(_LONE) == Stamp("2026-01-01T00:00:00Z", "s1", 7)


@pytest.mark.parametrize(("text", "mended"), [
    (b'"\\ud800lone"', b'"\\ufffdlone"'),
    (b'"\\uDC00"', b'"\\ufffd"'),
    (b'"\\ud800\\ud800"', b'"\\ufffd\\ufffd"'),
    (b'"\\ud83d\\ude00"', b'"\\ud83d\\ude00"'),
    (b'"\\\\ud800"', b'"\\\\ud800"'),
    (b'"\\u00e9\\n"', b'"\\u00e9\\n"'),
], ids=["lone-high", "lone-low", "two-highs", "pair", "escaped-backslash", "other-escapes"])
def test_only_lone_surrogate_escapes_are_mended(text: bytes, mended: bytes) -> None:
    """Each lone surrogate escape reads as U+FFFD at the same length; pairs, other escapes and text stay."""
    assert mend_escapes(text) == mended
