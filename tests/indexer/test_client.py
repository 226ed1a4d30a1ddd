"""Connection settings and the client factory with one or several node URLs; the request deadline against a
loopback server that trickles its answer."""

from __future__ import annotations

import contextlib
import os
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler

import pytest
from elasticsearch import ConnectionTimeout

from auditlog.indexer.client import (
    _WATCHDOG,
    AnswerTooLarge,
    ConnectionSettings,
    _Watchdog,
    make_client,
    safe_url,
    split_urls,
)
from tests.support.hostile_cluster import serving
from tests.support.oversize import oversize_cluster


def test_comma_separated_urls_are_split_and_trimmed() -> None:
    """A list of node URLs becomes one URL per node, blanks and spaces dropped."""
    assert ["http://a:9200", "http://b:9201"] == split_urls(" http://a:9200, http://b:9201,")


def test_client_knows_every_node_of_the_list() -> None:
    """A client made from three URLs has three nodes to send requests to."""
    client = make_client(ConnectionSettings(url="http://127.0.0.1:9200,http://127.0.0.1:9201,http://127.0.0.1:9202"))
    try:
        assert 3 == len(client.transport.node_pool.all())
    finally:
        client.close()


def test_a_bad_url_in_the_list_is_refused() -> None:
    """Every URL of the list must be http(s); the message names the bad one."""
    with pytest.raises(ValueError, match="'ftp://b'"):
        ConnectionSettings(url="http://a:9200,ftp://b")


def test_credentials_are_hidden_in_every_url_of_a_list() -> None:
    """safe_url hides the user-info part of each URL in a list."""
    assert "https://***@a:9200,https://***@b:9200" == safe_url("https://u:p@a:9200,https://u:p@b:9200")


@pytest.mark.parametrize("key", ["schlüssel", "a b", "id:\x1b[2J", os.fsdecode(b"\xff")])
def test_an_api_key_that_no_header_can_carry_is_refused_without_showing_it(key: str) -> None:
    """A key that is not printable ASCII is a settings error whose message does not contain the key."""
    with pytest.raises(ValueError, match="printable ASCII") as exc:
        ConnectionSettings(api_key=key)
    assert key not in str(exc.value)


def test_a_ca_bundle_with_an_http_url_is_refused() -> None:
    """ca_certs with an http:// URL is a settings error, not the client's ValueError later."""
    with pytest.raises(ValueError, match="https:// URLs only"):
        ConnectionSettings(url="http://127.0.0.1:9200", ca_certs="/etc/ssl/ca.crt")


@pytest.mark.parametrize("url", ["http://user:s3cr3tPW@a b", "http://user:s3cr3tPW@[::1]x:9",
                                 "http://user:s3cr3tPW@\uff41:9", f"http://user:s3cr3tPW@{'a' * 64}:9",
                                 "http://user:s3cr3tPW@localhost", "http://user:s3cr3tPW@a..b:9",
                                 "http://user:s3cr3tPW@.a:9"])
def test_a_host_the_client_cannot_parse_is_refused_without_the_password(url: str) -> None:
    """A URL whose host the client would choke on is a settings error whose message hides the password."""
    with pytest.raises(ValueError, match="es url") as exc:
        ConnectionSettings(url=url)
    assert "s3cr3tPW" not in str(exc.value)


def test_a_password_holding_a_slash_is_hidden_in_messages() -> None:
    """safe_url hides the user-info up to the last '@' even when the password holds a '/'."""
    assert "http://***@h:9200" == safe_url("http://u:pa/ss@h:9200")


@pytest.mark.parametrize(("url", "shown"), [
    ("http://h:9200/?api_key=SECRET", "http://h:9200/?***"),
    ("https://u:p@h:9200/es?token=SECRET#x", "https://***@h:9200/es?***"),
    ("h:9200#SECRET", "h:9200?***"),
    ("http://h:9200/es", "http://h:9200/es"),
])
def test_a_query_or_fragment_is_hidden_in_messages(url: str, shown: str) -> None:
    """safe_url hides what follows '?' or '#' (an api_key or token there is a secret too), keeping host and path."""
    assert shown == safe_url(url)


@pytest.mark.parametrize(("field", "value"), [("username", "j\u00fcrgen"), ("password", "p\u00e4sswort"),
                                              ("password", "pw\x1b[2J"), ("username", "a:b")])
def test_a_credential_that_basic_auth_cannot_carry_is_refused_without_showing_it(field: str, value: str) -> None:
    """A user name or password the client cannot encode is a settings error naming the field, not the value."""
    other = {"username": "u", "password": "p"}
    other[field] = value
    with pytest.raises(ValueError, match=f"es {field}") as exc:
        ConnectionSettings(**other)  # type: ignore[arg-type]
    assert value not in str(exc.value)


def test_a_password_holding_a_comma_is_not_shown_in_part() -> None:
    """A password with ',' splits the URL list; the refusal does not show the half before the '@'."""
    with pytest.raises(ValueError, match="es url") as exc:
        ConnectionSettings(url="http://elastic:s3cr,3tPW@host:9200")
    assert "s3cr" not in str(exc.value)


#: The answer the trickling server starts: a valid page, padded so that it takes long to send whole.
_TRICKLED = b'{"took": 1, "hits": {"total": {"value": 0, "relation": "eq"}, "hits": []}}' + b" " * 100_000


def _send_slowly(handler: BaseHTTPRequestHandler, data: bytes) -> None:
    """Write ``data`` a byte every 50 ms, then close (gives up after 20 s: a hang bound for the test)."""
    end = time.monotonic() + 20
    with contextlib.suppress(OSError):  # the client gave up: that is what the test wants
        for byte in data:
            if time.monotonic() > end:
                break
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
            time.sleep(0.05)
    handler.close_connection = True


def _times_out_soon(url: str, *, client_timeout: float, request_timeout: float | None = None) -> bool:
    """Whether one search at ``url`` fails with ConnectionTimeout within 6 s (``request_timeout``: via options())."""
    client = make_client(ConnectionSettings(url=url, request_timeout=client_timeout), max_retries=0,
                         retry_on_timeout=False)
    started = time.monotonic()
    try:
        with pytest.raises(ConnectionTimeout):
            (client if request_timeout is None else client.options(request_timeout=request_timeout)).search(
                index="audit-*")
    finally:
        client.close()
    return time.monotonic() - started < 6


class _Trickle(BaseHTTPRequestHandler):
    """Answers 200 at once, then sends the body a byte every 50 ms (gives up after 20 s: a hang bound)."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("x-elastic-product", "Elasticsearch")
        if self.server.framing == "length":  # type: ignore[attr-defined]
            self.send_header("content-length", str(len(_TRICKLED)))
        else:  # no length: the body ends when the connection does
            self.send_header("connection", "close")
        self.end_headers()
        _send_slowly(self, _TRICKLED)

    do_POST = do_GET

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output quiet."""


@contextmanager
def _trickling_node(framing: str) -> Iterator[str]:
    """Serve the trickle on a free loopback port, its body framed by ``length`` or ``close``; yield the URL."""
    with serving(_Trickle, framing=framing) as url:
        yield url


@pytest.mark.parametrize("framing", ["length", "close"])
def test_a_trickling_answer_times_out_after_the_request_timeout(framing: str) -> None:
    """A body sent a byte at a time ends in a timeout near request_timeout, not when the last byte arrives."""
    with _trickling_node(framing) as url:
        assert _times_out_soon(url, client_timeout=1.0)


def test_a_per_request_timeout_bounds_the_whole_answer_too() -> None:
    """A request_timeout given through options() is the deadline of that request's whole answer."""
    with _trickling_node("length") as url:
        assert _times_out_soon(url, client_timeout=600.0, request_timeout=1.0)


class _SlowHeaders(BaseHTTPRequestHandler):
    """Sends its status line and headers a byte every 50 ms (each read is quick; the whole is not)."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        head = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-elastic-product: Elasticsearch\r\n"
                + b"x-padding: " + b"p" * 400 + b"\r\ncontent-length: 2\r\n\r\n{}")
        _send_slowly(self, head)

    do_GET = do_POST

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output quiet."""


def test_headers_trickled_a_byte_at_a_time_time_out_too() -> None:
    """A node sending even its status line and headers a byte at a time is given up near request_timeout."""
    with serving(_SlowHeaders) as url:
        assert _times_out_soon(url, client_timeout=1.0)


class _Late(BaseHTTPRequestHandler):
    """Answers keep-alive with the headers at once and the body 15-25 ms later: near a 20 ms deadline."""

    protocol_version = "HTTP/1.1"
    _BODY = b'{"took": 1, "hits": {"total": {"value": 0, "relation": "eq"}, "hits": []}}'

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("x-elastic-product", "Elasticsearch")
        self.send_header("content-length", str(len(self._BODY)))
        self.end_headers()
        self.wfile.flush()
        self._pause()
        with contextlib.suppress(OSError):
            self.wfile.write(self._BODY)

    def _pause(self) -> None:
        time.sleep(random.uniform(0.015, 0.025))

    do_GET = do_POST

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output quiet."""


def test_a_deadline_near_the_last_byte_never_breaks_another_request_on_the_pooled_connection() -> None:
    """Answers landing at the deadline time out or arrive whole: the watchdog never shuts a connection the
    pool already gave to the next request (which then failed with a broken connection, not a timeout)."""
    failures: list[str] = []
    with serving(_Late) as url:
        client = make_client(ConnectionSettings(url=url, request_timeout=0.02), max_retries=0, retry_on_timeout=False)

        def searches() -> None:
            for _ in range(150):
                try:
                    client.search(index="audit-*")
                except ConnectionTimeout:
                    pass
                except Exception as exc:  # what the race gave: a protocol error on a healthy answer
                    failures.append(repr(exc)[:120])

        threads = [threading.Thread(target=searches) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        client.close()
    assert [] == failures


class _Quick(_Late):
    """Answers every request at once, keep-alive."""

    def _pause(self) -> None:
        """No wait between the headers and the body."""


def test_requests_start_no_thread_each_for_their_deadlines(monkeypatch: pytest.MonkeyPatch) -> None:
    """40 requests with a timeout start at most one thread (the shared watchdog), not a timer thread each."""
    started: list[str] = []
    start = threading.Thread.start

    def counted(self: threading.Thread) -> None:
        started.append(self.name)
        start(self)

    with serving(_Quick) as url:
        client = make_client(ConnectionSettings(url=url, request_timeout=5.0), max_retries=0)
        client.search(index="audit-*")  # the first request may start the watchdog
        monkeypatch.setattr(threading.Thread, "start", counted)
        for _ in range(40):
            client.search(index="audit-*")
        client.close()
    assert [] == started


def test_the_watchdog_runs_each_due_action_once_in_deadline_order_and_never_a_cancelled_one() -> None:
    """Actions run at their deadlines, earliest first (one added later but due sooner too); cancelled ones never."""
    dog = _Watchdog()
    ran: list[str] = []
    done = threading.Event()

    def last() -> None:
        ran.append("late")
        done.set()

    dog.start(0.30, last)
    dog.start(0.20, lambda: ran.append("middle"))
    dropped = dog.start(0.10, lambda: ran.append("cancelled"))
    dog.start(0.05, lambda: ran.append("early"))
    dropped.cancel()
    began = time.monotonic()
    assert done.wait(5)
    assert ran == ["early", "middle", "late"]
    assert time.monotonic() - began >= 0.25


def test_an_action_that_raises_does_not_stop_later_deadlines() -> None:
    """A failing action is the watchdog's last concern: the next deadline still fires."""
    dog = _Watchdog()
    done = threading.Event()

    def failing() -> None:
        raise RuntimeError("action")

    dog.start(0.01, failing)
    dog.start(0.05, done.set)
    assert done.wait(5)


def test_a_forked_child_runs_none_of_the_parents_deadlines_and_keeps_its_own() -> None:
    """A deadline pending at a fork runs in the parent only (its socket is the parent's); the child's own fires."""
    read_end, write_end = os.pipe()

    def note(who: str) -> None:
        os.write(write_end, f"{who}{os.getpid()}\n".encode())

    parents = _WATCHDOG.start(0.3, lambda: note("parent's deadline in "))
    pid = os.fork()
    if pid == 0:  # the child: its own deadline, then long enough for the parent's to have come up
        code = 3
        try:
            done = threading.Event()

            def own() -> None:
                note("child's deadline in ")
                done.set()

            _WATCHDOG.start(0.05, own)
            code = 0 if done.wait(5) else 4
            time.sleep(0.5)
        finally:
            os._exit(code)
    status, waited = None, time.monotonic() + 10
    while status is None and time.monotonic() < waited:  # a child stuck on a lock held at the fork must not hang us
        done_pid, raw = os.waitpid(pid, os.WNOHANG)
        status = raw if done_pid else None
        time.sleep(0.05)
    if status is None:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    time.sleep(0.1)
    parents.cancel()
    os.close(write_end)
    with os.fdopen(read_end) as notes:
        seen = set(notes.read().split("\n")) - {""}
    assert (0, {f"child's deadline in {pid}", f"parent's deadline in {os.getpid()}"}) == (
        None if status is None else os.waitstatus_to_exitcode(status), seen)


@pytest.mark.parametrize("url", ["http://user:TOPSECRET,PW@127.0.0.1:1", "ftp://user:TOPSECRET,PW@127.0.0.1:1",
                                 "http://a:9200,http://user:TOPSECRET,PW@b:9200", "http://u:TOPSECRET@b,c@h:1"])
def test_a_list_whose_password_may_hold_a_comma_is_not_shown(url: str) -> None:
    """safe_url shows no part of a list whose parts are not each a URL with user-info (a ',' may split a password)."""
    assert "(not shown: the list holds credentials)" == safe_url(url)


def test_a_list_without_credentials_is_shown_as_is() -> None:
    """safe_url leaves a list that holds no '@' as it is."""
    assert "http://a:9200,http://b:9200" == safe_url("http://a:9200,http://b:9200")


@pytest.mark.parametrize(("mode", "size"), [("fixed", (1 << 20) + 1), ("endless", 0), ("gzip", 8 << 20),
                                           ("lying", 8 << 20)])
def test_an_answer_over_the_bound_ends_the_request_naming_the_bound_and_the_path(mode: str, size: int) -> None:
    """A declared, an endless, a decompressed and a chunked answer behind a short content-length over the client's
    bound end in AnswerTooLarge, asked once."""
    with oversize_cluster(mode, size) as (url, requests):
        client = make_client(ConnectionSettings(url=url, request_timeout=20), answer_limit=1 << 20, max_retries=3)
        try:
            with pytest.raises(AnswerTooLarge) as caught:
                client.count(index="audit-x")
        finally:
            client.close()
    message = str(caught.value.message)
    assert (True, True, 1) == ("over the 1 MiB bound" in message, "POST /audit-x/_count" in message, len(requests))


def test_an_answer_of_exactly_the_bound_is_read() -> None:
    """The bound is the longest answer taken: one of exactly that many bytes is read whole."""
    with oversize_cluster("fixed", (1 << 20) - 9) as (url, _requests):
        client = make_client(ConnectionSettings(url=url), answer_limit=1 << 20)
        try:
            assert (1 << 20) - 9 == len(client.count(index="audit-x")["a"])
        finally:
            client.close()


def test_answers_over_the_bound_do_not_use_up_the_pools_connections() -> None:
    """More oversize answers than the pool has connections each end in AnswerTooLarge; none waits for a free one."""
    with oversize_cluster("endless") as (url, requests):
        client = make_client(ConnectionSettings(url=url, request_timeout=20), answer_limit=1 << 16, max_retries=0)
        try:
            for _ in range(12):  # a node's pool holds 10
                with pytest.raises(AnswerTooLarge):
                    client.count(index="audit-x")
        finally:
            client.close()
    assert 12 == len(requests)
