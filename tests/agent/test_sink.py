"""Sink: per-item settlement of bulk responses, retries of only the failed items (fake client)."""

from __future__ import annotations

import threading
from typing import Any

import orjson
import pytest
from elastic_transport import ApiResponseMeta, ConnectionError, HttpHeaders, NodeConfig
from elasticsearch import ApiError

from auditlog.agent.backoff import EqualJitterBackoff
from auditlog.agent.batcher import Batch
from auditlog.agent.deadletter import DeadLetter
from auditlog.agent.metrics import Metrics
from auditlog.agent.sink import Abandoned, Sink

FAST = EqualJitterBackoff(initial=0.001, maximum=0.002)


class Resp:
    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body


def meta(status: int) -> ApiResponseMeta:
    return ApiResponseMeta(status, "1.1", HttpHeaders(), 0.0, NodeConfig("http", "localhost", 9200))


class Raw:
    """A script step answering exactly this body (of any shape)."""

    def __init__(self, body: Any) -> None:
        self.body = body


class FakeES:
    """Answers bulk requests from a script of per-item statuses (or exceptions, or raw bodies)."""

    def __init__(self, script: list[Any]) -> None:
        self.script = script
        self.bodies: list[list[str]] = []

    def options(self, **kw: Any) -> FakeES:
        return self

    def bulk(self, operations: bytes, filter_path: str) -> Resp:
        ids = [orjson.loads(a)["create"]["_id"] for a in operations.split(b"\n")[0::2] if a]
        self.bodies.append(ids)
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        if isinstance(step, Raw):
            return Resp(step.body)
        statuses = step(ids) if callable(step) else step
        items = []
        for s in statuses:
            if isinstance(s, tuple):  # (status, error type, reason)
                s, kind, why = s
                items.append({"create": {"status": s, "error": {"type": kind, "reason": why}}})
                continue
            item: dict[str, Any] = {"status": s}
            if s >= 300:
                item["error"] = {"type": "mapper_parsing_exception", "reason": "failed to parse field [x]"}
            items.append({"create": item})
        return Resp({"errors": any(i["create"]["status"] >= 300 for i in items), "items": items})


def batch(n: int) -> Batch:
    b = Batch(1)
    for i in range(n):
        b.entries.append(b'{"create":{"_index":"i","_id":"%d"}}\n{}\n' % i)
        b.origins.append(("key", "/f", i * 3, b"{}"))
    return b


def sink(es: FakeES, dead: list[DeadLetter] | None = None, **kw: Any) -> Sink:
    sink_dead = dead if dead is not None else []
    return Sink(es, backoff=FAST, metrics=Metrics(), dead_letter=sink_dead.append, **kw)  # type: ignore[arg-type]


def test_all_created() -> None:
    """A clean response counts every item as created."""
    r = sink(FakeES([[201, 201]])).send(batch(2))
    assert (r.created, r.duplicates, r.dead) == (2, 0, 0)


def test_409_counts_as_delivered() -> None:
    """A version conflict means the event is already there: a duplicate, not an error."""
    r = sink(FakeES([[201, 409]])).send(batch(2))
    assert (r.created, r.duplicates, r.dead) == (1, 1, 0)


def test_only_failed_items_are_resent() -> None:
    """After 429 and 503 items, the retry carries exactly those items."""
    es = FakeES([[201, 429, 201, 503], [201, 201]])
    sink(es).send(batch(4))
    assert es.bodies == [["0", "1", "2", "3"], ["1", "3"]]


def test_400_item_is_dead_lettered_with_reason() -> None:
    """A mapping error is dead-lettered with Elasticsearch's type and reason, at the line's offset."""
    dead: list[DeadLetter] = []
    sink(FakeES([[201, 400]]), dead).send(batch(2))
    got = [(d.reason, d.offset, d.stage) for d in dead]
    assert got == [("400 mapper_parsing_exception: failed to parse field [x]", 3, "index")]


def test_connection_error_is_retried() -> None:
    """A connection error re-sends the whole pending batch until it goes through."""
    es = FakeES([ConnectionError("refused"), ConnectionError("refused"), [201]])
    r = sink(es).send(batch(1))
    assert (r.created, r.retries) == (1, 2)


def test_whole_request_503_is_retried() -> None:
    """A 503 for the whole request is retried."""
    es = FakeES([ApiError("unavailable", meta(503), {}), [201]])
    assert sink(es).send(batch(1)).created == 1


def test_whole_request_400_isolates_the_refused_document() -> None:
    """A 400 for the whole request is narrowed down by halves: only the document that causes it is dead-lettered."""
    dead: list[DeadLetter] = []
    bad = ApiError("bad", meta(400), {"error": {"type": "parse_exception", "reason": "bad body"}})
    es = FakeES([bad, [201], bad])
    r = sink(es, dead).send(batch(2))
    got = ([d.offset for d in dead], [d.reason for d in dead], r.created)
    assert got == ([3], ["400 parse_exception: bad body"], 1)


def test_stopping_agent_abandons_after_deadline() -> None:
    """When stopping and past the deadline, a failing batch is abandoned (not acknowledged)."""
    stopping = threading.Event()
    stopping.set()
    es = FakeES([ConnectionError("down")] * 100)
    with pytest.raises(Abandoned):
        sink(es, stopping=stopping, deadline=lambda: 0.0).send(batch(1))


def test_whole_request_413_splits_down_to_the_one_oversized_document() -> None:
    """A 413 halves the request until only the document over the limit is left, which is dead-lettered."""
    dead: list[DeadLetter] = []
    too_big = ApiError("too large", meta(413), "")
    es = FakeES([too_big, [201, 201], too_big, too_big, [201]])  # [0,1] ok; [2,3] too big; [2] too big; [3] ok
    r = sink(es, dead).send(batch(4))
    got = ([d.offset for d in dead], dead[0].reason.split(":")[0], r.created, es.bodies)
    assert got == ([6], "413 request entity too large", 3, [["0", "1", "2", "3"], ["0", "1"], ["2", "3"], ["2"], ["3"]])


def test_item_write_block_is_held_and_counted_not_dead_lettered() -> None:
    """A cluster_block_exception item is re-sent until the block goes, counted as backpressure."""
    dead: list[DeadLetter] = []
    block = (403, "cluster_block_exception", "index [a] blocked by: [FORBIDDEN/8/index write (api)];")
    m = Metrics()
    es = FakeES([[201, block], [block], [201]])
    r = Sink(es, backoff=FAST, metrics=m, dead_letter=dead.append).send(batch(2))  # type: ignore[arg-type]
    assert (r.created, dead, m.backpressure) == (2, [], {"cluster_block": 2})


def test_whole_request_401_is_backpressure() -> None:
    """Rejected credentials hold the whole request (counted as 'unauthorized') instead of dead-lettering it."""
    m = Metrics()
    es = FakeES([ApiError("auth", meta(401), {"error": {"type": "security_exception", "reason": "unable to "
                                                                   "authenticate"}}), [201, 201]])
    r = Sink(es, backoff=FAST, metrics=m).send(batch(2))  # type: ignore[arg-type]
    assert (r.created, r.dead, m.backpressure) == (2, 0, {"unauthorized": 2})


def test_409_for_an_id_sent_with_other_content_is_an_id_conflict(tmp_path: Any,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """With the id record, a 409 whose line differs from the one first sent is dead-lettered as id_conflict (here
    the in-memory table does not know the id: a reuse older than its window)."""
    from auditlog.agent.idrecord import IdRecord

    ids, m = IdRecord(tmp_path), Metrics()
    monkeypatch.setattr(ids._table, "check", lambda ids, crcs, lens: [])
    dead: list[DeadLetter] = []
    first, second = batch(1), batch(1)
    second.origins[0] = ("key", "/f", 99, b"another line")
    s = Sink(FakeES([[201], [409]]), backoff=FAST, metrics=m, dead_letter=dead.append, ids=ids)  # type: ignore[arg-type]
    s.send(first)
    r = s.send(second)
    got = (r.duplicates, r.dead, m.id_conflicts, [(d.offset, d.reason.split(":")[0]) for d in dead])
    assert got == (0, 1, 1, [(99, "id_conflict")])


def test_a_reuse_found_before_sending_is_dead_lettered_and_not_sent(tmp_path: Any) -> None:
    """An entry whose id was sent before with another line is dead-lettered as id_conflict and left out of the
    request (another daily index would store it without a 409); the rest of its batch goes out."""
    from auditlog.agent.idrecord import IdRecord

    es, m, dead = FakeES([[201], [201]]), Metrics(), []  # type: ignore[var-annotated]
    s = Sink(es, backoff=FAST, metrics=m, dead_letter=dead.append, ids=IdRecord(tmp_path))  # type: ignore[arg-type]
    s.send(batch(1))
    second = batch(2)
    second.origins[0] = ("key", "/f", 99, b"another line")
    r = s.send(second)
    got = (r.created, r.dead, r.dead_items, m.id_conflicts, es.bodies[1], [d.reason.split(":")[0] for d in dead])
    assert got == (1, 1, [0], 1, ["1"], ["id_conflict"])


def test_a_retried_batch_writes_its_conflict_once(tmp_path: Any) -> None:
    """A batch retried after an unexpected failure counts its conflict again but writes its dead letter once."""
    from auditlog.agent.idrecord import IdRecord

    es, m, dead = FakeES([[201], RuntimeError("an answer nobody expected"), [201]]), Metrics(), []  # type: ignore[var-annotated]
    s = Sink(es, backoff=FAST, metrics=m, dead_letter=dead.append, ids=IdRecord(tmp_path))  # type: ignore[arg-type]
    s.send(batch(1))
    second = batch(2)
    second.origins[0] = ("key", "/f", 99, b"another line")
    r = s.send(second)
    assert (r.created, r.dead, r.dead_items, m.id_conflicts, len(dead)) == (1, 1, [0], 1, 1)


def test_409_for_the_same_line_stays_a_duplicate(tmp_path: Any) -> None:
    """With the id record, a re-send of the same line answered 409 is delivered, silently."""
    from auditlog.agent.idrecord import IdRecord

    dead: list[DeadLetter] = []
    s = Sink(FakeES([[201], [409]]), backoff=FAST, metrics=Metrics(), dead_letter=dead.append,  # type: ignore[arg-type]
             ids=IdRecord(tmp_path))
    s.send(batch(1))
    r = s.send(batch(1))
    assert (r.duplicates, dead) == (1, [])


def test_an_answer_that_is_not_a_bulk_response_acknowledges_nothing() -> None:
    """{} (a proxy's), errors without items, or fewer items than sent are retried, never counted as created."""
    es = FakeES([Raw({}), Raw({"errors": False}), Raw({"errors": False, "items": [{"create": {"status": 201}}]}),
                 Raw(["not", "an", "object"]), [201, 201]])
    r = sink(es).send(batch(2))
    assert ((2, 0, 0), 5) == ((r.created, r.duplicates, r.dead), len(es.bodies))


def test_the_sink_client_bounds_each_whole_answer() -> None:
    """The client the agent builds for its sink uses the node whose request timeout bounds the whole answer."""
    from auditlog.agent.sink import client_options
    from auditlog.indexer.client import ConnectionSettings, DeadlineNode, make_client

    client = make_client(ConnectionSettings(url="http://127.0.0.1:9200"), **client_options())
    try:
        assert [True] == [isinstance(node, DeadlineNode) for node in client.transport.node_pool.all()]
    finally:
        client.close()


def test_a_bulk_answer_over_the_bound_is_retried_as_no_answer_and_dead_letters_nothing() -> None:
    """An answer past the agent's bound is no answer: the batch is sent again until given up, no line dead-lettered."""
    import time

    from auditlog.agent.sink import bulk_answer_limit, client_options
    from auditlog.indexer.client import ConnectionSettings, make_client
    from tests.support.oversize import oversize_cluster

    dead: list[DeadLetter] = []
    with oversize_cluster("fixed", bulk_answer_limit(2, 1024) + (1 << 20)) as (url, requests):
        client = make_client(ConnectionSettings(url=url), **client_options(2, 1024))
        stopping = threading.Event()
        stopping.set()
        deadline = time.monotonic() + 1.0
        try:
            with pytest.raises(Abandoned):
                sink(client, dead, stopping=stopping, deadline=lambda: deadline).send(batch(2))  # type: ignore[arg-type]
        finally:
            client.close()
    assert (True, []) == (len(requests) > 1, dead)


def test_an_answer_quoting_twice_a_batch_sealed_by_one_longest_line_is_read() -> None:
    """A batch just under batch.max_bytes plus one line of inputs.max_line_bytes may be answered with twice its bytes:
    that answer is read, not retried for ever as over the bound."""
    from auditlog.agent.sink import client_options
    from auditlog.indexer.client import ConnectionSettings, make_client
    from tests.support.oversize import oversize_cluster

    line = 20 << 20
    with oversize_cluster("fixed", 2 * (1024 + line)) as (url, _requests):
        client = make_client(ConnectionSettings(url=url), **client_options(2, 1024, line))
        try:
            assert 2 * (1024 + line) == len(client.count(index="audit-x")["a"])
        finally:
            client.close()


def test_an_answer_of_created_items_is_known_by_its_bytes() -> None:
    """The answer Elasticsearch writes for 3 created items gives errors false and 3 items without being parsed."""
    from auditlog.agent.sink import _BulkAnswers

    answer = b'{"errors":false,"items":[' + b",".join([b'{"create":{"status":201}}'] * 3) + b"]}"
    decoded = _BulkAnswers().loads(answer)
    assert (decoded["errors"], len(decoded["items"])) == (orjson.loads(answer)["errors"], 3)


@pytest.mark.parametrize("answer", [
    b'{"errors":true,"items":[{"create":{"status":201}},{"create":{"status":409,"error":{"type":"v"}}}]}',
    b'{"errors":false,"items":[{"create":{"status":201}}, {"create":{"status":201}}]}',
    b'{"errors":false,"items":[{"create":{"status":201}},{"create":{"status":202}}]}',
    b'{"errors":false,"items":[{"create":{"status":201}}]}  ',
    b'{"errors":false,"items":[]}',
    b'{"errors":false,"items":[{"create":{"status":201}}{"create":{"status":201}},]}',
], ids=["a-409", "a-blank", "another-status", "trailing-blanks", "no-items", "no-comma"])
def test_any_other_answer_is_parsed(answer: bytes) -> None:
    """An answer that is not exactly the all-created one (a 409, a blank, another status) is parsed as JSON: the
    same result, or the same failure, as the client's own orjson serializer."""
    from elasticsearch.serializer import OrjsonSerializer

    from auditlog.agent.sink import _BulkAnswers

    def outcome(loads: Any) -> Any:
        try:
            return loads(answer)
        except Exception as exc:  # the failure's type is what is compared
            return type(exc)

    assert outcome(_BulkAnswers().loads) == outcome(OrjsonSerializer().loads)
