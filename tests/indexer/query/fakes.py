"""A fake Elasticsearch client serving point-in-time searches over in-memory hits (pure query logic only).

Real behaviour is proven against the real node in tests/integration/test_query_*.py; this fake exists so
the cursor arithmetic of the pager can be tested exhaustively and fast (many page sizes and totals), and
so answers no real node gives (a repeated page, a missing total, failed shards) can be served (``tamper``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig
from elasticsearch import ApiError, NotFoundError

#: Rewrites one answer of ``FakeClient.search``: called with the request's body and the honest answer.
Tamper = Callable[[dict[str, Any], dict[str, Any]], Any]


def context_missing() -> NotFoundError:
    """The error Elasticsearch returns for an expired point in time."""
    meta = ApiResponseMeta(status=404, http_version="1.1", headers=HttpHeaders(), duration=0.0,
                           node=NodeConfig("http", "localhost", 9200))
    body = {"error": {"root_cause": [{"type": "search_context_missing_exception", "reason": "gone"}],
                      "type": "search_phase_execution_exception"}, "status": 404}
    return NotFoundError("search_context_missing_exception", meta, body)


def api_error(status: int, body: Any) -> ApiError:
    """An error response of ``status`` carrying ``body`` (any shape: hostile bodies are the point)."""
    meta = ApiResponseMeta(status=status, http_version="1.1", headers=HttpHeaders(), duration=0.0,
                           node=NodeConfig("http", "localhost", 9200))
    return ApiError("error", meta, body)


class AnswerClient:
    """Answers every search with one fixed body, and records the requests (for readers without a point in time)."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.searches: list[dict[str, Any]] = []

    def search(self, **body: Any) -> Any:
        self.searches.append(body)
        return self.answer


class FakeClient:
    """Serves ``count`` docs sorted by (timestamp desc, shard_doc asc), with many equal timestamps."""

    def __init__(self, count: int, *, tie: int = 7) -> None:
        # Timestamps repeat in groups of ``tie`` so page boundaries fall inside ties.
        self.docs: list[dict[str, Any]] = [
            {"_id": f"e{i}", "_index": "x", "_source": {"n": i}, "ts": 1_000_000 - (i // tie) * 1000}
            for i in range(count)
        ]
        self.searches: list[dict[str, Any]] = []
        self.open_pits: set[str] = set()
        self.opened = 0
        self.expire_next = False
        #: when set, every answer goes through it first (a hostile or broken cluster)
        self.tamper: Tamper | None = None

    def open_point_in_time(self, **kwargs: Any) -> dict[str, Any]:
        self.opened += 1
        pit = f"pit{self.opened}"
        self.open_pits.add(pit)
        return {"id": pit}

    def options(self, **kwargs: Any) -> FakeClient:
        return self

    def close(self) -> None:
        """Nothing to release (a command closes its client at the end)."""

    def close_point_in_time(self, *, id: str) -> dict[str, Any]:
        self.open_pits.discard(id)
        return {"succeeded": True}

    def search(self, *, pit: dict[str, Any], **body: Any) -> dict[str, Any]:
        if self.expire_next or pit["id"] not in self.open_pits:
            self.expire_next = False
            self.open_pits.discard(pit["id"])
            raise context_missing()
        self.searches.append(body)
        start = 0
        after = body.get("search_after")
        if after is not None:
            key = (-after[0], after[1])
            start = next((i for i, d in enumerate(self.docs) if (-d["ts"], i) > key), len(self.docs))
        chosen = self.docs[start:start + body.get("size", 10)]
        hits = []
        for offset, doc in enumerate(chosen):
            hit: dict[str, Any] = {"_id": doc["_id"], "_index": doc["_index"], "sort": [doc["ts"], start + offset]}
            if body.get("source", True) is not False:
                hit["_source"] = dict(doc["_source"])
            hits.append(hit)
        response: dict[str, Any] = {"pit_id": pit["id"], "hits": {"hits": hits}}
        if body.get("track_total_hits"):
            response["hits"]["total"] = {"value": len(self.docs), "relation": "eq"}
        return response if self.tamper is None else self.tamper(body, response)
