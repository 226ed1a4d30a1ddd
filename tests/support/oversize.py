"""A fake cluster on loopback whose every answer is too long for a reader: a body longer than a bound, declared up
front (``content-length``), an endless chunked stream, a small gzip body that inflates past the bound, or a long
chunked body behind a short ``content-length`` (which the transfer encoding overrides)."""

from __future__ import annotations

import contextlib
import gzip
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler

from tests.support.hostile_cluster import serving

_PIECE = b"x" * (1 << 20)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # chunked answers need it

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        self.server.requests.append(self.path)  # type: ignore[attr-defined]
        mode, size = self.server.mode, self.server.size  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("x-elastic-product", "Elasticsearch")
        with contextlib.suppress(OSError):  # the client stops reading: that is the point
            if mode == "gzip":
                body = gzip.compress(b'{"a": "' + b"x" * size + b'"}', compresslevel=9)
                self.send_header("content-encoding", "gzip")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            elif mode == "fixed":
                self.send_header("content-length", str(size + 9))
                self.end_headers()
                self.wfile.write(b'{"a": "')
                for _ in range(size >> 20):
                    self.wfile.write(_PIECE)
                self.wfile.write(b"x" * (size % (1 << 20)) + b'"}')
            elif mode == "lying":  # chunked wins over content-length (RFC 9112 6.3): the body is size bytes
                self.send_header("content-length", "10")
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                self.wfile.write(b'7\r\n{"a": "\r\n')
                for _ in range(size >> 20):
                    self.wfile.write(b"%x\r\n" % len(_PIECE) + _PIECE + b"\r\n")
                self.wfile.write(b'2\r\n"}\r\n0\r\n\r\n')
            else:  # endless
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                self.wfile.write(b'7\r\n{"a": "\r\n')
                while True:
                    self.wfile.write(b"%x\r\n" % len(_PIECE) + _PIECE + b"\r\n")

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _answer

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output quiet."""


@contextmanager
def oversize_cluster(mode: str, size: int = 0) -> Iterator[tuple[str, list[str]]]:
    """Serve ``mode`` (``fixed``: ``size`` bytes with their length; ``gzip``: ``size`` bytes compressed;
    ``endless``: chunks for ever; ``lying``: ``size`` bytes (whole MiB) chunked, with a content-length of 10) to every
    request; yield the URL and the paths requested so far."""
    requests: list[str] = []
    with serving(_Handler, mode=mode, size=size, requests=requests) as url:
        yield url, requests
