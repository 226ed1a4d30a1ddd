"""A fake cluster on loopback that answers every request with one hostile shape (a proxy's page, another product,
a broken or rewritten answer), to show that readers end in one line instead of a traceback or a hang."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_HITS_OF_ODD_SHAPES = {
    "took": 1, "pit_id": "p", "count": 3, "errors": True, "found": True, "_source": [],
    "hits": {"total": {"value": 2, "relation": "eq"}, "hits": [
        {"_id": 5, "_index": None, "_source": "not an object", "sort": "x"},
        {"_id": "a", "_index": "audit-enterprise-9999.99.99", "_source": {"@timestamp": 5, "event": "x", "audit": [1]},
         "sort": [1]}]},
    "aggregations": {"x": {"buckets": "no"}}, "items": [{"create": {"status": "x"}}],
    "indices": {"\x1b[2J": {"settings": 5}}, "api_keys": [{"id": 1, "name": None}], "version": {"number": "9.5.4"},
}
_WRONG_TYPES = {
    "hits": {"hits": 5, "total": "x"}, "took": "no", "_shards": [], "pit_id": 5, "id": 7, "items": "x",
    "errors": "maybe", "indices": 3, "version": {"number": 9}, "count": "many", "aggregations": [], "_source": "x",
    "found": "yes", "api_keys": 4, "acknowledged": "no",
}

#: name -> (status, body, content type)
SHAPES: dict[str, tuple[int, bytes, str]] = {
    "invalid_json": (200, b'{"hits": {"hits": [', "application/json"),
    "html_page": (502, b"<html><body>Bad gateway</body></html>", "text/html"),
    "json_list": (200, b"[1, 2, 3]", "application/json"),
    "json_string": (200, b'"ok"', "application/json"),
    "empty_object": (200, b"{}", "application/json"),
    "wrong_types": (200, json.dumps(_WRONG_TYPES).encode(), "application/json"),
    "odd_hits": (200, json.dumps(_HITS_OF_ODD_SHAPES).encode(), "application/json"),
    "long_escaped_error": (400, json.dumps({"error": {"type": "x" * 10_000,
                                                      "reason": "\x1b]0;owned\x07" + "r" * 100_000},
                                           "status": 400}).encode(), "application/json"),
    "two_megabytes": (200, b'{"a": "' + b"x" * 2_000_000 + b'"}', "application/json"),
}


def send_answer(handler: BaseHTTPRequestHandler, body: bytes, status: int = 200,
                content_type: str = "application/json") -> None:
    """Answer a request as a node would: status, content type, the product header the client checks, the body."""
    handler.send_response(status)
    handler.send_header("content-type", content_type)
    handler.send_header("x-elastic-product", "Elasticsearch")  # past the client's product check
    handler.send_header("content-length", str(len(body)))
    handler.end_headers()
    with contextlib.suppress(OSError):  # the client gave up on a long answer: nothing to tell anyone
        handler.wfile.write(body)


class _Handler(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        status, body, content_type = SHAPES[self.server.shape]  # type: ignore[attr-defined]
        send_answer(self, body, status, content_type)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _answer

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output quiet."""


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler], **attributes: object) -> Iterator[str]:
    """Serve ``handler`` on a free loopback port (``attributes`` set on the server for it to read); yield the URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    for name, value in attributes.items():
        setattr(server, name, value)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def hostile_cluster(shape: str) -> Iterator[str]:
    """Serve ``SHAPES[shape]`` to every request on a free loopback port; yield the URL."""
    with serving(_Handler, shape=shape) as url:
        yield url
