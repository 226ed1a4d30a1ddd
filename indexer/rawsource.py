"""Search responses as raw bytes: the exact ``_source`` of each hit, as Elasticsearch stored it.

Elasticsearch keeps ``_source`` as it was sent and copies those bytes into a search response verbatim
when the request has no ``filter_path`` (a filtered response re-generates them). A client built with
:func:`raw_client_options` hands back the response bytes undecoded; :func:`scan` pages through an
index in a point in time and yields each page's hits (parsed) with their raw ``_source`` spans, which
is what :mod:`indexer.verify` hashes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
from elastic_transport import Serializer
from elasticsearch import Elasticsearch

PAGE = 5000


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
    """
    opened = as_json(client.open_point_in_time(index=index, keep_alive="2m", ignore_unavailable=True,
                                             allow_partial_search_results=False))
    pit = opened["id"]
    after: list[Any] | None = None
    try:
        while True:
            body: dict[str, Any] = {"size": PAGE, "query": query, "sort": [{"_shard_doc": "asc"}],
                                    "pit": {"id": pit, "keep_alive": "2m"}, "track_total_hits": False}
            if not source:
                body["_source"] = False
            if after is not None:
                body["search_after"] = after
            resp = client.perform_request("POST", "/_search", body=body,
                                          headers={"content-type": "application/json", "accept": "application/json"})
            raw = resp.body
            if not isinstance(raw, bytes):  # a decoded body lost the stored bytes: hashes would all differ
                raise TypeError("scan needs a client built with raw_client_options()")
            data = orjson.loads(raw)
            pit = data.get("pit_id", pit)
            hits = data["hits"]["hits"]
            if not hits:
                return
            yield hits, (source_spans(raw, hits) if source else [None] * len(hits))
            after = hits[-1]["sort"]
    finally:
        client.options(ignore_status=404).close_point_in_time(id=pit)


def existing_indices(client: Elasticsearch, pattern: str) -> set[str]:
    """Names of the indices (open or closed) matching ``pattern``."""
    rows = as_json(client.cat.indices(index=pattern, format="json", h="index", expand_wildcards="all"))
    return {str(r["index"]) for r in rows}
