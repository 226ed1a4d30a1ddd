"""A TCP proxy in front of Elasticsearch that can be cut, to stage an outage without touching the node.

While cut, the listening socket is closed (new connections are refused) and every open connection is
reset, which is what a shipper sees when the node process is down. ``restore()`` listens again on the
same port. This works with a shared node too, where stopping the real process is not an option. The agent's
outage and rotation tests use the same proxy (tests/integration/agent_support.py).
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from urllib.parse import urlsplit

from auditlog.indexer.es_node import free_port


class CuttableProxy:
    """Forward ``127.0.0.1:<port>`` to the node's host:port until cut."""

    def __init__(self, upstream_url: str) -> None:
        parts = urlsplit(upstream_url)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 9200)
        self.scheme = parts.scheme
        self._listener: socket.socket | None = None
        # Reserved now, so ``url`` can be handed to a shipper before anything listens (an outage from the start).
        self._port = free_port()
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stopping = False
        self._accepter: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The URL shippers should use instead of the node's."""
        return f"{self.scheme}://127.0.0.1:{self._port}"

    def start(self) -> CuttableProxy:
        """Listen on the reserved port (again after a cut) and accept in a thread."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self._port))
        listener.listen(128)
        self._port = listener.getsockname()[1]
        self._listener = listener
        self._stopping = False
        self._accepter = threading.Thread(target=self._accept, args=(listener,), daemon=True, name="proxy-accept")
        self._accepter.start()
        return self

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                if self._stopping:
                    client.close()
                    upstream.close()
                    return
                self._conns.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True, name="proxy-pump").start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        peers = {a: b, b: a}
        try:
            while True:
                readable, _, _ = select.select([a, b], [], [], 1.0)
                if self._stopping:
                    return
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peers[sock].sendall(data)
        except (OSError, ValueError):  # cut() closed a socket under us: select() sees fd -1 (ValueError)
            return
        finally:
            self._drop(a, b)

    def _drop(self, *socks: socket.socket) -> None:
        with self._lock:
            for sock in socks:
                self._conns.discard(sock)
                with contextlib.suppress(OSError):
                    # Linger 0 -> RST, like a node whose process died.
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    sock.close()

    def cut(self) -> None:
        """Refuse new connections and reset the open ones."""
        self._stopping = True
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            conns = list(self._conns)
        self._drop(*conns)
        if self._accepter is not None:
            self._accepter.join(timeout=5)

    def restore(self) -> None:
        """Accept connections again on the same port."""
        self.start()

    def close(self) -> None:
        """Cut for good."""
        self.cut()
