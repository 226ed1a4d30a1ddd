"""Verify the audit trail against the agents' signed digests: deleted, altered, inserted, lost, forged.

:func:`verify` reads, for the days a :class:`~indexer.query.filter.Filter` spans, every digest
(:mod:`indexer.integrity`) and every event, and reports:

- ``signature``: a digest whose Ed25519 signature does not verify (with ``--pubkey``: not by a pinned key);
- ``chain``: a digest whose ``prev`` is not the hash of the agent's previous digest;
- ``digest-missing``: digests absent from the middle of an agent's chain (not by retention);
- ``covered-twice``: an event listed by two digests (the agent's exactly-once coverage broke);
- ``deleted``: an event a digest lists that no index holds;
- ``altered``: an event whose ``_source`` hash differs from the one its digest signed;
- ``inserted``: an event in no digest although an agent already delivered its stream number, or (for
  events without numbers) although digests of its index already cover its time;
- ``gap``: sequence numbers an emitter stream skipped in what the agents delivered (a line that never
  reached Elasticsearch); each digest carries its agent's delivered ranges per stream, so numbers whose
  events and digests expired are still accounted for.

Indices that retention deleted (their day is past the class's retention; digests one day later) are
``expired``, never tampered. Events newer than the last digest of their index are ``pending``.

Event hashes are recomputed from the exact ``_source`` bytes, which Elasticsearch returns verbatim
only without ``filter_path``; so the client must hand back raw response bytes: build it with
:func:`indexer.rawsource.raw_client_options` (every other request here parses those bytes itself).
:mod:`indexer.proof` gives one event's proof for the TUI and exports.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from elasticsearch import Elasticsearch

from auditlog.indexer.integrity import (
    DIGEST_EXTRA_DAYS,
    UNKNOWN_HASH,
    digest_hash,
    digest_hashes,
    event_hash,
    holes,
    merge_ranges,
    signature_problem,
)
from auditlog.indexer.query.dsl import build_query
from auditlog.indexer.query.filter import Filter
from auditlog.indexer.rawsource import existing_indices, scan
from auditlog.indexer.tiers import RETENTION_DAYS, TierTable

_IDS_CHUNK = 5000

KINDS = ("signature", "chain", "digest-missing", "covered-twice", "deleted", "altered", "inserted", "gap")


@dataclass(frozen=True)
class Problem:
    """One thing that is wrong, with where it is."""

    kind: str
    index: str
    detail: str
    event_id: str | None = None
    digest_id: str | None = None

    def line(self) -> str:
        """One human line: ``<kind> <index> [<event id>]: <detail>``."""
        who = f" {self.event_id}" if self.event_id else ""
        return f"{self.kind} {self.index}{who}: {self.detail}"

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {"kind": self.kind, "index": self.index, "event_id": self.event_id, "digest_id": self.digest_id,
                "detail": self.detail}


@dataclass
class Report:
    """The result of one verification."""

    problems: list[Problem] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    events: int = 0
    proven: int = 0
    present: int = 0  # listed with an unknown hash (re-sent after a crash): present, content not provable
    pending: int = 0
    digests: int = 0
    agents: list[str] = field(default_factory=list)
    covered_until: str | None = None
    pinned: bool = False
    first_digest: str | None = None
    last_digest: str | None = None

    @property
    def ok(self) -> bool:
        """Whether everything checked is proven."""
        return not self.problems

    def summary(self) -> str:
        """One line: verdict and counts."""
        head = "verified" if self.ok else f"{len(self.problems)} problem{'s' if len(self.problems) != 1 else ''}"
        parts = [f"{self.events} events", f"{self.proven} proven", f"{self.pending} pending",
                 *([f"{self.present} present (content unknown after a crash)"] if self.present else []),
                 f"{self.digests} digests", f"{len(self.agents)} agents"]
        if self.expired:
            parts.append(f"{len(self.expired)} expired")
        if self.covered_until:
            parts.append(f"covered to {self.covered_until}")
        if not self.pinned:
            parts.append("keys not pinned (--pubkey)")
        return f"{head}: " + ", ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {"ok": self.ok, "events": self.events, "proven": self.proven, "present": self.present,
                "pending": self.pending,
                "digests": self.digests, "first_digest": self.first_digest, "last_digest": self.last_digest,
                "agents": self.agents, "covered_until": self.covered_until,
                "pinned": self.pinned, "expired": self.expired, "problems": [p.as_dict() for p in self.problems]}


@dataclass
class _Digest:
    doc_id: str
    body: dict[str, Any]
    index: str
    hash: str


def _due(cls: str, day: date, extra: int, now: datetime) -> bool:
    return datetime.combine(day, time(), UTC) + timedelta(days=RETENTION_DAYS[cls] + extra) <= now


def _days(flt: Filter) -> tuple[date | None, date | None]:
    lo = flt.since.astimezone(UTC).date() if flt.since else None
    hi = flt.until.astimezone(UTC).date() if flt.until else None
    return lo, hi


def _in(day: date, lo: date | None, hi: date | None) -> bool:
    return (lo is None or day >= lo) and (hi is None or day <= hi)


def _ts(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def verify(
    client: Elasticsearch,
    tiers: TierTable,
    flt: Filter | None = None,
    *,
    pubkeys: list[bytes] | None = None,
    now: datetime | None = None,
) -> Report:
    """Check the events and digests of the days ``flt`` spans.

    Args:
        client: a client built with :func:`indexer.rawsource.raw_client_options` that may read the namespace.
        tiers: the namespace.
        flt: which events (time range and filters); the whole namespace when ``None``.
        pubkeys: raw Ed25519 keys the digests must be signed with (``None``: the key each digest names).
        now: the current time (retention decisions); default now.

    Returns:
        The report.
    """
    flt = flt or Filter()
    now = now or datetime.now(UTC)
    report = Report(pinned=pubkeys is not None)
    lo, hi = _days(flt)
    event_indices = {i for i in existing_indices(client, tiers.read_pattern)
                     if (p := tiers.parse_index(i)) is not None and _in(p[1], lo, hi)}
    digest_indices = {i for i in existing_indices(client, tiers.digest_pattern)
                      if (p := tiers.parse_digest_index(i)) is not None and _in(p[1], lo, hi)}
    digests = _load_digests(client, sorted(digest_indices), pubkeys, report)
    _check_chains(digests, digest_indices, tiers, (lo, hi), now, report)
    by_index: dict[str, list[_Digest]] = {}
    for d in digests:
        by_index.setdefault(str(d.body["index"]), []).append(d)
    delivered: dict[str, list[list[int]]] = {}
    for d in digests:
        for stream, info in (d.body.get("streams") or {}).items():
            if isinstance(info, dict):
                delivered[stream] = merge_ranges(delivered.get(stream, []), info.get("delivered") or [])
    lasts = [t for d in digests if (t := d.body.get("last"))]
    report.covered_until = max(lasts, key=lambda s: _ts(s) or datetime.min.replace(tzinfo=UTC)) if lasts else None
    query = build_query(flt)
    narrowed = any((flt.tenants, flt.workers, flt.actions, flt.sources, flt.text, flt.since, flt.until))
    for index in sorted(event_indices | set(by_index)):
        _check_index(client, tiers, index, index in event_indices, by_index.get(index, []), query, narrowed,
                     delivered, now, report)
    for stream, ranges in sorted(delivered.items()):
        for a, b in holes(ranges):
            what = f"seq {a}" if a == b else f"seq {a}..{b}"
            report.problems.append(Problem("gap", f"stream {stream}", f"{what} never arrived ({b - a + 1} lines)"))
    report.agents = sorted({str(d.body["agent"]) for d in digests})
    report.digests = len(digests)
    if digests:
        ids = sorted(d.doc_id for d in digests)
        report.first_digest, report.last_digest = ids[0], ids[-1]
    return report


def _load_digests(client: Elasticsearch, indices: list[str], pubkeys: list[bytes] | None,
                  report: Report) -> list[_Digest]:
    out: list[_Digest] = []
    for start in range(0, len(indices), 50):
        names = ",".join(indices[start:start + 50])
        for hits, _spans in scan(client, names, {"match_all": {}}):
            for h in hits:
                src = h.get("_source") or {}
                body = src.get("digest")
                if not isinstance(body, dict):
                    report.problems.append(Problem("signature", h["_index"], "not a digest document",
                                                   digest_id=h["_id"]))
                    continue
                d = _Digest(h["_id"], body, h["_index"], digest_hash(body))
                why = signature_problem(body, src.get("signature"), pubkeys)
                if why:
                    report.problems.append(Problem("signature", h["_index"], f"digest {h['_id']}: {why}",
                                                   digest_id=h["_id"]))
                out.append(d)
    return out


def _check_chains(digests: list[_Digest], digest_indices: set[str], tiers: TierTable, days: tuple[date | None,
                  date | None], now: datetime, report: Report) -> None:
    chains: dict[str, list[_Digest]] = {}
    for d in digests:
        chains.setdefault(str(d.body["agent"]), []).append(d)
    for agent, chain in chains.items():
        chain.sort(key=lambda d: int(d.body["seq"]))
        prev: _Digest | None = None
        for d in chain:
            seq = int(d.body["seq"])
            last = int(prev.body["seq"]) if prev is not None else 0
            if prev is not None and last == seq:
                report.problems.append(Problem("chain", d.index, f"agent {agent}: two digests with seq {seq}",
                                               digest_id=d.doc_id))
            elif prev is not None and last == seq - 1:
                if d.body.get("prev") != prev.hash:
                    report.problems.append(Problem("chain", d.index, f"agent {agent}: digest {seq} does not "
                                                   f"link to digest {seq - 1}", digest_id=d.doc_id))
            elif seq > 1:
                # digests last+1 .. seq-1 are not here; the newest of them lived in d's prev_index
                where = str(d.body.get("prev_index") or "")
                parsed = tiers.parse_digest_index(where)
                missing = str(seq - 1) if last + 1 == seq - 1 or prev is None else f"{last + 1}..{seq - 1}"
                if where in digest_indices:
                    report.problems.append(Problem("digest-missing", where, f"agent {agent}: digest {missing} "
                                                   "missing from the chain", digest_id=d.doc_id))
                elif parsed is not None and _due(parsed[0], parsed[1], DIGEST_EXTRA_DAYS, now):
                    report.expired.append(f"{where}: digests {missing} of agent {agent} (retention)")
                elif parsed is not None and _in(parsed[1], *days):
                    report.problems.append(Problem("digest-missing", where, f"agent {agent}: digest {missing} "
                                                   "missing with its whole index", digest_id=d.doc_id))
                # else: the previous digest lies outside the days checked
            prev = d


def _unlisted(source: dict[str, Any], covered: datetime | None, delivered: dict[str, list[list[int]]]) -> str | None:
    """Why an event no digest lists is inserted, or ``None`` when it may simply not be sealed yet.

    A numbered event is inserted when an agent already delivered its number (under another event):
    shipping order then cannot explain it. A numbered event beyond what was delivered is pending (an
    agent lagging on its file). An event without numbers is inserted when digests of its index already
    cover its time (lagging files of other producers can show here until their digest is written).
    """
    audit = source.get("audit")
    stream, seq = (audit.get("stream"), audit.get("seq")) if isinstance(audit, dict) else (None, None)
    if isinstance(stream, str) and type(seq) is int:
        for a, b in delivered.get(stream, ()):
            if a <= seq <= b:
                return f"in no digest, but stream {stream} seq {seq} was delivered"
        return None
    stamp = source.get("@timestamp")
    ts = _ts(stamp if isinstance(stamp, str) else None)
    if covered is not None and ts is not None and ts <= covered:
        return "in no digest, inside the signed time span"
    return None


def _check_index(client: Elasticsearch, tiers: TierTable, index: str, exists: bool, digests: list[_Digest],
                 query: dict[str, Any], narrowed: bool, delivered: dict[str, list[list[int]]], now: datetime,
                 report: Report) -> None:
    expected: dict[str, tuple[bytes, str]] = {}
    for d in digests:
        try:
            hashes = digest_hashes(d.body)
        except (ValueError, binascii.Error, KeyError):
            report.problems.append(Problem("signature", d.index, f"digest {d.doc_id}: unreadable hashes",
                                           digest_id=d.doc_id))
            continue
        for event_id, signed in zip(d.body["ids"], hashes, strict=True):
            twice = expected.get(str(event_id))
            if twice is not None:
                report.problems.append(Problem("covered-twice", index, f"in digests {twice[1]} and {d.doc_id}",
                                               event_id=str(event_id), digest_id=d.doc_id))
            expected[str(event_id)] = (signed, d.doc_id)
    if not exists:
        parsed = tiers.parse_index(index)
        if parsed is not None and _due(parsed[0], parsed[1], 0, now):
            report.expired.append(f"{index}: {len(expected)} events (retention)")
        elif expected:
            report.problems.append(Problem("deleted", index, f"index missing: {len(expected)} signed events gone"))
        return
    covered = max((t for d in digests if (t := _ts(d.body.get("last"))) is not None), default=None)

    for hits, spans in scan(client, index, query):
        for h, span in zip(hits, spans, strict=True):
            report.events += 1
            source: dict[str, Any] = h.get("_source") or {}
            event_id = h["_id"]
            want = expected.pop(event_id, None)
            if want is None:
                why = _unlisted(source, covered, delivered)
                if why is None:
                    report.pending += 1
                else:
                    report.problems.append(Problem("inserted", index, why, event_id=event_id))
                continue
            if want[0] == UNKNOWN_HASH:  # re-sent after a crash, stored by the earlier attempt
                report.present += 1
            elif span is None or event_hash(span) != want[0]:
                report.problems.append(Problem("altered", index, f"hash differs from digest {want[1]}",
                                               event_id=event_id, digest_id=want[1]))
            else:
                report.proven += 1
    if not expected:
        return
    missing = set(expected)
    if narrowed:  # filtered out is not deleted: ask for the rest by id
        ids = sorted(missing)
        for start in range(0, len(ids), _IDS_CHUNK):
            chunk = ids[start:start + _IDS_CHUNK]
            for hits, _ in scan(client, index, {"ids": {"values": chunk}}, source=False):
                missing.difference_update(h["_id"] for h in hits)
    for event_id in sorted(missing):
        ref = expected[event_id][1]
        report.problems.append(Problem("deleted", index, f"listed in digest {ref}, not stored",
                                       event_id=event_id, digest_id=ref))

