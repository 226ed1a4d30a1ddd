"""The agent's per-line CPU in-process: emitter lines (pass-through) against lines from other producers (full path).

The ingest benchmark ships what the emitter writes, so it measures the pass-through
(``agent/fastpath.py``). Applications that write their own JSON lines without the ECS categories and
``audit.changed_fields`` take the full path (decode, validate, enrich, re-encode). This measures both on
the same fabricated events, through the agent's own :class:`agent.fastpath.EntryMaker`, without a
node: CPU microseconds per line of turning a line into its bulk entry (reading, batching and sending
are the same for both and are in the ingest numbers). It also measures what tamper evidence adds per
event in the agent (digest records, packing, signing) and the digests' size against the events'.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from auditlog.agent import linescan
from auditlog.agent.acks import AckTracker
from auditlog.agent.batcher import Batch, Stamp
from auditlog.agent.digest import DigestFeed, PendingMirror, columns_of, entry_hashes, pack_parts, row_parts
from auditlog.agent.digest_writer import DigestSettings, DigestWriter
from auditlog.agent.enrich import Enricher
from auditlog.agent.fastpath import EntryMaker
from auditlog.agent.identity import FileIdentity
from auditlog.agent.idrecord import IdRecord
from auditlog.agent.parser import Parser
from auditlog.agent.redact import Redactor
from auditlog.agent.registry import FileState, Registry
from auditlog.agent.shipper import ShipperFields
from auditlog.agent.signing import SigningKey
from auditlog.agent.timebounds import TimeBounds
from auditlog.demo.data import fabricate
from auditlog.indexer.integrity import digest_hash, layout_body, seal_layout, signed_bytes
from auditlog.indexer.tiers import TierTable
from bench.events import default_window, event_lines

Log = Callable[[str], None]


def foreign_lines(count: int, *, seed: int, window: tuple[datetime, datetime] | None = None) -> list[bytes]:
    """The same fabricated events as :func:`bench.events.event_lines`, serialised as-is (no emitter)."""
    start, end = window or default_window()
    return [orjson.dumps(event) for event in fabricate(count, seed=seed, start=start, end=end)]


def us_per_line(lines: list[bytes]) -> float:
    """CPU microseconds per line of :class:`EntryMaker` over ``lines`` (a fresh maker with the shipper's ECS
    fields, as a new agent has)."""
    make = EntryMaker(Parser(), Enricher(TierTable(), Redactor(), TimeBounds(TierTable()),  # as the agent routes
                                         ShipperFields.for_this_process()))
    for i, line in enumerate(lines[:500]):  # warm the caches a running agent has warm
        make(line, "bench", i)
    start = time.process_time()
    for i, line in enumerate(lines):
        make(line, "bench", i)
    return (time.process_time() - start) / len(lines) * 1e6


def id_record_us(lines: list[bytes], batch: int = 2000) -> tuple[float, float]:
    """CPU µs per event of the sink's id record: remembering a batch before it is sent, and judging 409s.

    Every line gets its own id (as emitter lines have), the record grows from empty over ``lines``, in
    batches of ``batch`` as the sink sends them (one SQLite row per batch); then every entry is judged as
    if answered 409 (which reads the batches back: a 409 is rare, after a crash or a replay).
    """
    make = EntryMaker(Parser(), Enricher(TierTable(), Redactor()))
    entries = [e for i, line in enumerate(lines) if type(e := make(line, "bench", i)) is bytes]
    with tempfile.TemporaryDirectory() as tmp:
        ids = IdRecord(tmp)
        start = time.process_time()
        for i in range(0, len(entries), batch):
            ids.remember(entries[i:i + batch], lines[i:i + batch])
        remember = (time.process_time() - start) / len(entries) * 1e6
        start = time.process_time()
        for i in range(0, len(entries), batch):
            ids.conflicts(entries[i:i + batch], lines[i:i + batch])
        judge = (time.process_time() - start) / len(entries) * 1e6
        ids.close()
    return remember, judge


def state_writes_us(entries: list[bytes], stamps: list[Stamp | None], lines: list[bytes], *,
                    batch: int = 2000) -> float:
    """CPU µs per event of the agent's state work around sending, SQLite included, in a fresh state directory.

    Per batch, as the agent does it: the id record remembers the batch before it is sent
    (:meth:`agent.idrecord.IdRecord.remember`); once acknowledged, the digest feed takes its columns and the
    checkpoint commit stores them as a pending row in the same transaction (:class:`agent.digest.DigestFeed`,
    :meth:`agent.registry.Registry.commit_offsets`); the digest writer seals as soon as its mirror is full
    (:meth:`agent.digest_writer.DigestWriter.seal`, digests into the outbox; sending them is left out). This is
    :func:`digest_us_per_line` plus what SQLite costs for the three (``ids.sqlite`` and ``registry.sqlite``
    in a temporary folder), one file, one writer thread.

    Args:
        entries: the pass-through's bulk entries.
        stamps: their stamps, as the batches carry them.
        lines: the line of each entry (what the id record checksums).
        batch: entries per batch.

    Returns:
        CPU µs per event.
    """
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        reg, ids = Registry(state), IdRecord(state)
        ident = FileIdentity(1, 1, 0, "bench", 0)
        reg.add(FileState(ident, "/bench/audit.jsonl"))
        mirror = PendingMirror(DigestSettings().seal_events)
        feed, acks = DigestFeed(mirror), AckTracker()
        key = SigningKey(Ed25519PrivateKey.generate())
        writer = DigestWriter(reg, None, key, TierTable(), mirror=mirror)  # type: ignore[arg-type]  # only seals
        file = ident.key
        batches = [Batch(seq, entries[at:at + batch], [(file, "/bench", 0, line) for line in lines[at:at + batch]],
                         {file: at + batch}, stamps=stamps[at:at + batch])
                   for seq, at in enumerate(range(0, len(entries), batch), 1)]  # as the reader hands them over
        start = time.process_time()
        for sealed in batches:
            ids.remember(sealed.entries, [origin[3] for origin in sealed.origins])
            acks.register(sealed.seq, sealed.ends)
            feed.register(sealed.seq, sealed.ends)
            advanced, also = feed.ack(acks, sealed)
            reg.commit_offsets(advanced, also)
            if mirror.full:
                writer.seal()
        writer.seal()
        ids.close()  # each copies the rest of its log into the database: the copies of a longer run
        reg.close()
        spent = time.process_time() - start
    return spent / len(entries) * 1e6


def emitter_entries(lines: list[bytes]) -> tuple[list[bytes], list[Stamp | None]]:
    """The pass-through's entries for ``lines`` and the stamps it hands the batch with them (as the agent batches)."""
    make = EntryMaker(Parser(), Enricher(TierTable(), Redactor()))
    entries: list[bytes] = []
    stamps: list[Stamp | None] = []
    for i, line in enumerate(lines):
        if isinstance(e := make(line, "bench", i), bytes):
            entries.append(e)
            stamps.append(make.stamp)
    return entries, stamps


def digest_us_per_line(entries: list[bytes], stamps: list[Stamp | None] | None = None, *, window: int = 20_000,
                       batch: int = 2000) -> float:
    """CPU microseconds per event of tamper evidence in the agent (``agent/digest*.py``), without I/O.

    Per batch (as :class:`agent.digest.DigestFeed` does): the columns read off the bulk entries
    (SHA-256 of each document; ``@timestamp`` and the stream number from ``stamps``, which the
    pass-through hands over as the agent's batches carry them, or a skipping decode where a stamp is
    ``None``) and packed for the pending table; per seal (as :class:`agent.digest_writer.DigestWriter`
    does): unpacking them, the streams' ranges, grouping per events index, per window the digest body,
    its chain hash and the Ed25519 signature. As in the agent, the feed mirrors each row it stores
    (:class:`agent.digest.PendingMirror`, at most :attr:`DigestSettings.seal_events` events), a seal runs
    as soon as the mirror is full (the digest thread looks a few times a second) and takes a row's columns
    from there when the bytes read back are the stored ones. Until 2026-12-03 this sealed all ``entries``
    at once, so at 100,000 events half the rows were unpacked again, which the agent does not do.
    SQLite and the digest's bulk request are left out (one row per batch, one request per window): the
    rows' bytes are copied outside the timed part, as SQLite hands the seal copies.
    """
    key = SigningKey(Ed25519PrivateKey.generate())
    marks = stamps if stamps is not None else [None] * len(entries)
    mirror = PendingMirror(DigestSettings().seal_events)
    spent = 0.0
    stored: list[tuple[int, bytes]] = []  # rows since the last seal
    for row_id, at in enumerate(range(0, len(entries), batch), 1):
        start = time.process_time()
        parts = [columns_of(entries[at:at + batch], marks[at:at + batch])]
        blob = pack_parts(parts)
        mirror.add(row_id, blob, parts)
        spent += time.process_time() - start
        stored.append((row_id, blob))
        if mirror.full or at + batch >= len(entries):
            spent += _seal_seconds(key, mirror, stored, window)
            stored = []
    return spent / len(entries) * 1e6


def _seal_seconds(key: SigningKey, mirror: PendingMirror, stored: list[tuple[int, bytes]], window: int) -> float:
    """CPU seconds of one seal of the rows ``stored`` (as :class:`agent.digest_writer.DigestWriter` seals them)."""
    rows = [(row_id, bytes(bytearray(blob))) for row_id, blob in stored]  # what SQLite reads back
    start = time.process_time()
    sealed = seal_layout([part for row_id, blob in rows for part in row_parts(mirror, row_id, blob)], window)
    for index, count, laid in sealed.windows:
        body = layout_body(agent=key.agent_id, public_key=key.public_b64, seq=1, prev=None, prev_index=None,
                           index=index, count=count, laid=laid, ids=sealed.ids, delivered=sealed.ranges)
        key.sign(signed_bytes(body))
        digest_hash(body)
        orjson.dumps(body)
    mirror.forget(rows[-1][0])
    return time.process_time() - start


def hash_us_per_line(entries: list[bytes]) -> float:
    """CPU microseconds per event of SHA-256 over each entry's document alone: the floor of
    :func:`digest_us_per_line` (the event hash cannot be skipped), measured in the same run so the digest
    target can be read against this machine's speed (the same code measured 0.8 and 1.7 µs here on
    different days)."""
    start = time.process_time()
    entry_hashes(entries)
    return (time.process_time() - start) / len(entries) * 1e6


def digest_share(entries: list[bytes], *, window: int = 20_000) -> float:
    """Digest bytes as a share of the events' ``_source`` bytes (both before Elasticsearch's compression).

    Digests are cut per events index as the agent cuts them: one stream's numbers are then spread over
    the indices of its tiers, which is what the listing's ``runs`` must encode.
    """
    key = SigningKey(Ed25519PrivateKey.generate())
    digest_bytes = 0
    events = columns_of(entries, [None] * len(entries))
    sealed = seal_layout([events], window)
    for index, count, laid in sealed.windows:
        body = layout_body(agent=key.agent_id, public_key=key.public_b64, seq=1, prev="0" * 64, prev_index="x",
                           index=index, count=count, laid=laid, ids=sealed.ids, delivered=sealed.ranges)
        digest_bytes += len(orjson.dumps({"@timestamp": body["last"], "digest": body,
                                          "signature": key.sign(signed_bytes(body))}))
    event_bytes = sum(len(e) - e.index(b"\n") - 2 for e in entries)
    return digest_bytes / event_bytes


def run(*, events: int, repeats: int, log: Log = print) -> dict[str, Any]:
    """Measure both kinds of line ``repeats`` times, alternating; return medians in µs per line."""
    own = [line.rstrip(b"\n") for line in event_lines(events, seed=11)]
    foreign = foreign_lines(events, seed=11)
    entries, stamps = emitter_entries(own)
    fast, full, digest, hashed = [], [], [], []
    for rep in range(repeats):
        fast.append(us_per_line(own))
        full.append(us_per_line(foreign))
        digest.append(digest_us_per_line(entries, stamps))
        hashed.append(hash_us_per_line(entries))
        log(f"agent line cost run {rep + 1}/{repeats}: emitter lines {fast[-1]:.2f} us, "
            f"other producers' lines {full[-1]:.2f} us, digests {digest[-1]:.2f} us "
            f"(SHA-256 alone {hashed[-1]:.2f} us)")
    if len(entries) != len(own):
        raise RuntimeError("the pass-through refused a bench line")  # every fabricated event is valid
    state = []
    for rep in range(repeats):
        state.append(state_writes_us(entries, stamps, own))
        log(f"agent state work run {rep + 1}/{repeats}: {state[-1]:.2f} us per event")
    remember, judge = id_record_us(own)
    log(f"id record: {remember:.2f} us per event remembered before sending, {judge:.2f} us per 409 judged")
    line_check = "in C" if linescan.AVAILABLE else "in Python (the C extension is not built here)"
    log(f"the pass-through's line check ran {line_check}")
    return {"events": events, "repeats": repeats, "id_record_remember_us": remember, "id_record_409_us": judge,
            "line_check": line_check,
            "emitter_lines_us": statistics.median(fast), "emitter_lines_runs": fast,
            "foreign_lines_us": statistics.median(full), "foreign_lines_runs": full,
            "digest_us": statistics.median(digest), "digest_runs": digest,
            "digest_hash_us": statistics.median(hashed),
            "state_us": statistics.median(state), "state_runs": state,
            "digest_share": digest_share(entries)}
