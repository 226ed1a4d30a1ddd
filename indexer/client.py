"""Elasticsearch client factory: one place that turns connection settings into a client.

Every command takes the same connection options (ARCHITECTURE.md): ``--es URL`` /
``AUDITLOG_ES_URL`` (default ``http://127.0.0.1:9200``; several nodes of one cluster comma-separated,
``http://a:9200,http://b:9200``: the client spreads requests over them and leaves a node that stops
answering for the others until it answers again), ``AUDITLOG_ES_API_KEY``, user/password
(``AUDITLOG_ES_USERNAME`` / ``AUDITLOG_ES_PASSWORD``), ``--ca-certs`` / ``AUDITLOG_ES_CA_CERTS``.
TLS verification is on unless ``--insecure`` is given explicitly. The flags themselves live in the shell
(``auditlog.options.connection``); this module only builds clients.

No answer is taken past a bound on its size (:data:`ANSWER_LIMIT`, 128 MiB for readers): a hostile or broken node,
a proxy, a MITM on plain http, or an endless chunked stream would otherwise take the reader's memory (a fake
200 MB body made ``auditlog show`` use 650 MB of RSS; an endless one reached 4 GB in 10 s). The body is read in
pieces and the read stops as soon as it passes the bound (a ``content-length`` over it is refused before any
byte); decompressed bytes count, so a gzip bomb stops too. The request then fails with :class:`AnswerTooLarge`,
not retried by the client. 128 MiB is one event of the largest line the agent can ever admit
(``inputs.max_line_bytes`` at most 100 MiB, stored as sent) with 28 MiB for the hit's envelope, and also a whole
list page of the TUI (100 events) at the default 1 MiB line; readers of larger pages (export's batches, verify's
raw pages) split a page whose answer is over the bound into halves, down to one event. The agent's bulk answers
(``filter_path`` keeps statuses and errors) get a bound from its batch settings (``agent.sink.client_options``).
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import itertools
import os
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import urllib3
from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import NodeConfig, TransportError, Urllib3HttpNode
from elastic_transport.client_utils import url_to_node_config
from elasticsearch import Elasticsearch
from urllib3.exceptions import ReadTimeoutError

from auditlog.indexer.decode import TolerantJsonSerializer

DEFAULT_URL = "http://127.0.0.1:9200"
#: the most bytes of one answer a reader takes (see the module's docstring for why this much)
ANSWER_LIMIT = 128 << 20
#: bytes asked of the socket (or the decompressor) per read while an answer is bounded
_PIECE = 1 << 20


def split_urls(url: str) -> list[str]:
    """Return the node URLs of a comma-separated list (one URL: itself), blanks dropped (pure)."""
    return [part.strip() for part in url.split(",") if part.strip()]


def _host_and_port_ok(url: str) -> bool:
    """Whether ``url`` names a host and, if it has one, a valid port (the client would raise on either)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # an unclosed IPv6 bracket, a port that is not a number or out of range
        return False
    return bool(parts.hostname) and port != 0 and url.isprintable()


_HOST_NAME = re.compile(r"[\w.~%!$&'()*+,;=-]+", re.ASCII)


def host_problem(url: str) -> str | None:
    """Why ``url``'s host and port cannot be requested, or None (pure; the message never holds the URL).

    ``urlsplit`` checks neither the host's characters nor its labels, and HTTP clients raise a bare
    ``ValueError`` quoting the whole URL (its password included) when they cannot: a space, a character
    that is not ASCII (a full-width letter), text after an IPv6 bracket, a label over 63 characters. Shared
    by the Elasticsearch URL (:func:`url_problem`) and Kibana's (:mod:`indexer.kibana`).

    Args:
        url: one ``http(s)://`` URL.

    Returns:
        None when host and port are usable, else the reason (``has ...`` / ``needs ...``).
    """
    if not _host_and_port_ok(url):
        return "needs a host and a port between 1 and 65535 if any"
    host = urlsplit(url).netloc.rpartition("@")[2]
    if host.startswith("["):  # [IPv6] or [IPv6]:port, nothing else after the bracket
        if not re.fullmatch(r"\[[^\]]*\](:\d+)?", host):
            return "has text after the IPv6 address"
        name = ""
    else:
        name = host.rpartition(":")[0] if ":" in host else host
    if name and not _HOST_NAME.fullmatch(name):
        return "has a host name with characters a URL cannot carry (spaces, non-ASCII letters: use the xn-- form)"
    if len(name) > 253 or any(len(label) > 63 for label in name.split(".")):
        return "has a host name longer than DNS allows (63 characters a label, 253 in all)"
    if name and "" in name.removesuffix(".").split("."):  # a..b, .a: urllib3 fails on it at the first request
        return "has an empty label in its host name (two dots in a row, or a leading dot)"
    return None


def api_key_problem(key: str) -> str | None:
    """Why ``key`` cannot be an API key sent in a header, or None (pure; never shows the key).

    Args:
        key: an Elasticsearch API key (also Kibana's, which Elasticsearch issues).

    Returns:
        None when it is printable ASCII without spaces, else the reason.
    """
    if key.isascii() and key.isprintable() and " " not in key:
        return None
    return "must be printable ASCII without spaces (as Elasticsearch issues them)"


def url_problem(url: str) -> str | None:
    """Return why ``url`` (one or several comma-separated) cannot be used as the Elasticsearch address.

    Args:
        url: one URL or several comma-separated.

    Returns:
        None when every URL is usable, else a message starting ``es url`` that shows the URL only through
        :func:`safe_url` (never a password).
    """
    urls = split_urls(url)
    if not urls:
        return "es url must not be empty"
    hidden = _may_split_credentials(url)  # a password holding ',' splits its URL: no part may be shown
    for one in urls:
        shown = HIDDEN_URLS if hidden else shown_url(one)
        if not one.startswith(("http://", "https://")):
            return f"es url must start with http:// or https://: {shown}"
        problem = host_problem(one)
        if problem:
            return f"es url {problem}: {shown}"
        try:
            url_to_node_config(one)
        except ValueError:
            return ("es url cannot be parsed by the Elasticsearch client (http:// URLs need a port: "
                    f"http://host:9200): {shown}")
    return None


def credential_problem(value: str, *, username: bool = False) -> str | None:
    """Return why a basic-auth user name or password cannot be sent, or None (pure; never shows the value).

    The client encodes ``user:password`` as ASCII for the ``Authorization`` header: any other character
    ends every request in a ``UnicodeEncodeError``. A colon in the user name would split it wrongly.

    Args:
        value: the user name or password.
        username: whether ``value`` is the user name (no colon allowed).

    Returns:
        None when the client can send it, else a message like ``must be printable ASCII ...``.
    """
    if not (value.isascii() and value.isprintable()):
        return "must be printable ASCII (the client cannot send other characters)"
    if username and ":" in value:
        return "must not contain ':' (basic auth separates user and password with it)"
    return None


def ca_file_problem(path: str) -> str | None:
    """Return why the CA bundle ``path`` cannot be used, or None (it is a readable file).

    Checked where a command starts: the client only opens it with the first request, and its error then
    reads as "the certificate of Elasticsearch is not trusted".

    Args:
        path: the CA bundle named by ``--ca-certs``, ``AUDITLOG_ES_CA_CERTS`` or ``elasticsearch.ca_certs``.

    Returns:
        None when it is a regular file this process may read, else a one-line reason naming the path.
    """
    if not os.path.exists(path):
        return f"no such file: {path}"
    if not os.path.isfile(path):
        return f"not a file: {path}"
    if not os.access(path, os.R_OK):
        return f"cannot read {path}: permission denied"
    return None


#: what a message shows instead of a URL list in which a password may have been split at a comma
HIDDEN_URLS = "(not shown: the list holds credentials)"


def _may_split_credentials(url: str) -> bool:
    """Whether a comma-separated ``url`` holds user-info that a ',' inside a password may have cut (pure).

    ``http://u:pa,ss@h`` splits into ``http://u:pa`` and ``ss@h``: the part before the '@' looks like a URL
    without credentials. Only a list whose every part is ``scheme://...@...`` can be cleaned part by part.
    """
    return "@" in url and not all("://" in part and "@" in part for part in split_urls(url))


def safe_url(url: str) -> str:
    """Return ``url`` without credentials in its user-info part (``https://***@host:9200``) or its query or
    fragment (``?***``), for messages (pure).

    A comma-separated list of URLs is cleaned URL by URL; a list in which a password may have been cut at a
    comma (a part without '@' or without a scheme while another holds '@') is :data:`HIDDEN_URLS` instead.
    """
    if "," in url:
        if _may_split_credentials(url):
            return HIDDEN_URLS
        return ",".join(safe_url(part) for part in split_urls(url))
    scheme, sep, rest = url.partition("://")
    if not sep:
        return _no_query(url.rsplit("@", 1)[1] if "@" in url else url)
    if "@" in rest:  # up to the last "@": a password may hold "/", "?" or "#" that end the authority early
        return f"{scheme}{sep}***@{_no_query(rest.rsplit('@', 1)[1])}"
    return f"{scheme}{sep}{_no_query(rest)}"


def _no_query(rest: str) -> str:
    """``rest`` (what follows the user info) with a query or fragment as ``?***``: ``?api_key=...`` is a secret too."""
    cut = min((i for i in (rest.find("?"), rest.find("#")) if i >= 0), default=-1)
    return rest if cut < 0 else rest[:cut] + "?***"


def shown_url(url: str) -> str:
    """Return ``url`` for a message: :func:`safe_url` quoted, or :data:`HIDDEN_URLS` as it is (pure).

    Args:
        url: one URL or several comma-separated, as the user gave it.

    Returns:
        ``'https://***@host:9200'`` (quotes included), or the unquoted :data:`HIDDEN_URLS`.
    """
    safe = safe_url(url)
    return safe if safe == HIDDEN_URLS else repr(safe)


@dataclass(frozen=True)
class ConnectionSettings:
    """How to reach and authenticate to one Elasticsearch cluster."""

    url: str = DEFAULT_URL
    api_key: str | None = None
    username: str | None = None
    password: str | None = None
    ca_certs: str | None = None
    verify_certs: bool = True
    request_timeout: float = 30.0

    def __post_init__(self) -> None:
        problem = url_problem(self.url)
        if problem:
            raise ValueError(problem)
        urls = split_urls(self.url)
        if (self.username is None) != (self.password is None):
            raise ValueError("es username and password go together")
        # an HTTP header carries the key: anything but printable ASCII is no key (and the value is never shown)
        if self.api_key is not None and (problem := api_key_problem(self.api_key)):
            raise ValueError(f"es api key {problem}")
        if self.username is not None and (problem := credential_problem(self.username, username=True)):
            raise ValueError(f"es username {problem}")
        if self.password is not None and (problem := credential_problem(self.password)):
            raise ValueError(f"es password {problem}")
        if self.ca_certs and not all(url.startswith("https://") for url in urls):
            raise ValueError("es ca_certs applies to https:// URLs only; the URL is http://")

    def redacted(self) -> dict[str, object]:
        """Return the settings as a dict without secrets, for logs and status output."""
        return {
            "url": safe_url(self.url),
            # the client sends Basic auth from a URL's user info too (https://user:pw@host)
            "auth": "api_key" if self.api_key else ("basic" if self.username or "***@" in safe_url(self.url)
                                                    else "none"),
            "ca_certs": self.ca_certs,
            "verify_certs": self.verify_certs,
        }


class AnswerTooLarge(TransportError):
    """An answer was longer than the client's bound: it was not read further (the connection is closed)."""


class _Oversize(urllib3.exceptions.HTTPError):
    """Raised inside the pool for an answer over the bound; the node turns it into :class:`AnswerTooLarge`."""


def _size_text(count: int) -> str:
    """``128 MiB`` for a whole number of MiB, else the bytes (``1,000 bytes``)."""
    return f"{count >> 20} MiB" if count % (1 << 20) == 0 else f"{count:,} bytes"


def _read_bounded(response: Any, limit: int, method: str, url: str) -> bytes:
    """Read ``response``'s body, decoded, but never more than ``limit`` bytes of it.

    Raises:
        _Oversize: the declared length, or the bytes read so far, passed ``limit`` (the response is closed).
    """
    def over() -> _Oversize:
        # the rest is never read: the connection is closed, and handed back to the pool as closed (it connects
        # afresh when next taken); kept out, each such answer would cost the pool a slot until requests wait for ever
        response.close()
        response.release_conn()
        path = "".join(ch if ch.isprintable() else "?" for ch in urlsplit(url).path)
        path = path if len(path) <= 100 else path[:99] + "…"  # index patterns can be long: the line stays one
        return _Oversize(f"its answer to {method} {path} is over the {_size_text(limit)} bound on one answer; "
                         "not read")

    length = str(response.headers.get("content-length") or "")
    encoded = response.headers.get("content-encoding") not in (None, "", "identity")
    if length.isdigit() and int(length) > limit:  # said up front (compressed or not): no byte of it is read
        raise over()
    # the length is the body's only without a transfer-encoding: beside "chunked" it is ignored, and a node saying
    # "content-length: 10" with endless chunks was read whole past any bound
    if length.isdigit() and not encoded and "transfer-encoding" not in response.headers:
        return bytes(response.read())  # one read of the declared length, as before
    pieces: list[bytes] = []
    taken = 0
    while piece := response.read(_PIECE):  # decoded bytes, a bounded piece at a time (urllib3 >= 2.6)
        taken += len(piece)
        if taken > limit:
            pieces.clear()
            raise over()
        pieces.append(piece)
    return b"".join(pieces)


class _ReadAnswer:
    """An answer read whole: what ``Urllib3HttpNode.perform_request`` takes from urllib3's response."""

    def __init__(self, status: int, headers: Any, data: bytes) -> None:
        self.status = status
        self.headers = headers
        self.data = data


def _seconds(timeout: object) -> float | None:
    """The whole-request time of a urllib3 timeout (a number, ``None``, or a ``Timeout``'s total), or None."""
    if isinstance(timeout, urllib3.Timeout):
        timeout = timeout.total
    return float(timeout) if isinstance(timeout, int | float) else None


class _Alarm:
    """One deadline of :class:`_Watchdog`: its action, unless cancelled first."""

    __slots__ = ("action", "cancelled")

    def __init__(self, action: Callable[[], None]) -> None:
        self.action: Callable[[], None] | None = action
        self.cancelled = False

    def cancel(self) -> None:
        """Do not run the action (it may be running already: as ``threading.Timer.cancel``).

        The action (and what it holds: a request's connection and answer) is let go at once, not when the
        deadline comes up in the heap.
        """
        self.cancelled = True
        self.action = None


class _Watchdog:
    """One daemon thread that runs each request's expiry at its deadline, for every request of the process.

    A ``threading.Timer`` per request started and ended a thread per bulk request: about 0.1 ms of CPU each alone,
    more beside the agent's busy threads (docs/benchmarks.md, section 27). Deadlines wait in a heap; a cancelled
    one is dropped when it comes up (at most the requests of one timeout are held). The thread sleeps until the
    earliest deadline, with none it waits for the next request; it is started on first use. A forked child starts
    afresh (:meth:`after_fork`): no deadline of the parent's, no lock the parent's threads held.
    """

    def __init__(self) -> None:
        self._fresh()

    def _fresh(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, _Alarm]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def after_fork(self) -> None:
        """In a forked child: forget the parent's deadlines (their sockets are the parent's) and its lock state.

        The child has no watchdog thread, and the lock may have been held by one of the parent's threads at the
        fork; the parent's pending expiries would shut down sockets the child shares with the parent.
        """
        self._fresh()

    def start(self, seconds: float, action: Callable[[], None]) -> _Alarm:
        """Run ``action`` on the watchdog's thread ``seconds`` from now unless the returned alarm is cancelled."""
        alarm = _Alarm(action)
        with self._cond:
            heapq.heappush(self._heap, (time.monotonic() + seconds, next(self._order), alarm))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="request-deadlines", daemon=True)
                self._thread.start()
            elif self._heap[0][2] is alarm:  # earlier than what the thread sleeps towards
                self._cond.notify()
        return alarm

    def _due(self) -> _Alarm:
        with self._cond:
            while True:
                heap = self._heap
                while heap and heap[0][2].cancelled:
                    heapq.heappop(heap)
                now = time.monotonic()
                if heap and heap[0][0] <= now:
                    return heapq.heappop(heap)[2]
                self._cond.wait(heap[0][0] - now if heap else None)

    def _run(self) -> None:
        while True:
            action = self._due().action
            if action is not None:
                with contextlib.suppress(Exception):  # an action's failure must not stop every later deadline
                    action()


_WATCHDOG = _Watchdog()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_WATCHDOG.after_fork)


class _Watch:
    """One request's deadline state: its connection (once the pool gave it) and whether it went back."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.connection: Any = None
        self.response: Any = None
        self.released = False
        self.expired = False


class _DeadlinePool:
    """A urllib3 pool whose ``urlopen`` gets the whole answer before a deadline, or raises ``ReadTimeoutError``.

    urllib3's timeouts bound each socket read, not the answer: a node sending a byte just inside every read
    timeout (of its headers or of its body) holds a request for hours. Here a watchdog started with the request
    shuts its connection's socket down when the request's time is up, so a blocked read (the status line, a
    header, the body, a chunk, a decompressor) returns at once. One watchdog thread serves every request
    (:class:`_Watchdog`).

    The pool's ``_get_conn`` and ``_put_conn`` are wrapped to learn which connection the request took and when
    it went back: urllib3 returns it to the pool as the last byte is read, before the read returns, and a
    watchdog firing then would shut down the socket of whichever request took it next (seen: 1-3 of 600
    parallel requests answered near the deadline broke). Both happen in the request's thread; the watchdog
    acts only under the request's lock and never once the connection went back.
    """

    def __init__(self, pool: urllib3.HTTPConnectionPool, timeout: float | None, limit: int = ANSWER_LIMIT) -> None:
        self._pool = pool
        self._timeout = timeout
        self._limit = limit
        self._current = threading.local()  # the _Watch of the request this thread is making
        get_conn, put_conn = pool._get_conn, pool._put_conn

        def taken(timeout: float | None = None) -> Any:
            connection = get_conn(timeout=timeout)
            watch = getattr(self._current, "watch", None)
            if watch is not None:
                with watch.lock:
                    watch.connection, watch.released = connection, False
            return connection

        def given_back(connection: Any) -> None:
            watch = getattr(self._current, "watch", None)
            if watch is not None:
                with watch.lock:
                    watch.released = True
            put_conn(connection)

        pool._get_conn = taken  # type: ignore[method-assign]
        pool._put_conn = given_back  # type: ignore[method-assign,assignment]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool, name)

    def urlopen(self, method: str, url: str, **kw: Any) -> _ReadAnswer:
        """Send the request and read its whole answer within the request's timeout (the node's or ``timeout``).

        Raises:
            ReadTimeoutError: the answer was not read whole in time (the node reports "Connection timed out").
            _Oversize: the answer is longer than the pool's bound (:func:`_read_bounded`).
        """
        timeout = _seconds(kw.get("timeout", self._timeout))
        if timeout is None:  # no timeout asked for: only the size to bound
            response = self._pool.urlopen(method, url, preload_content=False, **kw)
            return _ReadAnswer(response.status, response.headers, _read_bounded(response, self._limit, method, url))
        watch = _Watch()

        def expire() -> None:
            with watch.lock:
                if watch.released or watch.connection is None:  # back in the pool (maybe another's), or none yet
                    return
                watch.expired = True
                # the socket's shutdown wakes the blocked read: it ends at once, short or failed. Once the headers
                # are in, the answer holds the socket (http.client detaches it from a closing connection)
                with contextlib.suppress(OSError, RuntimeError, ValueError):
                    if watch.response is not None:
                        watch.response.shutdown()
                    elif getattr(watch.connection, "sock", None) is not None:
                        watch.connection.sock.shutdown(socket.SHUT_RDWR)

        self._current.watch = watch
        watchdog = _WATCHDOG.start(timeout, expire)
        try:
            response = self._pool.urlopen(method, url, preload_content=False, **kw)
            with watch.lock:
                watch.response, late = response, watch.expired
            if late:  # expired between the headers and now, maybe with no socket to shut: read nothing more
                response.close()
                raise ReadTimeoutError(self._pool, url, f"no whole answer after {timeout:g} s")
            data = _read_bounded(response, self._limit, method, url)
        except (ReadTimeoutError, _Oversize):
            raise
        except Exception:
            if not watch.expired:
                raise
            raise ReadTimeoutError(self._pool, url, f"no whole answer after {timeout:g} s") from None
        finally:
            watchdog.cancel()
            self._current.watch = None
        if watch.expired:  # a body without a length ends "normally" when the socket is shut: never trust it
            response.close()
            raise ReadTimeoutError(self._pool, url, f"the answer was not complete after {timeout:g} s")
        return _ReadAnswer(response.status, response.headers, data)


class DeadlineNode(Urllib3HttpNode):
    """The default node, but ``request_timeout`` bounds the whole answer, not each socket read, and
    :attr:`answer_limit` its size."""

    #: the most bytes of one answer (:func:`make_client` makes a subclass for another bound)
    answer_limit = ANSWER_LIMIT

    def __init__(self, config: NodeConfig) -> None:
        super().__init__(config)
        self.pool = _DeadlinePool(self.pool, config.request_timeout, self.answer_limit)  # type: ignore[assignment]

    def perform_request(self, *args: Any, **kwargs: Any) -> Any:
        """As the default node's, but an answer over the bound is :class:`AnswerTooLarge`.

        Raises:
            AnswerTooLarge: the answer was longer than :attr:`answer_limit`. Not a ``ConnectionError``, which the
                client would retry (reading the bound again) and count against the node.
        """
        try:
            return super().perform_request(*args, **kwargs)
        except TransportConnectionError as exc:
            if isinstance(exc.__cause__, _Oversize):
                raise AnswerTooLarge(str(exc.__cause__)) from None
            raise


@functools.cache
def _node_class(answer_limit: int) -> type[DeadlineNode]:
    """A :class:`DeadlineNode` with another bound on one answer (one class per bound)."""
    if answer_limit == DeadlineNode.answer_limit:
        return DeadlineNode
    return type("DeadlineNode", (DeadlineNode,), {"answer_limit": answer_limit})


def make_client(settings: ConnectionSettings, *, answer_limit: int = ANSWER_LIMIT,
                **overrides: object) -> Elasticsearch:
    """Build an Elasticsearch client from ``settings``.

    Args:
        settings: where and how to connect.
        answer_limit: the most bytes of one answer the client reads (past it: :class:`AnswerTooLarge`).
        **overrides: extra keyword arguments for ``Elasticsearch`` (e.g. ``max_retries``).

    Returns:
        A configured client (no request is made). Responses are decoded by ``TolerantJsonSerializer``
        (orjson, exact fallback), so no stored document can make an answer unreadable. Each request, its
        answer read whole, takes at most about ``request_timeout`` (:class:`DeadlineNode`): then it fails
        with ``ConnectionTimeout``; an answer longer than ``answer_limit`` with :class:`AnswerTooLarge`.
    """
    kwargs: dict[str, object] = {
        "request_timeout": settings.request_timeout,
        "verify_certs": settings.verify_certs,
        # a trickling node would otherwise hold one request for hours, an endless answer take all memory
        "node_class": _node_class(answer_limit),
    }
    if "serializers" not in overrides:  # the agent's sink brings its own set (bulk bodies as bytes)
        kwargs["serializer"] = TolerantJsonSerializer()
    if settings.api_key:
        kwargs["api_key"] = settings.api_key
    elif settings.username is not None and settings.password is not None:
        kwargs["basic_auth"] = (settings.username, settings.password)
    if settings.ca_certs:
        kwargs["ca_certs"] = settings.ca_certs
    if not settings.verify_certs:
        kwargs["ssl_show_warn"] = False
    kwargs.update(overrides)
    return Elasticsearch(split_urls(settings.url), **kwargs)  # type: ignore[arg-type]
