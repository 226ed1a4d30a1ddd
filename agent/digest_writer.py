"""Digest writer: turns acknowledged records into signed, chained digests and ships them create-only.

Every ``digest.interval`` seconds (sooner when the pending rows' mirror is full, and once more at
shutdown) :meth:`DigestWriter.seal` takes the pending records (:mod:`agent.digest`), groups them per
events index (at most ``digest.max_events`` a digest), and builds the next digests of this agent's chain
(:mod:`indexer.integrity`). In one SQLite transaction it removes those records, stores the finished
documents in ``digest_outbox`` and moves the chain head (``digest_head``: last seq, its hash, its
index). :meth:`send` then creates the outbox documents in Elasticsearch (``_id`` = agent + seq, so a
re-send after a crash is a 409 for a document that is byte for byte the same) and deletes them from the
outbox once created.

So after kill -9 at any point the chain continues from the registry: no digest is built twice from the
same records, none is lost, and no two digests share a seq (no fork).

A pending row that cannot be read back whole (a damaged registry page, an edit by hand) is moved to
``digest_quarantine`` with the reason, logged as an error and counted
(``auditlog_agent_digest_rows_quarantined_total``); the seal goes on with the other rows. Its events stay
in Elasticsearch but in no digest, so ``auditlog verify`` reports their stream numbers as ``unsealed``: one
row never stops every later event from being sealed, and what it held is not proven (nor hidden).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass

import msgspec
import orjson
import structlog
from elasticsearch import Elasticsearch

from auditlog.agent.digest import PENDING_SCHEMA, PendingMirror, row_parts
from auditlog.agent.metrics import Counter, Metrics
from auditlog.agent.registry import Registry
from auditlog.agent.signing import SigningKey
from auditlog.indexer.integrity import (
    HISTORY_REACH,
    Columns,
    digest_hash,
    digest_id,
    layout_body,
    merge_ranges,
    recent_ranges,
    seal_layout,
    signed_bytes,
)
from auditlog.indexer.tiers import TierTable

log = structlog.get_logger("auditlog.agent.digest")

#: a digest request's bytes and documents at most (one digest larger than that goes alone)
SEND_BYTES = 8 << 20
SEND_ROWS = 1000
#: requests per send at most: the rest of a large outbox goes at the next flush (the lock is not held for long)
SEND_REQUESTS = 8

_SCHEMA = (
    PENDING_SCHEMA,
    "CREATE TABLE IF NOT EXISTS digest_outbox (seq INTEGER PRIMARY KEY, idx TEXT NOT NULL, doc_id TEXT NOT NULL,"
    " body BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS digest_head (agent TEXT PRIMARY KEY, seq INTEGER NOT NULL, hash TEXT NOT NULL,"
    " idx TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS digest_streams (stream TEXT PRIMARY KEY, ranges TEXT NOT NULL, updated REAL NOT NULL)",
    # pending rows that could not be read back whole: kept as they were, with why and when, for a look by hand
    "CREATE TABLE IF NOT EXISTS digest_quarantine (id INTEGER PRIMARY KEY, records BLOB NOT NULL, reason TEXT NOT NULL,"
    " at REAL NOT NULL)",
)
#: seconds between the digest thread's looks at a full mirror (a handful of wake-ups a second, no work)
_FULL_POLL = 0.25
#: streams whose last line is older than this (seconds) are forgotten (their ranges are in the digests).
STREAM_KEEP = 40 * 86400.0


@dataclass(frozen=True)
class DigestSettings:
    """How often digests are written, how many events one lists at most, and how many one seal step loads."""

    interval: float = 10.0
    max_events: int = 20000
    #: pending events read per seal transaction (at least one pending row): what bounds the seal's memory.
    #: A loaded event costs about 450 bytes of Python objects; unbounded, a seal after ten seconds at
    #: 20,000 events/s held 200,000 of them at once. Windows never span two steps, so a step of fewer
    #: events than ``max_events`` per index gives more, smaller digests (a few hundred bytes each).
    seal_events: int = 50_000


class DigestWriter:
    """Seals pending records into signed digests and ships them (one per agent, thread-safe)."""

    def __init__(
        self, registry: Registry, client: Elasticsearch, key: SigningKey, tiers: TierTable,
        settings: DigestSettings | None = None, mirror: PendingMirror | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        """Create the digest tables in the registry when missing.

        Args:
            registry: holds the pending rows, the outbox and the chain head.
            client: where digests are created.
            key: this agent's signing key.
            tiers: names the digest index of each events index.
            settings: interval and sizes (``None``: the defaults).
            mirror: the feed's pending rows as it packed them (``None``: every row is unpacked).
            metrics: counts quarantined rows (``None``: counted in :attr:`quarantined` only).
        """
        self.registry = registry
        self.client = client
        self.key = key
        self.tiers = tiers
        self.settings = settings or DigestSettings()
        self._mirror = mirror
        self._lock = threading.Lock()
        self._metrics = metrics
        self.written = 0
        self.quarantined = 0  # pending rows moved to digest_quarantine by this writer
        with registry.transaction() as db:
            for statement in _SCHEMA:
                db.execute(statement)

    def _digest_index(self, events_index: str) -> str:
        parsed = self.tiers.parse_index(events_index)
        if parsed is None:  # not a daily index of the namespace: keep its proof next to it anyway
            return f"{events_index}.digest"
        return self.tiers.digest_index_for_day(*parsed)

    def seal(self) -> int:
        """Build digests from every pending record; return how many were built."""
        with self._lock:
            return self._seal_all()

    def _seal_all(self) -> int:
        built = 0
        while True:
            n = self._seal_some()
            built += n
            if n == 0:
                return built

    def _seal_some(self) -> int:
        moved: list[tuple[int, str]] = []
        built = self._seal_step(moved)
        self._announce(moved)  # only once committed: a seal that rolled back moves (and counts) them again
        return built

    def _seal_step(self, moved: list[tuple[int, str]]) -> int:
        agent = self.key.agent_id
        with self.registry.transaction() as db:
            parts, last = self._load(db, moved)
            if last is None:
                return 0
            head = db.execute("SELECT seq, hash, idx FROM digest_head WHERE agent = ?", (agent,)).fetchone()
            seq, prev, prev_index = (int(head[0]), str(head[1]), str(head[2])) if head else (0, None, None)
            built = 0
            step = self.settings.max_events
            # every digest of this seal carries its streams' ranges as of the whole seal: the newest digest
            # left after retention then accounts for every number up to its own events
            sealed = seal_layout(parts, step)  # per events index, step events a window; the streams' ranges
            delivered = self._delivered(db, set(sealed.ranges))
            carried: dict[str, list[list[int]]] = {}  # what the digests say (bounded, integrity.recent_ranges)
            for stream, ranges in sealed.ranges.items():
                known = merge_ranges(delivered.get(stream, []), ranges)
                carried[stream] = recent_ranges(known, ranges)
                delivered[stream] = recent_ranges(known, [], HISTORY_REACH)  # what the agent keeps: bounded too
            for index, count, laid in sealed.windows:
                seq += 1
                body = layout_body(agent=agent, public_key=self.key.public_b64, seq=seq, prev=prev,
                                   prev_index=prev_index, index=index, count=count, laid=laid, ids=sealed.ids,
                                   delivered=carried)
                doc = {"@timestamp": body["last"], "digest": body, "signature": self.key.sign(signed_bytes(body))}
                target = self._digest_index(index)
                db.execute("INSERT INTO digest_outbox VALUES (?,?,?,?)",
                           (seq, target, digest_id(agent, seq), orjson.dumps(doc)))
                prev, prev_index = digest_hash(body), target
                built += 1
            db.execute("INSERT OR REPLACE INTO digest_head VALUES (?,?,?,?)", (agent, seq, prev, prev_index))
            now = time.time()
            db.executemany("INSERT OR REPLACE INTO digest_streams VALUES (?,?,?)",
                           [(s, orjson.dumps(r).decode(), now) for s, r in delivered.items()])
            db.execute("DELETE FROM digest_streams WHERE updated < ?", (now - STREAM_KEEP,))
            db.execute("DELETE FROM digest_pending WHERE id <= ?", (last,))
        if self._mirror is not None:  # only once the rows are gone: a failed seal reads them again
            self._mirror.forget(last)
        return built

    def _load(self, db: sqlite3.Connection, moved: list[tuple[int, str]]) -> tuple[list[Columns], int | None]:
        """Read the oldest pending rows up to :attr:`DigestSettings.seal_events` events (at least one row).

        A row that cannot be read back whole is quarantined (:meth:`_quarantine`; its id and why added to
        ``moved``) and the reading goes on.

        Returns:
            The rows' columns in order, and the id of the last row read (``None``: nothing is pending).
        """
        parts: list[Columns] = []
        last: int | None = None
        loaded = 0
        damaged: list[tuple[int, object, str]] = []
        rows = db.execute("SELECT id, records FROM digest_pending ORDER BY id")  # stepped lazily, row by row
        try:
            for row_id, blob in rows:
                try:
                    if not isinstance(blob, bytes):  # SQLite keeps any type in a BLOB column: text, a number
                        raise TypeError(f"a pending row holds {type(blob).__name__}, not bytes")
                    got = row_parts(self._mirror, int(row_id), blob)
                except (msgspec.DecodeError, ValueError, TypeError) as exc:  # whatever it holds, it is not a row
                    damaged.append((int(row_id), blob, f"{exc.__class__.__name__}: {exc}"[:200]))
                    continue
                parts += got
                last = int(row_id)
                loaded += sum(len(part.ids) for part in got)
                if loaded >= self.settings.seal_events:
                    break
        finally:
            rows.close()
        for row_id, blob, reason in damaged:
            self._quarantine(db, row_id, blob, reason)
            moved.append((row_id, reason))
        return parts, last

    @staticmethod
    def _quarantine(db: sqlite3.Connection, row_id: int, blob: object, reason: str) -> None:
        """Move pending row ``row_id`` to ``digest_quarantine`` in the seal's transaction.

        Its events are in no digest then: ``verify`` reports their stream numbers as ``unsealed`` (not proven,
        not hidden), and every later row is still sealed.
        """
        db.execute("INSERT OR REPLACE INTO digest_quarantine VALUES (?,?,?,?)", (row_id, blob, reason, time.time()))
        db.execute("DELETE FROM digest_pending WHERE id = ?", (row_id,))

    def _announce(self, moved: list[tuple[int, str]]) -> None:
        """Count and log the rows a committed seal quarantined."""
        for row_id, reason in moved:
            self.quarantined += 1
            if self._metrics is not None:
                self._metrics.add(Counter.DIGEST_ROWS_QUARANTINED)
            log.error("pending digest row damaged; quarantined, its events stay unproven (verify reports their "
                      "numbers as unsealed)", row=row_id, reason=reason)

    @staticmethod
    def _delivered(db: sqlite3.Connection, streams: set[str]) -> dict[str, list[list[int]]]:
        out: dict[str, list[list[int]]] = {}
        for stream in streams:
            row = db.execute("SELECT ranges FROM digest_streams WHERE stream = ?", (stream,)).fetchone()
            if row:
                out[stream] = orjson.loads(row[0])
        return out

    def send(self, timeout: float | None = None) -> int:
        """Create every outbox digest in Elasticsearch; return how many are now stored there.

        A digest Elasticsearch refuses stays in the outbox and is retried at the next call.

        Args:
            timeout: seconds the request may take (``None``: the client's own timeout).
        """
        with self._lock:
            return self._send(timeout)

    def _send(self, timeout: float | None) -> int:
        # In requests of at most SEND_BYTES (and SEND_ROWS), read from the outbox one request at a time: an outbox
        # that grew while every digest was refused (a key without the digest indices, a write block on them) was
        # read whole into memory and sent as one request, which the node refuses past http.max_content_length.
        end = None if timeout is None else time.monotonic() + timeout
        stored, after = 0, -1
        for _ in range(SEND_REQUESTS):  # a refused backlog of thousands is not re-sent whole, under the lock, each time
            if end is not None and time.monotonic() >= end:
                return stored
            with self.registry.transaction() as db:
                rows = db.execute("SELECT seq, idx, doc_id, body FROM digest_outbox WHERE seq > ? ORDER BY seq "
                                  "LIMIT ?", (after, SEND_ROWS)).fetchall()
            if not rows:
                return stored
            size, take = 0, 0
            for row in rows:
                size += len(row[3])
                if take and size > SEND_BYTES:
                    break
                take += 1
            stored += self._send_rows(rows[:take], None if end is None else max(end - time.monotonic(), 0.1))
            after = rows[take - 1][0]
        return stored

    def _send_rows(self, rows: list[tuple[int, str, str, bytes]], timeout: float | None) -> int:
        """Create ``rows`` of the outbox in one bulk request; delete those stored; return how many."""
        body = b"".join(
            b'{"create":{"_index":' + orjson.dumps(idx) + b',"_id":' + orjson.dumps(doc_id) + b"}}\n"
            + bytes(doc) + b"\n"
            for _seq, idx, doc_id, doc in rows
        )
        client = self.client if timeout is None else self.client.options(request_timeout=timeout)
        resp = client.bulk(operations=body, filter_path="items.*.status,items.*.error")  # type: ignore[arg-type]
        done: list[tuple[int]] = []
        refused: list[tuple[int, str, dict[str, object]]] = []
        for (seq, idx, _doc_id, _doc), item in zip(rows, resp.body["items"], strict=True):
            r = item.get("create") or next(iter(item.values()))
            if r["status"] < 300 or r["status"] == 409:
                done.append((seq,))
            else:
                refused.append((seq, idx, r))
        if refused:  # one line per request, not per digest: a refused outbox may hold thousands
            seq, idx, r = refused[0]
            log.warning("digests not stored; retrying later", refused=len(refused), index=idx, seq=seq,
                        status=r["status"], error=str(r.get("error"))[:200])
        with self.registry.transaction() as db:
            db.executemany("DELETE FROM digest_outbox WHERE seq = ?", done)
        self.written += len(done)
        return len(done)

    def flush(self, timeout: float | None = None) -> None:
        """Seal and send now; log (never raise) when Elasticsearch cannot take them (retried next time).

        Args:
            timeout: seconds this may wait for a flush already running and for the send (a stopping
                agent has a deadline); what is not sent stays in the outbox for the next start.
        """
        if not self._lock.acquire(timeout=-1 if timeout is None else timeout):
            log.warning("digests not sent before the deadline; they go out at the next start")
            return
        try:
            self._seal_all()
            self._send(timeout)
        except Exception as exc:  # connection errors, refusals, a full disk: pending and outbox keep them
            log.warning("digest write failed; retrying later", error=f"{exc.__class__.__name__}: {exc}")
        finally:
            self._lock.release()

    def run(self, stop: threading.Event) -> None:
        """Flush at once, then every ``interval`` seconds until ``stop`` is set (the pipeline flushes once more).

        Sooner when the mirror is full: an agent shipping more than one seal step's worth of events per
        interval seals each step's worth from memory instead of unpacking most of it from the registry
        (which also keeps the pending rows at about one step).
        """
        self.flush()
        due = time.monotonic() + self.settings.interval
        mirror = self._mirror
        while not stop.wait(min(_FULL_POLL, self.settings.interval)):
            if time.monotonic() >= due or (mirror is not None and mirror.full):
                self.flush()
                due = time.monotonic() + self.settings.interval
