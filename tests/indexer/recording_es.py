"""A real ``Elasticsearch`` client over a recording fake node: exact requests out, canned answers back.

For the branches the test node cannot take (a cluster *with* ILM): the client serialises requests
exactly as it would for a real cluster, and the test asserts on method, path and JSON body.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from elastic_transport import ApiResponseMeta, BaseNode, HttpHeaders
from elastic_transport._node._base import NodeApiResponse
from elasticsearch import Elasticsearch


@dataclass(frozen=True)
class Request:
    """One request the client sent: method, path (with query string) and parsed JSON body."""

    method: str
    path: str
    body: Any


#: A responder answers (method, path without query, body) with (status, JSON body); bytes are sent as they are.
Responder = Callable[[str, str, Any], tuple[int, Any]]


def recording_client(responder: Responder, **options: Any) -> tuple[Elasticsearch, list[Request]]:
    """Return a client whose every request is recorded and answered by ``responder``.

    Args:
        responder: produces the answer for each request.
        options: more keyword arguments for the client (e.g. ``raw_client_options()``).

    Returns:
        The client and the (live) list of recorded requests.
    """
    log: list[Request] = []

    class RecordingNode(BaseNode):
        def perform_request(self, method: str, target: str, body: bytes | None = None,
                            headers: HttpHeaders | None = None, request_timeout: Any = None) -> NodeApiResponse:
            parsed = json.loads(body) if body else None
            log.append(Request(method, target, parsed))
            status, answer = responder(method, target.split("?", 1)[0], parsed)
            meta = ApiResponseMeta(
                status=status, http_version="1.1", duration=0.0, node=self.config,
                headers=HttpHeaders({"content-type": "application/json", "x-elastic-product": "Elasticsearch"}),
            )
            return NodeApiResponse(meta, answer if isinstance(answer, bytes) else json.dumps(answer).encode())

    client = Elasticsearch("http://recording.invalid:9200", node_class=RecordingNode, max_retries=0, **options)
    return client, log


def not_found(path: str) -> tuple[int, Any]:
    """A 404 answer the way Elasticsearch shapes it."""
    return 404, {"error": {"type": "resource_not_found_exception", "reason": f"{path} not found"}, "status": 404}


def no_handler(method: str, path: str) -> tuple[int, Any]:
    """The 400 a node answers for an API it does not have (e.g. security off)."""
    return 400, {"error": f"no handler found for uri [{path}] and method [{method}]"}


__all__ = ["Request", "Responder", "no_handler", "not_found", "recording_client"]


def one_node_reads(method: str, path: str) -> tuple[int, Any] | None:
    """Answer what setup reads around its templates: one data node, no existing index, no other index template over
    ours (``indexer.precedence``); ``None`` otherwise."""
    if method == "POST" and path.startswith("/_index_template/_simulate_index/"):
        return 200, {"overlapping": []}
    if path == "/_cluster/health":
        return 200, {"number_of_nodes": 1, "number_of_data_nodes": 1}
    if method == "GET" and "/_settings" in path:
        return 200, {}
    return None
