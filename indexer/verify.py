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
  reached Elasticsearch); each digest carries its agent's delivered ranges per stream (the newest
  ``integrity.HISTORY_HOLES`` holes of the history, and back to its own numbers), so numbers whose events and
  digests expired are still accounted for up to that many holes back;
- ``mapping``: an events index whose mapping lets searches read something else than the stored events (a
  runtime field, a field our template maps left unmapped or mapped otherwise, e.g. ``ignore_above: 1`` on
  ``organization.id`` and the events put again byte for byte: their ``_source`` still proves, but no tenant filter
  or tenant key finds them), a default analyzer of its own, or a mapping it may not read (``index.blocks.metadata``);
- ``unsealed``: numbers of such a hole whose events *are* stored but in no digest: their proof was lost
  (an agent quarantined a damaged pending row, see :mod:`agent.digest_writer`) or an agent is still
  behind on an older file of the stream. Not proven, so a problem; told apart from lines that never
  arrived because the remedy differs. A filtered run sees only the events its filter selects, so there
  an unsealed number outside the filter is reported as a gap.

Indices that retention deleted (their day is past the class's retention; digests one day later) are
``expired``, never tampered. Events newer than the last digest of their index are ``pending``.

Event hashes are recomputed from the exact ``_source`` bytes, which Elasticsearch returns verbatim
only without ``filter_path``; so the client must hand back raw response bytes: build it with
:func:`indexer.rawsource.raw_client_options` (every other request here parses those bytes itself).
:mod:`indexer.proof` gives one event's proof for the TUI and exports.
"""

from __future__ import annotations

import binascii
import bisect
import hashlib
import itertools
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from elasticsearch import ApiError, Elasticsearch

from auditlog.core.background import check
from auditlog.indexer.integrity import (
    DIGEST_EXTRA_DAYS,
    HASH_BYTES,
    UNKNOWN_HASH,
    Listing,
    digest_hash,
    digest_listing,
    event_hash,
    holes,
    merge_ranges,
    signature_problem,
)
from auditlog.indexer.query.dsl import DIMENSION_FIELDS, TENANT_FIELD, TEXT_FIELDS, TIME_FIELD, build_query
from auditlog.indexer.query.filter import Filter
from auditlog.indexer.rawsource import Stamp, as_json, existing_indices, read_stamp, scan, scan_sources
from auditlog.indexer.retention import expressions
from auditlog.indexer.templates import MappingFeatures, render_component_templates
from auditlog.indexer.tiers import RETENTION_DAYS, TierTable

_IDS_CHUNK = 5000
#: slices of an events index read at once: Elasticsearch fetches the next pages while this process hashes.
SLICES = 2

KINDS = ("signature", "chain", "digest-missing", "covered-twice", "deleted", "altered", "inserted", "gap",
         "unsealed", "mapping")


@dataclass(frozen=True)
class Problem:
    """One thing that is wrong, with where it is."""

    kind: str
    index: str
    detail: str
    event_id: str | None = None
    digest_id: str | None = None
    stream: str | None = None  # an event a digest lists by stream number (no id), e.g. a deleted one
    seq: int | None = None

    @property
    def event(self) -> str | None:
        """The event concerned: its id, else ``stream S seq N``."""
        if self.event_id:
            return self.event_id
        return f"stream {self.stream} seq {self.seq}" if self.stream is not None else None

    def line(self) -> str:
        """One human line: ``<kind> <index> [<event id> | stream <S> seq <N>]: <detail>``."""
        who = f" {self.event}" if self.event else ""
        return f"{self.kind} {self.index}{who}: {self.detail}"

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {"kind": self.kind, "index": self.index, "event_id": self.event_id, "digest_id": self.digest_id,
                "stream": self.stream, "seq": self.seq, "detail": self.detail}


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
    """Whether retention has deleted a day's index; never for a day whose deletion would lie past the year 9999.

    Such a day is only in a name a writer made up (``audit-enterprise-9999.12.31``; a digest's ``index`` or
    ``prev_index`` too), and ``retention`` never deletes it either (``indexer.retention``).
    """
    try:
        return datetime.combine(day, time(), UTC) + timedelta(days=RETENTION_DAYS[cls] + extra) <= now
    except OverflowError:
        return False


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
    cancel: threading.Event | None = None,
) -> Report:
    """Check the events and digests of the days ``flt`` spans.

    A verification reads every event of those days, which takes long on a big range; ``cancel`` lets the
    caller give it up (the TUI, when the filter changed or the app ends): it is checked before each index
    and each page, so the work stops at its next request.

    Args:
        client: a client built with :func:`indexer.rawsource.raw_client_options` that may read the namespace.
        tiers: the namespace.
        flt: which events (time range and filters); the whole namespace when ``None``.
        pubkeys: raw Ed25519 keys the digests must be signed with (``None``: the key each digest names).
        now: the current time (retention decisions); default now.
        cancel: set by the caller when the report is no longer wanted.

    Returns:
        The report.

    Raises:
        Cancelled: when ``cancel`` is set before the verification is complete.
    """
    flt = flt or Filter()
    now = now or datetime.now(UTC)
    report = Report(pinned=pubkeys is not None)
    lo, hi = _days(flt)
    existing = existing_indices(client, tiers.read_pattern)
    event_indices = {i for i in existing if (p := tiers.parse_index(i)) is not None and _in(p[1], lo, hi)}
    digest_indices = {i for i in existing_indices(client, tiers.digest_pattern)
                      if (p := tiers.parse_digest_index(i)) is not None and _in(p[1], lo, hi)}
    digests = _load_digests(client, sorted(digest_indices), pubkeys, report, cancel)
    _check_chains(digests, digest_indices, tiers, (lo, hi), now, report)
    by_index: dict[str, list[_Digest]] = {}
    for d in digests:
        by_index.setdefault(str(d.body["index"]), []).append(d)
    # every digest's ranges first, one merge per stream after: merging after each digest sorted the union
    # again per digest (thousands of digests a day, each with up to integrity.HISTORY_HOLES holes)
    carried: dict[str, list[list[list[int]]]] = {}
    for d in digests:
        for stream, info in (d.body.get("streams") or {}).items():
            if isinstance(info, dict):
                carried.setdefault(stream, []).append(info.get("delivered") or [])
    delivered = {stream: merge_ranges(*parts) for stream, parts in carried.items()}
    lasts = [t for d in digests if (t := d.body.get("last"))]
    report.covered_until = max(lasts, key=lambda s: _ts(s) or datetime.min.replace(tzinfo=UTC)) if lasts else None
    query = build_query(flt)
    narrowed = any((flt.tenants, flt.workers, flt.actions, flt.sources, flt.text, flt.since, flt.until))
    unsealed: dict[str, list[int]] = {}
    for index in sorted(event_indices | set(by_index)):
        check(cancel)
        _check_index(client, tiers, index, index in event_indices, by_index.get(index, []), query, narrowed,
                     delivered, now, report, unsealed, cancel)
    check(cancel)
    _check_mappings(client, sorted(event_indices), report)
    if existing:
        check(cancel)
        _check_elsewhere(client, tiers, event_indices, query, report, cancel)
    for stream, ranges in sorted(delivered.items()):
        found = sorted(unsealed.get(stream, ()))  # two documents may claim one number: both were counted pending
        stored = sorted(set(found))
        for a, b in holes(ranges):
            for first, last, seen in split_hole(a, b, stored):
                what = f"seq {first}" if first == last else f"seq {first}..{last}"
                if seen:  # a problem now, no longer "pending"
                    report.pending -= bisect.bisect_right(found, last) - bisect.bisect_left(found, first)
                report.problems.append(
                    Problem("unsealed", f"stream {stream}", f"{what} stored but in no digest ({last - first + 1} "
                            "events): their proof was lost (the agent's digest_quarantine) or an agent is behind")
                    if seen else
                    Problem("gap", f"stream {stream}", f"{what} never arrived ({last - first + 1} lines)"))
    report.agents = sorted({str(d.body["agent"]) for d in digests})
    report.digests = len(digests)
    if digests:
        ids = sorted(d.doc_id for d in digests)
        report.first_digest, report.last_digest = ids[0], ids[-1]
    return report


def _check_elsewhere(client: Elasticsearch, tiers: TierTable, checked: set[str], query: dict[str, Any],
                     report: Report, cancel: threading.Event | None = None) -> None:
    """Report the events readers see through the class patterns outside the daily indices checked, as inserted.

    A writer key made before the roles' version 5 (``auto_configure`` on the class patterns, where today's may
    write only the daily names) can create ``audit-enterprise-anything``, and an admin any index or alias
    there: the TUI, exports, Kibana and tenant keys read ``audit-<class>-*`` and show its events, but no agent
    writes there, so no digest can cover them. Likewise an event the filter selects
    in a daily index of another day than the days checked: an agent stores each event in its own day's index.

    Args:
        client: a client built with :func:`indexer.rawsource.raw_client_options`.
        tiers: the namespace.
        checked: the daily events indices this verification reads index by index.
        query: the filter's query.
        report: gets one ``inserted`` problem per such event, and the events counted.
        cancel: set by the caller when the report is no longer wanted.
    """
    outside = {"bool": {"filter": [query], "must_not": [{"terms": {"_index": sorted(checked)}}]}}
    for hits in scan_sources(client, tiers.read_pattern, outside, source=False):
        check(cancel)
        report.events += len(hits)
        for h in hits:
            detail = ("in a daily index of another day than the event's" if tiers.parse_index(h._index)
                      else "in an index that is not a daily index of the namespace") + (
                ": no agent stores events there and no digest covers it, yet readers and exports show it")
            report.problems.append(Problem("inserted", h._index, detail, event_id=h._id))


def _flat(properties: Any, head: str = "") -> dict[str, dict[str, Any]]:
    """A mapping's ``properties`` as dotted path -> that field's parameters (its sub-fields and multi-fields apart)."""
    out: dict[str, dict[str, Any]] = {}
    if not isinstance(properties, dict):
        return out
    for name, spec in properties.items():
        if not isinstance(spec, dict):
            continue
        path = f"{head}{name}"
        out[path] = {k: v for k, v in spec.items() if k not in ("properties", "fields")}
        out.update(_flat(spec.get("properties"), f"{path}."))
        out.update(_flat(spec.get("fields"), f"{path}."))
    return out


def _template_fields() -> dict[str, list[dict[str, Any]]]:
    """Per field path, the parameters our mappings template gives it on any cluster (the types ECS uses or not)."""
    allowed: dict[str, list[dict[str, Any]]] = {}
    for features in (MappingFeatures(), MappingFeatures.ecs(), MappingFeatures(match_only_text=True),
                     MappingFeatures(wildcard=True)):
        mappings = render_component_templates(TierTable(), features=features)[1].body["template"]["mappings"]
        for path, spec in _flat(mappings["properties"]).items():
            if spec not in allowed.setdefault(path, []):
                allowed[path].append(spec)
    return allowed


_TEMPLATE_FIELDS = _template_fields()
#: the fields the query layer selects by (tenant, time, the filter dimensions, the free text): one an index leaves
#: unmapped hides its events from those searches (``dynamic: false``). A template field outside these missing from
#: an index is not reported: an upgrade that adds a field to the template leaves every older index without it
_SEARCHED_FIELDS = frozenset({TENANT_FIELD, TIME_FIELD, *DIMENSION_FIELDS.values(), *TEXT_FIELDS})


def mapping_problem(mapping: Any, settings: Any = None) -> str | None:
    """Why an events index's mapping (and analysis settings) may make searches read other than its stored events (pure).

    ``verify`` proves the stored ``_source`` bytes, but every search (the TUI, exports, filters, tenant keys'
    document-level query) reads the index: a runtime field shadowing a field, a field our template maps that
    is unmapped or mapped otherwise (``ignore_above: 1`` on ``organization.id``, then the events put again byte
    for byte: no tenant filter finds them), or an analyzer of the index's own hides or re-labels events while
    their bytes still prove. Our template sets no runtime field and no analyzer; Elasticsearch may leave out a
    parameter it holds at its default, so a field may have fewer parameters than the template's, not others.

    Args:
        mapping: the index's ``mappings`` as ``GET <index>/_mapping`` returns them.
        settings: the index's ``settings`` (only ``index.analysis`` is read), if known.

    Returns:
        ``None``, or one line naming what differs.
    """
    if not isinstance(mapping, dict):
        return "no mapping"
    wrong: list[str] = []
    runtime = mapping.get("runtime")
    if runtime:
        names = sorted(runtime) if isinstance(runtime, dict) else []
        wrong.append(f"runtime fields {', '.join(names[:5])}{' ...' if len(names) > 5 else ''}")
    fields = _flat(mapping.get("properties"))
    for path, specs in _TEMPLATE_FIELDS.items():
        have = fields.get(path)
        if have is None:
            if path in _SEARCHED_FIELDS:  # another field may be one a later template added: not in an older index
                wrong.append(f"{path} unmapped")
        elif not any(all(spec.get(k, object()) == v for k, v in have.items()) for spec in specs):
            wrong.append(f"{path} {have}")
    analysis = (((settings or {}).get("index") or {}).get("analysis") or {}) if isinstance(settings, dict) else {}
    analyzers = analysis.get("analyzer") if isinstance(analysis, dict) else None
    if isinstance(analyzers, dict) and any(name in analyzers for name in ("default", "default_search")):
        wrong.append("a default analyzer of its own")
    if not wrong:
        return None
    more = f" and {len(wrong) - 4} more" if len(wrong) > 4 else ""
    return ("its mapping is not auditlog's (" + "; ".join(wrong[:4]) + more + "): searches, filters and tenant keys "
            "read that, not the stored events, so events proven here may be hidden from them or shown otherwise")


def _check_mappings(client: Elasticsearch, indices: list[str], report: Report) -> None:
    """Report the events indices whose mapping lets searches read other than their events (:func:`mapping_problem`).

    Read with ``GET <names>/_mapping`` and ``_settings`` (the reader's ``view_index_metadata``), names chunked to fit
    the request line. An index with ``index.blocks.metadata`` refuses both, and the whole request with it: then its
    chunk is asked index by index, and such an index is reported (what its searches read cannot be checked).
    """
    def ask(names: str) -> tuple[dict[str, Any], dict[str, Any]]:
        mappings = as_json(client.indices.get_mapping(index=names, expand_wildcards="all", ignore_unavailable=True))
        settings = as_json(client.indices.get_settings(index=names, name="index.analysis*", expand_wildcards="all",
                                                       ignore_unavailable=True, flat_settings=False))
        return mappings, settings

    for names in expressions(indices):
        try:
            answers = [ask(names)]
        except ApiError as exc:
            if exc.meta.status != 403:
                raise
            answers = []
            for name in names.split(","):
                try:
                    answers.append(ask(name))
                except ApiError as one:
                    if one.meta.status != 403:
                        raise
                    report.problems.append(Problem("mapping", name, "its mapping cannot be read (index.blocks."
                                                   "metadata?): what searches select there is not checked"))
        for mappings, settings in answers:
            for name, body in sorted(mappings.items()):
                why = mapping_problem((body or {}).get("mappings"), ((settings.get(name) or {}).get("settings")))
                if why is not None:
                    report.problems.append(Problem("mapping", name, why))


def _load_digests(client: Elasticsearch, indices: list[str], pubkeys: list[bytes] | None,
                  report: Report, cancel: threading.Event | None = None) -> list[_Digest]:
    out: list[_Digest] = []
    # at most 50 names per search, fewer when they are long: past the request line's 4 KiB the whole request fails
    for names in (n for start in range(0, len(indices), 50) for n in expressions(indices[start:start + 50])):
        for hits, _spans in scan(client, names, {"match_all": {}}):
            check(cancel)
            for h in hits:
                src = h.get("_source")
                body = src.get("digest") if isinstance(src, dict) else None
                if not isinstance(src, dict) or not isinstance(body, dict):
                    what = "not a digest document" + ("" if src is not None else " (unreadable JSON, such as a "
                                                      "number beyond a double)")
                    report.problems.append(Problem("signature", h["_index"], what, digest_id=h["_id"]))
                    continue
                malformed = _malformed(body)
                if malformed is not None:  # forged or broken: reported, and kept out of every later step
                    report.problems.append(Problem("signature", h["_index"], f"digest {h['_id']}: malformed "
                                                   f"({malformed})", digest_id=h["_id"]))
                    continue
                d = _Digest(h["_id"], body, h["_index"], digest_hash(body))
                why = signature_problem(body, src.get("signature"), pubkeys)
                if why:
                    report.problems.append(Problem("signature", h["_index"], f"digest {h['_id']}: {why}",
                                                   digest_id=h["_id"]))
                out.append(d)
    return out


def _is_int(value: Any) -> bool:
    return type(value) is int  # bool is an int to Python, not to a digest


def _malformed(body: dict[str, Any]) -> str | None:
    """Why a digest document cannot be one (the fields the chain, grouping and gap checks read), or ``None``.

    Anyone who may write to a digest index can put any JSON there; one such document must not stop the
    verification of everything else (its listing is checked later, by :func:`digest_listing`).
    """
    if not isinstance(body.get("agent"), str) or not body["agent"]:
        return "agent is not a text"
    if not _is_int(body.get("seq")) or body["seq"] < 1:
        return "seq is not a whole number from 1"
    for name in ("prev", "prev_index", "first", "last"):
        if body.get(name) is not None and not isinstance(body[name], str):
            return f"{name} is not a text"
    if not isinstance(body.get("index"), str):
        return "index is not a text"
    streams = body.get("streams")
    if streams is None:
        return None
    if not isinstance(streams, dict):
        return "streams is not an object"
    for info in streams.values():
        if not isinstance(info, dict):
            return "a stream is not an object"
        delivered = info.get("delivered") or []
        if not isinstance(delivered, list) or not all(
                isinstance(r, list) and len(r) == 2 and _is_int(r[0]) and _is_int(r[1]) and 0 <= r[0] <= r[1]
                for r in delivered):
            return "delivered is not a list of [first, last] numbers"
    return None


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


def split_hole(first: int, last: int, stored: list[int]) -> list[tuple[int, int, bool]]:
    """Cut the hole ``first..last`` of a stream into runs of numbers stored in no digest and numbers never seen (pure).

    Args:
        first: the hole's first missing number.
        last: its last.
        stored: the stream's numbers found in no digest, sorted and distinct (any range).

    Returns:
        ``(lo, hi, stored)`` runs covering ``first..last`` in order, alternating between the two kinds.
    """
    runs: list[tuple[int, int, bool]] = []
    at = first
    i = bisect.bisect_left(stored, first)
    while at <= last:
        if i < len(stored) and stored[i] == at:  # a run of stored numbers: consecutive in ``stored``
            j = i
            while j + 1 < len(stored) and stored[j + 1] == stored[j] + 1 and stored[j + 1] <= last:
                j += 1
            runs.append((at, stored[j], True))
            at, i = stored[j] + 1, j + 1
        else:  # never seen, up to the next stored number (or the hole's end)
            end = min(stored[i] - 1, last) if i < len(stored) else last
            runs.append((at, end, False))
            at = end + 1
    return runs


def _unlisted(stamp: Stamp, covered: datetime | None, delivered: dict[str, list[list[int]]]) -> str | None:
    """Why an event no digest lists is inserted, or ``None`` when it may simply not be sealed yet.

    A numbered event is inserted when an agent already delivered its number (under another event):
    shipping order then cannot explain it. A numbered event beyond what was delivered is pending (an
    agent lagging on its file). An event without numbers is inserted when digests of its index already
    cover its time (lagging files of other producers can show here until their digest is written).
    """
    if stamp.stream is not None and stamp.seq is not None:
        for a, b in delivered.get(stamp.stream, ()):
            if a <= stamp.seq <= b:
                return f"in no digest, but stream {stamp.stream} seq {stamp.seq} was delivered"
        return None
    ts = _ts(stamp.timestamp)
    if covered is not None and ts is not None and ts <= covered:
        return "in no digest, inside the signed time span"
    return None


class _Listed:
    """The digests of one events index as a lookup: event -> (digest, position), and what was seen where.

    Numbered events are found by stream and number (sorted runs, bisected), the rest by id. Per
    position ``seen`` is 0 (not yet), 1 (proven or present), 2 (only documents whose hash differs) or
    3 (a number another digest lists too: reported as covered twice, looked up in the other).
    """

    def __init__(self, digests: list[_Digest], index: str, report: Report, keep_full: bool) -> None:
        self.digests: list[_Digest] = []
        self.listings: list[Listing] = []
        for d in digests:
            try:
                listing = digest_listing(d.body)
            except (ValueError, binascii.Error, KeyError, TypeError, AttributeError):
                report.problems.append(Problem("signature", d.index, f"digest {d.doc_id}: unreadable listing",
                                               digest_id=d.doc_id))
                continue
            self.digests.append(d)
            self.listings.append(listing)
        self.seen = [bytearray(len(lst)) for lst in self.listings]
        # full hashes by position, to check a format-2/3 digest's root
        self.full = [bytearray(HASH_BYTES * len(lst)) if keep_full and lst.root else None for lst in self.listings]
        self.runs: dict[str, list[tuple[int, int, int, int]]] = {}  # stream -> sorted (first, last, digest, position)
        self.by_id: dict[str, tuple[int, int]] = {}
        for k, lst in enumerate(self.listings):
            for stream, a, b, at in lst.runs:
                self.runs.setdefault(stream, []).append((a, b, k, at))
            for j, event_id in enumerate(lst.ids):
                twice = self.by_id.get(event_id)
                if twice is not None:
                    report.problems.append(Problem(
                        "covered-twice", index, f"in digests {self.digests[twice[0]].doc_id} and "
                        f"{self.digests[k].doc_id}", event_id=event_id, digest_id=self.digests[k].doc_id))
                self.by_id[event_id] = (k, lst.numbered + j)
        self.firsts: dict[str, list[int]] = {}
        for stream, runs in self.runs.items():
            runs.sort()
            for (a1, b1, k1, p1), (a2, b2, k2, _p2) in itertools.pairwise(runs):
                if a2 <= b1:
                    last = min(b1, b2)
                    what = f"seq {a2}" if a2 == last else f"seq {a2}..{last}"
                    report.problems.append(Problem(
                        "covered-twice", index, f"stream {stream} {what} in digests {self.digests[k1].doc_id} and "
                        f"{self.digests[k2].doc_id}", digest_id=self.digests[k2].doc_id, stream=stream, seq=a2))
                    # the later digest's places are the ones looked up; the earlier one's are accounted for
                    self.seen[k1][p1 + a2 - a1:p1 + last - a1 + 1] = b"\3" * (last - a2 + 1)
            self.firsts[stream] = [r[0] for r in runs]

    def find(self, event_id: str, stream: str | None, seq: int | None) -> tuple[int, int] | None:
        """The (digest, position) listing an event: by id, else by its stream number."""
        where = self.by_id.get(event_id)
        if where is not None or stream is None or seq is None:
            return where
        runs = self.runs.get(stream)
        if runs is None:
            return None
        i = bisect.bisect_right(self.firsts[stream], seq) - 1
        while i >= 0:  # runs may overlap (covered twice): the latest run starting at or before seq that holds it
            a, b, k, at = runs[i]
            if seq <= b:
                return k, at + seq - a
            if i == 0 or runs[i - 1][1] < a:
                return None
            i -= 1
        return None


def _check_index(client: Elasticsearch, tiers: TierTable, index: str, exists: bool, digests: list[_Digest],
                 query: dict[str, Any], narrowed: bool, delivered: dict[str, list[list[int]]], now: datetime,
                 report: Report, unsealed: dict[str, list[int]], cancel: threading.Event | None = None) -> None:
    listed = _Listed(digests, index, report, keep_full=not narrowed)
    total = sum(len(lst) for lst in listed.listings)
    if not exists:
        parsed = tiers.parse_index(index)
        if parsed is not None and _due(parsed[0], parsed[1], 0, now):
            report.expired.append(f"{index}: {total} events (retention)")
        elif total:
            report.problems.append(Problem("deleted", index, f"index missing: {total} signed events gone"))
        return
    covered = max((t for d in digests if (t := _ts(d.body.get("last"))) is not None), default=None)
    differing: dict[tuple[int, int], list[str]] = {}  # (digest, position) -> ids of documents whose hash differs

    for hits in scan_sources(client, index, query, slices=SLICES):
        check(cancel)
        report.events += len(hits)
        for h in hits:
            event_id, source = h._id, h._source
            stamp = read_stamp(source)
            where = listed.find(event_id, stamp.stream, stamp.seq)
            if where is None:
                why = _unlisted(stamp, covered, delivered)
                if why is None:
                    report.pending += 1
                    if stamp.stream is not None and stamp.seq is not None and stamp.stream in delivered:
                        # it may lie in a hole of its stream: told apart from lines that never arrived there
                        unsealed.setdefault(stamp.stream, []).append(stamp.seq)
                else:
                    report.problems.append(Problem("inserted", index, why, event_id=event_id))
                continue
            k, pos = where
            lst, seen = listed.listings[k], listed.seen[k]
            ref = listed.digests[k].doc_id
            if seen[pos] == 1:  # a second document in a place a digest already accounts for
                report.problems.append(Problem("inserted", index, f"a second document for {lst.where(pos)}, "
                                               f"which digest {ref} lists once", event_id=event_id, digest_id=ref))
                continue
            full = event_hash(source) if source else None
            if pos in lst.unknown:  # re-sent after a crash, stored by the earlier attempt
                report.present += 1
                seen[pos] = 1
            elif full is not None and full[:lst.width] == lst.signed(pos):
                report.proven += 1  # documents seen before in this place with another hash are intruders
                seen[pos] = 1
                keep = listed.full[k]
                if keep is not None:
                    keep[pos * HASH_BYTES:(pos + 1) * HASH_BYTES] = full
            else:
                seen[pos] = 2
                differing.setdefault(where, []).append(event_id)
    for (k, pos), ids in sorted(differing.items()):
        ref = listed.digests[k].doc_id
        for event_id in ids:
            if listed.seen[k][pos] == 1:
                detail = f"claims {listed.listings[k].where(pos)}, which digest {ref} proves for another document"
                report.problems.append(Problem("inserted", index, detail, event_id=event_id, digest_id=ref))
            else:
                report.problems.append(Problem("altered", index, f"hash differs from digest {ref}",
                                               event_id=event_id, digest_id=ref))
    if not narrowed:
        _check_roots(listed, index, report)
    unseen = [(k, pos) for k, seen in enumerate(listed.seen) for pos in _zeros(seen)]
    if not unseen:
        return
    if narrowed:  # filtered out is not deleted: ask for the rest by id or by stream number
        unseen = _outside_filter(client, index, listed, unseen, cancel)
    for k, pos in unseen:
        lst, ref = listed.listings[k], listed.digests[k].doc_id
        place = lst.where(pos)
        if pos >= lst.numbered:
            report.problems.append(Problem("deleted", index, f"listed in digest {ref}, not stored",
                                           event_id=place, digest_id=ref))
        else:
            stream, seq = _split_place(place)
            report.problems.append(Problem("deleted", index, f"listed in digest {ref}, not stored",
                                           digest_id=ref, stream=stream, seq=seq))


def _zeros(seen: bytearray) -> list[int]:
    """Positions not seen (0), found in C rather than by a Python loop over every position."""
    out: list[int] = []
    at = seen.find(0)
    while at >= 0:
        out.append(at)
        at = seen.find(0, at + 1)
    return out


def _split_place(place: str) -> tuple[str, int]:
    _word, stream, _seq, number = place.split(" ")
    return stream, int(number)


def _check_roots(listed: _Listed, index: str, report: Report) -> None:
    """A format-2/3 digest whose every event matched its short hash must also match its root."""
    for k, lst in enumerate(listed.listings):
        full = listed.full[k]
        if full is None or lst.root is None or listed.seen[k].count(1) != len(lst):
            continue  # a problem in this window is reported already
        for pos in lst.unknown:
            full[pos * HASH_BYTES:(pos + 1) * HASH_BYTES] = UNKNOWN_HASH
        if hashlib.sha256(full).hexdigest() != lst.root:
            ref = listed.digests[k].doc_id
            report.problems.append(Problem(
                "altered", index, f"digest {ref}: its {len(lst)} events match their {lst.width}-byte hashes but "
                "not its root: one of them was altered and could not be singled out (its short hash matches, by "
                f"chance at 1 in {256 ** lst.width:,} or by an edit made to match)", digest_id=ref))


def _outside_filter(client: Elasticsearch, index: str, listed: _Listed, unseen: list[tuple[int, int]],
                    cancel: threading.Event | None = None) -> list[tuple[int, int]]:
    """Of the unseen positions, those no document of the index holds (the others are outside the filter)."""
    ids = [listed.listings[k].ids[pos - listed.listings[k].numbered] for k, pos in unseen
           if pos >= listed.listings[k].numbered]
    present: set[str] = set()
    for start in range(0, len(ids), _IDS_CHUNK):
        chunk = ids[start:start + _IDS_CHUNK]
        for hits in scan_sources(client, index, {"ids": {"values": chunk}}, source=False):
            check(cancel)
            present.update(h._id for h in hits)
    numbered = {listed.listings[k].where(pos) for k, pos in unseen if pos < listed.listings[k].numbered}
    streams = sorted({_split_place(p)[0] for p in numbered})
    for start in range(0, len(streams), _IDS_CHUNK):
        chunk = streams[start:start + _IDS_CHUNK]
        for hits in scan_sources(client, index, {"terms": {"audit.stream": chunk}}, source=["audit"]):
            check(cancel)
            for h in hits:
                stamp = read_stamp(h._source)
                if stamp.stream is not None and stamp.seq is not None:
                    present.add(f"stream {stamp.stream} seq {stamp.seq}")
    return [(k, pos) for k, pos in unseen if listed.listings[k].where(pos) not in present]
