"""``auditlog dlq replay``: re-validate dead letters and ship the ones that now pass, idempotently.

Each dead letter is parsed, validated and routed again with the current configuration (a fixed
tier table, a raised limit...) and sent with bulk ``create`` under the same ``_id`` it would have had
(its own ``event.id``, or the deterministic id of its original file identity and offset). Created
(201) and already-present (409) entries are marked replayed in the registry and no longer listed, so
running replay twice ships nothing twice.

Every record gets its own :class:`Outcome`, and no record can stop the others: a record that is not
JSON, has bad base64 or a bad offset, fails validation again, is refused by Elasticsearch, or meets an
internal error is ``rejected`` with the reason; a batch that Elasticsearch did not answer before the
deadline (node away, credentials refused: the agent's backpressure) is ``not_sent``. Truncated entries
(lines over ``inputs.max_line_bytes``) hold only a preview and are ``rejected``. Delivered entries are
also recorded for the agent's signed digests (the next agent run seals them), so ``auditlog verify``
proves them like any other event; a 409 is recorded with
:data:`~indexer.integrity.UNKNOWN_HASH`, as the agent records its own 409s (the document stored earlier
is not the one re-built now). A batch's marks and digest records are committed in one SQLite
transaction, and its outcomes are told (``on_outcome``) only after that commit.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

from auditlog.agent.backoff import EqualJitterBackoff
from auditlog.agent.batcher import Batch, Batcher, BatchSettings
from auditlog.agent.deadletter import DeadLetter, mark_replayed, read_records, record_replayed
from auditlog.agent.digest import record_of, store_pending
from auditlog.agent.enrich import Enricher
from auditlog.agent.idrecord import IdRecord
from auditlog.agent.parser import BLANK, Parser
from auditlog.agent.registry import Registry
from auditlog.agent.sink import Abandoned, Sink
from auditlog.agent.statelock import exclusive_lock
from auditlog.indexer.integrity import UNKNOWN_HASH

#: held (flock) while a replay runs: two at once each shipped every record, and each told it "replayed" and
#: recorded it for digests (the second with the unknown hash), as their marks were read before either committed
REPLAY_LOCK_FILE = "dlq-replay.lock"

#: outcomes of one record.
REPLAYED, REJECTED, NOT_SENT, SKIPPED = "replayed", "rejected", "not_sent", "skipped"


@dataclass(frozen=True)
class Outcome:
    """What replay did with one dead-letter record."""

    outcome: str
    reason: str = ""
    identity: str = ""
    offset: int | None = None
    file: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The record as ``dlq replay`` prints it (one JSON object per line)."""
        return {"outcome": self.outcome, "reason": self.reason, "identity": self.identity,
                "offset": self.offset, "file": self.file}


@dataclass
class ReplayResult:
    """Every record's outcome, in file order."""

    outcomes: list[Outcome] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        """How many records ended with ``outcome``."""
        return sum(1 for o in self.outcomes if o.outcome == outcome)

    def summary(self) -> str:
        """One line: how many were replayed, still rejected, not sent."""
        return (f"replayed {self.count(REPLAYED)} dead letters; {self.count(REJECTED)} still rejected; "
                f"{self.count(NOT_SENT)} not sent")

    @property
    def ok(self) -> bool:
        """True when nothing is left to replay."""
        return not any(o.outcome in (REJECTED, NOT_SENT) for o in self.outcomes)


def replay(
    state_dir: str | Path,
    client: Elasticsearch,
    parser: Parser,
    enricher: Enricher,
    *,
    batch: BatchSettings | None = None,
    backoff: EqualJitterBackoff | None = None,
    timeout: float = 30.0,
    ids: IdRecord | None = None,
    on_outcome: Callable[[Outcome], None] = lambda o: None,
    digests: bool = True,
    limit: int | None = None,
) -> ReplayResult:
    """Re-ship the dead letters of ``state_dir``, each to its own outcome.

    Args:
        state_dir: the agent's state directory.
        client: Elasticsearch client.
        parser: the parser built from the current configuration.
        enricher: the enricher built from the current configuration.
        batch: bulk request bounds.
        backoff: wait between attempts for transient errors and backpressure.
        timeout: seconds after which a batch Elasticsearch keeps refusing or not answering is given up
            (its records are ``not_sent``; later batches are tried once more each).
        ids: the agent's id record, so that an id sent before with other content stays ``id_conflict``.
        on_outcome: called with every outcome once it is decided and, for a sent batch, committed (for
            printing as it goes: what was printed is recorded even if the replay is then interrupted).
        digests: record what was delivered for the agent's signed digests (``digest.enabled``), so
            replayed events are proven like the others instead of showing as inserted.
        limit: the longest dead-letter record read (``agent.deadletter.record_limit`` of the configuration);
            a longer one is ``rejected`` with its byte offset in the file, never read whole.

    Returns:
        Every record's outcome.
    """
    with _only_replay(state_dir):
        return _replay(state_dir, client, parser, enricher, batch=batch, backoff=backoff, timeout=timeout, ids=ids,
                       on_outcome=on_outcome, digests=digests, limit=limit)


@contextlib.contextmanager
def _only_replay(state_dir: str | Path) -> Iterator[None]:
    """Hold the state directory's replay lock while the block runs.

    Raises:
        CommandError: when another replay holds it, or the lock file cannot be opened (a link, a FIFO).
    """
    path = Path(state_dir) / REPLAY_LOCK_FILE
    if not path.parent.is_dir():  # no state directory: no dead letters either, and nothing to create here
        yield
        return
    with exclusive_lock(path, lambda _fd: f"another dlq replay is running on {state_dir}; wait for it to end",
                        f"cannot use {path}"):
        yield


def _replay(
    state_dir: str | Path,
    client: Elasticsearch,
    parser: Parser,
    enricher: Enricher,
    *,
    batch: BatchSettings | None,
    backoff: EqualJitterBackoff | None,
    timeout: float,
    ids: IdRecord | None,
    on_outcome: Callable[[Outcome], None],
    digests: bool,
    limit: int | None,
) -> ReplayResult:
    result = ReplayResult()
    batcher = Batcher(batch or BatchSettings())
    failures: dict[int, str] = {}

    def decided(o: Outcome) -> None:
        result.outcomes.append(o)
        on_outcome(o)

    def dead(dl: DeadLetter) -> None:
        failures[dl.offset] = dl.reason  # keyed by the origin's slot (see send), not the file offset

    give_up = threading.Event()
    give_up.set()  # "stopping" from the start: the sink gives up once the deadline passes
    deadline = time.monotonic() + timeout
    sink = Sink(client, backoff=backoff, dead_letter=dead, stopping=give_up, deadline=lambda: deadline, ids=ids)
    records: list[DeadLetter] = []

    def send(b: Batch | None) -> None:
        if b is None or not b.entries:
            return
        pending = [records[slot] for _key, _path, slot, _line in b.origins]
        failures.clear()
        try:
            settled = sink.send(b)
        except Abandoned as exc:
            for dl in pending:
                decided(Outcome(NOT_SENT, f"Elasticsearch did not take the batch within {timeout:g} s: {exc}"[:300],
                                dl.identity, dl.offset, dl.file))
            return
        # A 409 is an event stored before (a replay cut short, a batch reported not_sent that arrived): the
        # bytes re-built now differ from the stored ones (event.ingested), so its record says "hash unknown",
        # exactly as the agent's own 409s (agent.digest.DigestFeed.ack).
        stored_before = set(settled.duplicate_items)
        outcomes, done, delivered = [], [], []
        for i, (entry, (_key, _path, slot, _line), dl) in enumerate(zip(b.entries, b.origins, pending, strict=True)):
            if slot in failures:
                outcomes.append(Outcome(REJECTED, failures[slot], dl.identity, dl.offset, dl.file))
            else:
                done.append(dl.key)
                record = record_of(entry)
                delivered.append(record._replace(hash=UNKNOWN_HASH) if i in stored_before else record)
                outcomes.append(Outcome(REPLAYED, "", dl.identity, dl.offset, dl.file))
        # Marks and digest records in one transaction: a replay cut short (Ctrl-C, a crash) has either both
        # (the next run skips these records) or neither (the next run re-sends them and records their 409s).
        registry = Registry(state_dir)
        try:
            with registry.transaction() as db:
                if digests:
                    store_pending(db, delivered)
                record_replayed(db, done)
        finally:
            registry.close()
        for o in outcomes:  # told only once committed: an interrupted replay never reports more than it recorded
            decided(o)

    for rec in read_records(state_dir, limit=limit):
        try:
            entry = _entry(rec, parser, enricher)
        except Exception as exc:  # whatever is wrong with this record stays with this record
            decided(Outcome(REJECTED, f"unreadable dead-letter record: {exc.__class__.__name__}: {exc}"[:300],
                            str(rec.get("identity", "")), None, str(rec.get("file", ""))))
            continue
        if isinstance(entry, Outcome):
            if entry.outcome == SKIPPED:
                mark_replayed(state_dir, [f"{entry.identity}:{entry.offset}"])
            decided(entry)
            continue
        dl, doc = entry
        # The origin's offset slot carries the record's index, so sink failures map back to their record.
        records.append(dl)
        send(batcher.feed(doc, (dl.identity, dl.file, len(records) - 1, dl.line), len(records)))
    send(batcher.flush())
    return result


def _entry(rec: dict[str, Any], parser: Parser, enricher: Enricher) -> tuple[DeadLetter, bytes] | Outcome:
    """Turn one record into its bulk entry, or into its final outcome when it cannot be sent."""
    if "record_offset" in rec:
        return Outcome(REJECTED, f"over-long dead-letter record at byte {rec['record_offset']} of the file: "
                       f"{rec['raw_bytes']} bytes, over the {rec['limit']} this configuration's inputs.max_line_bytes "
                       "allows; not read", "", None, "")
    if "raw" in rec:
        return Outcome(REJECTED, "corrupt dead-letter record (not a JSON object)", "", None, "")
    dl = DeadLetter.from_json(rec)
    if dl.truncated:
        return Outcome(REJECTED, "truncated line: only a preview was kept, it cannot be replayed",
                       dl.identity, dl.offset, dl.file)
    ev = parser(dl.line)
    if ev is BLANK:
        return Outcome(SKIPPED, "blank line", dl.identity, dl.offset, dl.file)
    if not isinstance(ev, dict):
        return Outcome(REJECTED, ev.reason, dl.identity, dl.offset, dl.file)
    doc = enricher(ev, dl.identity or dl.file or "dead-letter", dl.offset)
    if not isinstance(doc, bytes):
        return Outcome(REJECTED, doc.reason, dl.identity, dl.offset, dl.file)
    return dl, doc
