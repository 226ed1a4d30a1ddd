"""Search responses as raw bytes: the exact ``_source`` of each hit, as Elasticsearch stored it.

Elasticsearch keeps ``_source`` as it was sent and copies those bytes into a search response verbatim
when the request has no ``filter_path`` (a filtered response re-generates them). A client built with
:func:`raw_client_options` hands back the response bytes undecoded; :func:`scan` pages through an
index in a point in time and yields each page's hits (parsed) with their raw ``_source`` spans, which
is what :mod:`indexer.verify` hashes.

Answers are not trusted to end: a node (or what answers in its place) that sends the same page again,
ignores ``search_after`` or leaves ``sort`` out would page forever, so every page must move the cursor
strictly forward and the pages may not hold more hits than the point in time counted (:class:`ScanError`).
A stored event may hold an escaped lone UTF-16 surrogate (``"\\ud800"``): Elasticsearch accepts it,
msgspec and orjson refuse it. Such a page is read from a copy where each of those escapes reads
``\\ufffd`` (same length), and each ``_source`` is then cut from the original bytes at the same place,
so its hash is still over the exact stored bytes.
"""

from __future__ import annotations

import contextlib
import queue
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import msgspec
import orjson
from elastic_transport import Serializer
from elasticsearch import ApiError, Elasticsearch

from auditlog.indexer.client import AnswerTooLarge
from auditlog.indexer.query.hits import exact_count

PAGE = 5000
#: seconds opening a point in time waits for shards that are still starting. A daily index created a
#: moment ago (the agent's first event or digest of a day) has no started primary yet, and the node
#: refuses the point in time with 503 ``no_shard_available_action_exception``; partial results are not
#: an option (verify would miss events), so the open is retried with growing pauses, then refused.
SHARD_WAIT = 10.0


_EMPTY = msgspec.Raw()


class Hit(msgspec.Struct, gc=False):
    """One search hit: where it is and its ``_source`` exactly as stored (empty when not fetched)."""

    _index: str
    _id: str
    _source: msgspec.Raw = _EMPTY  # empty when not fetched
    sort: list[Any] | None = None


class _Hits(msgspec.Struct, gc=False):
    hits: list[Hit]
    total: Any = None  # asked for on a scan's first page only


class _Page(msgspec.Struct, gc=False):
    hits: _Hits
    pit_id: str | None = None
    timed_out: Any = False  # a page cut short by a search timeout (search.default_search_timeout) holds fewer hits


class _AuditStamp(msgspec.Struct, gc=False):
    stream: Any = None
    seq: Any = None


class _Stamped(msgspec.Struct, gc=False, rename={"timestamp": "@timestamp"}):
    timestamp: Any = None
    audit: msgspec.Raw = _EMPTY


class Stamp(msgspec.Struct, gc=False, frozen=True):
    """What tamper evidence reads of an event besides its hash: ``@timestamp`` and its stream number."""

    timestamp: str | None = None
    stream: str | None = None
    seq: int | None = None


_decode_page = msgspec.json.Decoder(_Page).decode
_decode_stamped = msgspec.json.Decoder(_Stamped).decode
_decode_audit = msgspec.json.Decoder(_AuditStamp).decode
_NO_STAMP = Stamp()

#: one JSON escape: a surrogate pair (kept), a lone surrogate (group 1: mended) or any other (kept). Matching
#: escape by escape from the left tells an escaped backslash followed by the text "ud800" from a surrogate.
_ESCAPE = re.compile(rb"\\(?:ud[89ab][0-9a-f]{2}\\ud[c-f][0-9a-f]{2}|u(d[89a-f][0-9a-f]{2})|.)", re.I | re.S)
_MENDED = b"\\ufffd"


class ScanError(ValueError):
    """Pages of a point in time that cannot be followed to their end: a broken or hostile answer."""


def mend_escapes(raw: bytes) -> bytes:
    """Return ``raw`` with each escaped lone UTF-16 surrogate (``\\ud800``) replaced by ``\\ufffd``.

    Elasticsearch stores and returns such an escape; msgspec and orjson refuse the whole document (or
    page) for it. The copy has the same length, so a span found in it is the same span of ``raw``. Only
    where things are (ids, ``sort``, stamps) may be read from the copy, never the bytes that are hashed:
    an event altered from ``\\ufffd`` to ``\\ud800`` would otherwise still match its digest.

    Args:
        raw: JSON text.

    Returns:
        The mended copy (equal to ``raw`` when it holds no lone surrogate).
    """
    if b"\\u" not in raw:
        return raw
    return _ESCAPE.sub(lambda m: _MENDED if m.group(1) is not None else m.group(), raw)


def read_stamp(source: bytes | msgspec.Raw | None) -> Stamp:
    """Read ``@timestamp``, ``audit.stream`` and ``audit.seq`` of a stored event (missing or mistyped: ``None``)."""
    if not source:
        return _NO_STAMP
    try:
        doc = _decode_stamped(source)
    except msgspec.ValidationError:
        return _NO_STAMP
    except (msgspec.DecodeError, ValueError):
        try:  # a lone surrogate somewhere (a message): the stamp's fields read the same in the mended copy
            doc = _decode_stamped(mend_escapes(bytes(source)))
        except (msgspec.DecodeError, ValueError):
            return _NO_STAMP
    ts = doc.timestamp if type(doc.timestamp) is str else None
    if not doc.audit:
        return Stamp(ts)
    try:
        audit = _decode_audit(doc.audit)
    except (msgspec.DecodeError, ValueError):  # not an object
        return Stamp(ts)
    stream, seq = audit.stream, audit.seq
    return Stamp(ts, stream if type(stream) is str else None, seq if type(seq) is int else None)


class _Raw(Serializer):
    """Requests as JSON (orjson); responses as the raw bytes Elasticsearch sent."""

    mimetype = "application/json"

    def loads(self, data: bytes) -> Any:
        return bytes(data)

    def dumps(self, data: Any) -> bytes:
        return data if isinstance(data, bytes) else orjson.dumps(data)


def raw_client_options() -> dict[str, Any]:
    """Keyword arguments for :func:`indexer.client.make_client` building the client :func:`scan` needs."""
    raw = _Raw()
    return {"serializers": {"application/json": raw, "application/vnd.elasticsearch+json": raw}}


def as_json(resp: Any) -> Any:
    """Decode a response of the raw client (or pass a decoded body through)."""
    body = resp.body if hasattr(resp, "body") else resp
    if isinstance(body, bytes | bytearray):
        return orjson.loads(body)
    return body


def source_spans(raw: bytes, hits: list[dict[str, Any]]) -> list[memoryview | None]:
    """Locate each hit's ``_source`` bytes in the raw response (hits appear in order)."""
    view = memoryview(raw)
    spans: list[memoryview | None] = []
    pos = 0
    for h in hits:
        start = raw.find(b'"_source":', pos)
        suffix = b',"sort":' + orjson.dumps(h.get("sort")) + b"}"
        end = raw.find(suffix, start) if start >= 0 else -1
        if start < 0 or end < 0:
            spans.append(None)
            continue
        spans.append(view[start + 10:end])
        pos = end
    return spans


def scan(client: Elasticsearch, index: str, query: dict[str, Any],
          source: bool = True) -> Iterator[tuple[list[dict[str, Any]], list[memoryview | None]]]:
    """Page through ``index`` in a point in time; yield hits with their raw ``_source`` spans.

    Args:
        client: a client built with :func:`raw_client_options`.
        index: index names or patterns (missing ones are skipped).
        query: the query DSL.
        source: fetch ``_source`` (``False``: hits only, spans ``None``).

    Yields:
        ``(hits, spans)`` per page, in the same order.

    Raises:
        TypeError: when the client decodes responses itself.
        ScanError: when the pages do not advance or hold more hits than the point in time.
    """
    pit = _open_pit(client, index)
    cursor = _Cursor()
    try:
        while True:
            raw = _raw_page(client, pit, query, source, None, cursor)
            try:
                data = orjson.loads(raw)
            except orjson.JSONDecodeError:
                try:
                    data = orjson.loads(mend_escapes(raw))  # spans are still cut from ``raw``
                except orjson.JSONDecodeError:
                    data = _page_hit_by_hit(raw)
            _whole(data.get("timed_out", False))
            pit = data.get("pit_id", pit)
            hits = data["hits"]["hits"]
            if not cursor.moved(hits, data["hits"].get("total"), hits[-1].get("sort") if hits else None):
                return
            yield hits, (source_spans(raw, hits) if source else [None] * len(hits))
    finally:
        client.options(ignore_status=404).close_point_in_time(id=pit)


def _whole(timed_out: object) -> None:
    """Refuse a page a search timeout cut short (``timed_out`` not false): it may hold fewer hits than stored.

    Its missing hits would read as deleted events, or end the scan early with inserted ones unseen.

    Raises:
        ScanError: when the page timed out.
    """
    if timed_out is not False:
        raise ScanError("a page of the scan timed out (a search timeout on the cluster: "
                        "search.default_search_timeout?): it may hold fewer events than stored")


def _page_hit_by_hit(raw: bytes) -> dict[str, Any]:
    """A page orjson refuses as a whole, decoded hit by hit: a ``_source`` it cannot read is ``None``.

    Elasticsearch stores a number beyond a double (``1e400``) in a field the mapping leaves out, and orjson
    refuses the whole page for it. One such document, which any key that may append to a digest index can
    write, made every ``verify`` (and the Proof tab) fail as a whole; now only that hit reads as no document.

    Raises:
        msgspec.DecodeError: a page that is not JSON, or not a search response, even mended.
    """
    page = _read_page(raw)
    hits: list[dict[str, Any]] = []
    for h in page.hits.hits:
        source: Any = None
        if h._source:
            with contextlib.suppress(orjson.JSONDecodeError):
                source = orjson.loads(mend_escapes(bytes(h._source)))
        hits.append({"_index": h._index, "_id": h._id, "_source": source, "sort": h.sort})
    return {"pit_id": page.pit_id, "timed_out": page.timed_out, "hits": {"hits": hits, "total": page.hits.total}}


def scan_sources(client: Elasticsearch, index: str, query: dict[str, Any], source: bool | list[str] = True,
                 slices: int = 1) -> Iterator[list[Hit]]:
    """Page through ``index`` like :func:`scan`, yielding each page's hits with their raw ``_source`` bytes.

    The response is decoded without building the documents (``_source`` stays the stored bytes), which
    is most of a page's decoding cost. With ``slices`` > 1 the point in time is read as that many
    slices at once, each by its own thread, so Elasticsearch prepares the next pages while this
    process works on one (pages then come in no particular order).

    Args:
        client: a client built with :func:`raw_client_options`.
        index: index names or patterns (missing ones are skipped).
        query: the query DSL.
        source: fetch ``_source`` (``False``: hits only; a list: only those fields, no longer the stored bytes).
        slices: how many slices to read in parallel.

    Yields:
        One page of hits at a time.

    Raises:
        TypeError: when the client decodes responses itself.
        ScanError: when the pages do not advance or hold more hits than the point in time.
    """
    pit = _open_pit(client, index)
    try:
        if slices <= 1:
            yield from _pages(client, pit, query, source, None)
            return
        yield from _parallel(client, pit, query, source, slices)
    finally:
        client.options(ignore_status=404).close_point_in_time(id=pit)


def _open_pit(client: Elasticsearch, index: str, wait: float = SHARD_WAIT) -> str:
    """Open a point in time over ``index`` (missing indices skipped, no partial results); return its id.

    Args:
        client: the client.
        index: index names or patterns.
        wait: seconds to keep retrying while the node answers 503 (shards still starting).

    Raises:
        ApiError: the node's refusal (a 503 once ``wait`` is over).
    """
    deadline = time.monotonic() + wait
    pause = 0.1
    while True:
        try:
            opened = as_json(client.open_point_in_time(index=index, keep_alive="2m", ignore_unavailable=True,
                                                     allow_partial_search_results=False))
            return str(opened["id"])
        except ApiError as exc:
            if exc.meta.status != 503 or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 1.0)


class _Cursor:
    """Where the scan of one point in time (or slice) stands, so that its paging provably ends.

    A node that answers the same page forever, ignores ``search_after`` or leaves ``sort`` out (the
    cursor would fall back to the start) must not keep a verification reading: each page has to end
    strictly after the one before in ``_shard_doc`` order, and together the pages may hold no more hits
    than the first page's exact total (the point in time is a snapshot; ``track_total_hits`` is asked
    for on that page only).
    """

    def __init__(self) -> None:
        self.after: list[int] | None = None
        self.total: int | None = None  # hits the point in time holds; None before the first page
        self.read = 0
        self.pages = 0

    def moved(self, hits: list[Any], total: Any, sort: Any) -> bool:
        """Take one page (its hit count, ``hits.total`` and the last hit's ``sort``); ``False`` at the end.

        Raises:
            ScanError: a first page without an exact total, a last hit without whole-number sort values,
                a cursor that did not advance, or more hits than the total.
        """
        self.pages += 1
        if self.total is None:
            self.total = exact_count(total)
            if self.total is None:
                raise ScanError("the first page has no exact hits.total to bound the scan")
        if not hits:
            return False
        if type(sort) is not list or not sort or not all(type(v) is int for v in sort):
            raise ScanError(f"page {self.pages} ends in a hit without sort values to continue after")
        if self.after is not None and not sort > self.after:
            raise ScanError(f"the cursor did not advance on page {self.pages} (search_after ignored?)")
        self.read += len(hits)
        if self.read > self.total:
            raise ScanError(f"page {self.pages} goes past the {self.total} hits the point in time counted")
        self.after = sort
        return True


def _raw_page(client: Elasticsearch, pit: str, query: dict[str, Any], source: bool | list[str],
              part: dict[str, int] | None, cursor: _Cursor, size: int = PAGE) -> bytes:
    """One page of ``size`` hits of the point in time in ``_shard_doc`` order after ``cursor``, as the response's bytes.

    Raises:
        TypeError: when the client decodes responses itself.
        AnswerTooLarge: the answer passed the client's bound on one answer.
    """
    body: dict[str, Any] = {"size": size, "query": query, "sort": [{"_shard_doc": "asc"}],
                            "pit": {"id": pit, "keep_alive": "2m"}, "track_total_hits": cursor.total is None}
    if source is not True:
        body["_source"] = source
    if part is not None:
        body["slice"] = part
    if cursor.after is not None:
        body["search_after"] = cursor.after
    # allow_partial_search_results=false: a page missing a failed shard's hits would read as deleted events
    resp = client.perform_request("POST", "/_search?allow_partial_search_results=false", body=body,
                                  headers={"content-type": "application/json", "accept": "application/json"})
    raw = resp.body
    if not isinstance(raw, bytes):  # a decoded body lost the stored bytes: hashes would all differ
        raise TypeError("scan needs a client built with raw_client_options()")
    return raw


def _pages(client: Elasticsearch, pit: str, query: dict[str, Any], source: bool | list[str],
           part: dict[str, int] | None) -> Iterator[list[Hit]]:
    cursor = _Cursor()
    size = PAGE
    while True:
        try:
            raw = _raw_page(client, pit, query, source, part, cursor, size)
        except AnswerTooLarge:
            if size == 1:  # one event over the bound: the scan cannot read it, and says so
                raise
            # large events: the same page in halves (the scan ends at an empty page, not a short one); the rest of
            # the scan keeps the smaller size rather than reading past the bound again at every page
            size //= 2
            continue
        page = _read_page(raw)
        _whole(page.timed_out)
        hits = page.hits.hits
        if not cursor.moved(hits, page.hits.total, hits[-1].sort if hits else None):
            return
        yield hits


def _read_page(raw: bytes) -> _Page:
    """Decode one page; a page holding a lone surrogate is read from its mended copy, sources cut from ``raw``.

    Raises:
        msgspec.DecodeError: a page that is not JSON, or not a search response, even mended.
    """
    try:
        return _decode_page(raw)
    except msgspec.ValidationError:  # valid JSON of another shape: mending cannot help
        raise
    except msgspec.DecodeError:
        mended = mend_escapes(raw)
        if mended == raw:
            raise
    page = _decode_page(mended)
    view = memoryview(raw)
    pos = 0
    for hit in page.hits.hits:
        if not hit._source:
            continue
        mine = bytes(hit._source)
        # the first place at or after the previous hit's _source that holds these bytes is this hit's: an
        # object with keys cannot occur inside a string in between (its quotes would be escaped there)
        at = mended.find(mine, pos)
        if at < 0:  # not cut from this text: never hash a re-encoded copy
            raise ScanError("a hit's _source is not where the page holds it")
        pos = at + len(mine)
        if mine != view[at:pos]:
            hit._source = msgspec.Raw(raw[at:pos])
    return page


def _parallel(client: Elasticsearch, pit: str, query: dict[str, Any], source: bool | list[str],
              slices: int) -> Iterator[list[Hit]]:
    pages: queue.Queue[list[Hit] | BaseException | None] = queue.Queue(maxsize=slices)  # bounded: memory
    stop = threading.Event()

    def read(i: int) -> None:
        try:
            for page in _pages(client, pit, query, source, {"id": i, "max": slices}):
                while not stop.is_set():
                    try:
                        pages.put(page, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
        except BaseException as exc:  # handed to the consumer, which raises it
            pages.put(exc)
            return
        pages.put(None)

    threads = [threading.Thread(target=read, args=(i,), name=f"scan-slice-{i}", daemon=True) for i in range(slices)]
    for t in threads:
        t.start()
    try:
        running = slices
        while running:
            item = pages.get()
            if item is None:
                running -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        stop.set()
        while any(t.is_alive() for t in threads):  # let blocked readers finish before the point in time closes
            with contextlib.suppress(queue.Empty):
                pages.get(timeout=0.05)
        for t in threads:
            t.join()


def existing_indices(client: Elasticsearch, pattern: str) -> set[str]:
    """Names of the indices (open or closed) matching ``pattern``.

    Asked with ``GET /_resolve/index``, which index ``read`` or ``view_index_metadata`` allows (the
    reader key's); ``_cat/indices`` needs the cluster privilege ``monitor``, which the reader lacks.

    Args:
        client: any client.
        pattern: index names or patterns, comma-separated.

    Returns:
        The names.

    Raises:
        ValueError: when the answer does not list indices by name.
    """
    answer = as_json(client.indices.resolve_index(name=pattern, expand_wildcards="all"))
    rows = answer.get("indices") if isinstance(answer, dict) else None
    if not isinstance(rows, list) or not all(isinstance(r, dict) and type(r.get("name")) is str for r in rows):
        raise ValueError("the index listing (_resolve/index) does not name its indices")
    return {r["name"] for r in rows}
