"""Sink: send a batch with bulk ``create`` and settle every item, retrying transient failures forever.

What each answer means is :data:`agent.responses.POLICY`: per item, 201 = shipped; 409 = already
delivered (an earlier attempt or a re-read after a crash; counted, not an error); 429 and 5xx =
re-sent (only those items) after a capped exponential backoff with equal jitter
(:class:`agent.backoff.EqualJitterBackoff`); a cluster's refusal
(write block, shard limit, missing index, credentials) = backpressure: held and re-sent the same way,
with a loud log line and ``auditlog_agent_backpressure_total{cause}``; any other 4xx = dead-lettered
with Elasticsearch's reason. A whole request failing with a connection error, 408/429/5xx, 401/403
or 404 is retried the same way, forever: reading stops upstream because the batch queue is bounded,
so the files are the buffer. A whole request refused as too large (413) or as a bad body (other 4xx)
is split in halves, down to the one document that is dead-lettered. The Elasticsearch client's own
retries are off (``max_retries=0``); this loop owns them.

``send`` returns only when every item is settled, or raises :class:`Abandoned` when the agent is
shutting down and gave up waiting (the batch is then not acknowledged and is re-read next start).
Every request passes the :class:`agent.concurrency.RequestSlots` gate, which bounds the requests in
flight and learns that bound from the latencies it sees. What must precede a send (the id record,
the body) is done by :meth:`Sink.prepare` ahead of time, by the reader, so the thread that gets an
answer sends the next request without doing anything else first.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from elastic_transport import TransportError
from elasticsearch import ApiError, Elasticsearch
from elasticsearch.serializer import NdjsonSerializer, OrjsonSerializer

from auditlog.agent.backoff import EqualJitterBackoff
from auditlog.agent.batcher import Batch
from auditlog.agent.concurrency import RequestSlots, unlimited
from auditlog.agent.deadletter import DeadLetter
from auditlog.agent.idrecord import IdRecord, entry_id
from auditlog.agent.metrics import Counter, Metrics
from auditlog.agent.responses import ITEM, NO_ANSWER, REQUEST, Action, Rule, decide

log = structlog.get_logger("auditlog.agent.sink")

#: compact responses: only what settling needs.
FILTER_PATH = "errors,items.*.status,items.*.error"


def _is_bulk_answer(body: Any, items: int) -> bool:
    """Whether ``body`` is what ``_bulk`` with :data:`FILTER_PATH` answers for ``items`` entries."""
    return (type(body) is dict and type(body.get("errors")) is bool and type(found := body.get("items")) is list
            and len(found) == items)


def _shape(body: Any) -> str:
    """A short description of an answer's shape for the log (never its content: it may quote events)."""
    if type(body) is dict:
        return f"an object with keys {sorted(str(k)[:40] for k in body)[:8]}"
    return f"a {type(body).__name__}"


#: A filtered bulk answer whose every item was created, as Elasticsearch writes it: its head, one item, its tail.
_CREATED_HEAD, _CREATED_ITEM, _CREATED_TAIL = b'{"errors":false,"items":[', b'{"create":{"status":201}}', b"]}"


class _BulkAnswers(OrjsonSerializer):
    """orjson, but a bulk answer whose every item was created is known by its bytes instead of parsed.

    Parsing it built two dicts per event that the sink never reads (with ``errors`` false it counts the items
    only): 0.34 ms of a sender's CPU per answer of 2,000. The answer must equal, byte for byte, the one
    Elasticsearch writes for ``n`` created items; anything else (a 409, an error, other spacing) is parsed.
    """

    def __init__(self) -> None:
        super().__init__()
        self._created: dict[int, bytes] = {}  # n -> the answer for n created items (a few sizes: the full batch)

    def loads(self, data: bytes) -> Any:
        """Decode an answer; for one of created items only, ``{"errors": False, "items": [None] * n}``."""
        if type(data) is bytes and data.startswith(_CREATED_HEAD) and data.endswith(_CREATED_TAIL):
            n, rest = divmod(len(data) - len(_CREATED_HEAD) - len(_CREATED_TAIL) + 1, len(_CREATED_ITEM) + 1)
            if n > 0 and not rest and data == self._all_created(n):
                return {"errors": False, "items": [None] * n}
        return super().loads(data)

    def _all_created(self, n: int) -> bytes:
        answer = self._created.get(n)
        if answer is None:
            if len(self._created) >= 4:  # a batch cut short now and then: keep the memory to a few answers
                self._created.clear()
            answer = self._created[n] = _CREATED_HEAD + b",".join([_CREATED_ITEM] * n) + _CREATED_TAIL
        return answer


class _BytesNdjson(NdjsonSerializer):
    """NDJSON serializer that passes a ready bulk body (bytes ending in a newline) through uncopied."""

    def dumps(self, data: Any) -> bytes:
        if type(data) is bytes and data.endswith(b"\n"):
            return data
        return super().dumps(data)


def bulk_answer_limit(max_events: int, max_bytes: int, max_line_bytes: int = 1 << 20) -> int:
    """The most bytes of one bulk answer the agent reads, for batches of ``max_events`` / ``max_bytes``.

    With :data:`FILTER_PATH` an answer holds a status per item and, for a refused item, Elasticsearch's error:
    its type, index and a reason that may quote the document's value. So a legitimate answer is at most about
    twice the body sent (a reason and its cause quoting it), 2 KiB of names per item, and 16 MiB to spare. The
    body is sealed once it reaches ``max_bytes``, so the longest is just under ``max_bytes`` and one more line
    of ``inputs.max_line_bytes``: 30 MiB for the default 2,000 events / 4 MiB / 1 MiB lines. A longer one is
    no answer (``AnswerTooLarge``): retried, as the status policy retries an answer it cannot read, never
    dead-lettered.

    Args:
        max_events: ``batch.max_events``.
        max_bytes: ``batch.max_bytes``.
        max_line_bytes: ``inputs.max_line_bytes`` (a batch's last entry may be that long, past ``max_bytes``).

    Returns:
        The bound in bytes.
    """
    return (16 << 20) + 2 * (max_bytes + max_line_bytes) + max_events * 2048


def client_options(max_events: int = 2000, max_bytes: int = 4 << 20, max_line_bytes: int = 1 << 20) -> dict[str, Any]:
    """Keyword arguments for :func:`indexer.client.make_client` when the client feeds a :class:`Sink`.

    The client's own retries are off (the sink retries, forever, per item); bulk bodies built as
    bytes are sent as they are; responses are decoded with orjson. Together this halves the
    client-side CPU per event compared with the defaults. One answer is read up to
    :func:`bulk_answer_limit` of the batch settings.

    Args:
        max_events: ``batch.max_events`` (the default's).
        max_bytes: ``batch.max_bytes`` (the default's).
        max_line_bytes: ``inputs.max_line_bytes`` (the default's).
    """
    ndjson, json_ = _BytesNdjson(), _BulkAnswers()
    return {
        "answer_limit": bulk_answer_limit(max_events, max_bytes, max_line_bytes),
        "max_retries": 0,
        "retry_on_timeout": False,
        "retry_on_status": (),
        "serializers": {
            "application/x-ndjson": ndjson,
            "application/vnd.elasticsearch+x-ndjson": ndjson,
            "application/json": json_,
            "application/vnd.elasticsearch+json": json_,
        },
    }


class Abandoned(Exception):
    """The agent is stopping and the batch was not fully settled."""


@dataclass(slots=True)
class Settled:
    """How a batch's items ended."""

    created: int = 0
    duplicates: int = 0
    dead: int = 0
    retries: int = 0
    dead_items: list[int] = field(default_factory=list)  # which entries were dead-lettered (digests skip them)
    duplicate_items: list[int] = field(default_factory=list)  # answered 409 (digests cannot know their bytes)


def item_reason(status: int, error: Any) -> str:
    """Format Elasticsearch's item error as ``"<status> <type>: <reason> (caused by ...)"``."""
    if not isinstance(error, dict):
        return f"{status} {error}"
    text = f"{status} {error.get('type', 'error')}: {error.get('reason', '')}"
    cause = error.get("caused_by")
    if isinstance(cause, dict):
        text += f" (caused by {cause.get('type', '')}: {cause.get('reason', '')})"
    return text


class Sink:
    """Sends batches to Elasticsearch and settles every item."""

    def __init__(
        self,
        client: Elasticsearch,
        *,
        backoff: EqualJitterBackoff | None = None,
        metrics: Metrics | None = None,
        dead_letter: Callable[[DeadLetter], None] | None = None,
        stopping: threading.Event | None = None,
        deadline: Callable[[], float | None] = lambda: None,
        ids: IdRecord | None = None,
        slots: RequestSlots | None = None,
    ) -> None:
        """Wire the sink.

        Args:
            client: a client with its own retries off.
            backoff: how long to wait between attempts.
            metrics: counters to update.
            dead_letter: where permanently rejected items go.
            stopping: set when the agent shuts down (waits become interruptible).
            deadline: returns the monotonic time after which a stopping agent abandons a batch.
            ids: where sent ids and content checksums are kept, so a 409 for an id sent before with
                other content is dead-lettered as ``id_conflict`` (None: every 409 is delivered).
            slots: the gate bounding requests in flight (None: no bound).
        """
        self.client = client.options(max_retries=0, retry_on_status=(), retry_on_timeout=False)
        self.backoff = backoff or EqualJitterBackoff()
        self.metrics = metrics or Metrics()
        self.slots = slots or unlimited(self.metrics)
        self.dead_letter = dead_letter or (lambda dl: None)
        self.stopping = stopping or threading.Event()
        self.deadline = deadline
        self.ids = ids

    def prepare(self, batch: Batch) -> None:
        """Do what must precede sending ``batch``: record its ids (a crash after the node took it must know them).

        The pipeline's reader calls this when it seals a batch, so no sender spends time on it between an
        answer and the next request; :meth:`send` calls it for a batch nobody prepared.
        """
        if self.ids is not None:
            batch.conflicts = self.ids.remember(batch.entries, [o[3] for o in batch.origins])
        batch.prepared = True

    def send(self, batch: Batch) -> Settled:
        """Deliver ``batch``; return when every item is created, a duplicate or dead-lettered.

        An unexpected failure (a bug) retries the whole batch after a backoff: items that had arrived
        come back as 409, nothing is dropped.

        Raises:
            Abandoned: when the agent is stopping and its shutdown deadline passed.
        """
        attempt = 0
        written: set[int] = set()  # conflicts dead-lettered already: a retry of the batch counts, not writes, them
        while True:
            result = Settled()
            try:
                if not batch.prepared:  # here too when the reader's try failed (the id record on a full disk)
                    self.prepare(batch)
                self._settle(batch, self._unsent_conflicts(batch, written, result), result)
                break
            except Abandoned:
                raise
            except Exception as exc:  # an unexpected failure must not drop the batch: retry it
                deadline = self.deadline() if self.stopping.is_set() else None
                if deadline is not None and time.monotonic() > deadline:
                    # past the stop's deadline (e.g. the dead-letter file is closed): give up quietly, re-read
                    raise Abandoned(f"{exc.__class__.__name__}: {exc}"[:300]) from None
                log.exception("bulk send failed unexpectedly; retrying the batch")
                self._wait(attempt, "unexpected error", len(batch.entries), result)
                attempt += 1
        self.metrics.add(Counter.EVENTS_SHIPPED, result.created)
        self.metrics.add(Counter.EVENTS_DUPLICATE, result.duplicates)
        return result

    def _settle(self, batch: Batch, pending: list[int], result: Settled) -> None:
        """Send the entries ``pending`` (indices into ``batch``) until each is settled, per :data:`POLICY`."""
        attempt = 0
        while pending:
            whole = len(pending) == len(batch.entries) and batch.body
            body = batch.body if whole else b"".join([batch.entries[i] for i in pending])
            saturated = self.slots.acquire()
            started = time.monotonic()
            status, error, resp = -1, None, None  # -1: the client raised something unexpected (see send)
            try:
                resp = self.client.bulk(operations=body, filter_path=FILTER_PATH)  # type: ignore[arg-type]
            except ApiError as exc:
                status, error = exc.meta.status, _error_of(exc.body)
            except TransportError as exc:
                status, error = NO_ANSWER, f"connection error: {exc.__class__.__name__}: {exc}"
            else:
                status, error = 200, None
                if not _is_bulk_answer(resp.body, len(pending)):
                    # A proxy's {} or a rewritten page is no acknowledgement: counted as created, the lines'
                    # checkpoints would move past events that were never stored. Retried like no answer.
                    status, error, resp = NO_ANSWER, f"an answer that is not a bulk response: {_shape(resp.body)}", None
            finally:
                elapsed = time.monotonic() - started
                failed = status in (-1, NO_ANSWER, 408, 429) or status >= 500
                self.slots.release(elapsed, len(pending), saturated=saturated, failed=failed)
                self.metrics.observe_bulk(elapsed, answered=status > 0)
            if whole:
                batch.body = b""  # sent once: retries send subsets, and the memory is better spent ahead
            if resp is not None:
                pending = self._items(batch, pending, resp.body, result, attempt)
                attempt += 1
                continue
            rule = decide(REQUEST, status, error)
            if rule.action is Action.SPLIT:
                if len(pending) == 1:
                    self._dead(batch, pending[0], _whole_reason(status, error, len(body)), result)
                    return
                half = len(pending) // 2
                log.warning("bulk request refused as a whole; sending each half on its own",
                            status=status, items=len(pending), bytes=len(body))
                self._settle(batch, pending[:half], result)
                self._settle(batch, pending[half:], result)
                return
            if rule.action is Action.DEAD_LETTER:
                for i in pending:
                    self._dead(batch, i, item_reason(status, error), result)
                return
            why = error if status == NO_ANSWER else f"bulk request failed with {item_reason(status, error)}"
            self._wait(attempt, str(why), len(pending), result, rule)
            attempt += 1

    def _items(self, batch: Batch, pending: list[int], body: Any, result: Settled, attempt: int) -> list[int]:
        """Settle a bulk response's items; return those to send again (after the wait this also does)."""
        if not body.get("errors"):
            result.created += len(pending)
            return []
        retry: list[int] = []
        held: Rule | None = None
        held_why = ""
        dups: list[int] = []
        for i, item in zip(pending, body["items"], strict=True):
            r = item.get("create") or next(iter(item.values()))
            status = r["status"]
            if status < 300:
                result.created += 1
            elif status == 409:
                dups.append(i)
            else:
                rule = decide(ITEM, status, r.get("error"))
                if rule.action is Action.DEAD_LETTER:
                    self._dead(batch, i, item_reason(status, r.get("error")), result)
                    continue
                retry.append(i)
                if rule.action is Action.BACKPRESSURE and held is None:
                    held, held_why = rule, item_reason(status, r.get("error"))
        if dups:
            result.duplicate_items += dups
            self._duplicates(batch, dups, result)
        if retry:
            if held is not None:
                self._wait(attempt, held_why, len(retry), result, held)
            else:
                self._wait(attempt, "items rejected with 429/5xx", len(retry), result)
        return retry

    def _duplicates(self, batch: Batch, dups: list[int], result: Settled) -> None:
        """409s: delivered, unless this id was sent before with other content (then ``id_conflict``)."""
        if self.ids is None:
            result.duplicates += len(dups)
            return
        flags = self.ids.conflicts([batch.entries[i] for i in dups], [batch.origins[i][3] for i in dups])
        for i, conflict in zip(dups, flags, strict=True):
            if conflict:
                self._conflict(batch, i, result)
            else:
                result.duplicates += 1

    def _unsent_conflicts(self, batch: Batch, written: set[int], result: Settled) -> list[int]:
        """Dead-letter the batch's conflicts found before sending (each once: ``written`` holds those done in an
        earlier attempt, only counted again) and return the entries left to send."""
        if not batch.conflicts:  # the common case: every entry, without a set test per entry
            return list(range(len(batch.entries)))
        for i in batch.conflicts:
            if i in written:
                result.dead += 1
                result.dead_items.append(i)
            else:
                self._conflict(batch, i, result)
                written.add(i)
        skip = set(batch.conflicts)
        return [i for i in range(len(batch.entries)) if i not in skip]

    def _conflict(self, batch: Batch, i: int, result: Settled) -> None:
        """Dead-letter entry ``i`` as ``id_conflict`` (its id was sent before with other content), count and say it."""
        event_id = entry_id(batch.entries[i]).decode("utf-8", "replace")[:200]
        self._dead(batch, i, f"id_conflict: event.id {event_id} was already sent with other content", result)
        self.metrics.add(Counter.ID_CONFLICTS)
        log.error("id conflict: a different event reuses an id already sent; dead-lettered",
                  event_id=event_id, file=batch.origins[i][1], offset=batch.origins[i][2])

    def _dead(self, batch: Batch, i: int, reason: str, result: Settled) -> None:
        key, path, offset, line = batch.origins[i]
        self.dead_letter(DeadLetter(reason, line, offset, path, key, "index"))
        self.metrics.dead_lettered("index")
        result.dead += 1
        result.dead_items.append(i)

    def _wait(self, attempt: int, why: str, items: int, result: Settled, rule: Rule | None = None) -> None:
        delay = self.backoff.delay(attempt)
        result.retries += items
        self.metrics.add(Counter.BULK_RETRIES, items)
        loud = attempt < 3 or attempt % 10 == 0
        if rule is not None and rule.action is Action.BACKPRESSURE:
            # Not a document's fault: say so loudly (it needs an operator) and hold every item.
            self.metrics.held_back(rule.cause, items)
            (log.error if loud else log.debug)(
                "backpressure: Elasticsearch refuses writes for a reason no document causes; holding the items",
                cause=rule.cause, reason=why[:300], items=items, attempt=attempt + 1, delay=round(delay, 3))
        else:
            (log.warning if loud else log.debug)(
                "bulk retry", reason=why[:300], items=items, attempt=attempt + 1, delay=round(delay, 3))
        if self.stopping.is_set():
            deadline = self.deadline()
            if deadline is not None and time.monotonic() + delay > deadline:
                raise Abandoned(why)
        end = time.monotonic() + delay
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            self.stopping.wait(min(left, 0.1))
            if self.stopping.is_set():
                deadline = self.deadline()
                if deadline is not None and time.monotonic() > deadline:
                    raise Abandoned(why)


def _whole_reason(status: int, error: Any, nbytes: int) -> str:
    """Why one document alone was refused as a whole request."""
    if status == 413:
        return f"413 request entity too large: this document's bulk entry ({nbytes} bytes) exceeds the request limit"
    return item_reason(status, error)


def _error_of(body: Any) -> Any:
    if isinstance(body, dict):
        return body.get("error", body)
    return body
