"""The outage proxy forwards bytes, refuses connections while cut, and accepts again after restore."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import pytest

from bench.proxy import CuttableProxy


@pytest.fixture
def echo_url() -> Iterator[str]:
    """A tiny echo server standing in for the node."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn, contextlib.suppress(OSError):  # the proxy resets connections when cut
                while data := conn.recv(1024):
                    conn.sendall(data)

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    server.close()


def _roundtrip(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"ping")
        return sock.recv(1024)


def test_proxy_forwards_then_refuses_while_cut(echo_url: str) -> None:
    """Bytes pass through; a cut proxy refuses; a restored one forwards again on the same port."""
    proxy = CuttableProxy(echo_url).start()
    port = int(proxy.url.rsplit(":", 1)[1])
    try:
        assert _roundtrip(port) == b"ping"
        proxy.cut()
        with pytest.raises(ConnectionRefusedError):
            _roundtrip(port)
        proxy.restore()
        assert _roundtrip(port) == b"ping"
    finally:
        proxy.close()
