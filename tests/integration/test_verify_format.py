"""Digest formats on the real node: the root of format 3, filtered checks by stream position, formats 1 and 2
still read (also in one chain with format 3), an edit whose 2-byte hash collides, an event holding an escaped
lone surrogate, events inserted outside the daily indices checked, hostile digest documents (a number beyond a
double, a run per listed number, a day past the year 9999).

Events are shipped as the agent ships them (its entry maker, bulk ``create``); the digests are built and
signed here with the agent's own functions, so a test can also write a digest the agent never would.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import itertools
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from elasticsearch import Elasticsearch

from auditlog.agent.digest import record_of, stamp_of
from auditlog.agent.enrich import Enricher
from auditlog.agent.fastpath import EntryMaker
from auditlog.agent.parser import Parser
from auditlog.agent.signing import SigningKey, load_key
from auditlog.indexer.integrity import (
    SHORT_HASH_BYTES,
    Record,
    digest_body,
    digest_hash,
    digest_id,
    digest_listing,
    encode_runs,
    encode_seqs,
    seq_ranges,
    signed_bytes,
)
from auditlog.indexer.query.filter import Filter
from auditlog.indexer.rawsource import raw_client_options
from auditlog.indexer.setup import install_templates
from auditlog.indexer.tiers import TierTable
from auditlog.indexer.verify import verify
from bench.events import event_lines

Body = Callable[[int, str | None, str | None, str, list[Record]], dict[str, Any]]


@pytest.fixture
def raw(es_url: str) -> Iterator[Elasticsearch]:
    """A client that returns raw response bytes, as verify needs."""
    client = Elasticsearch(es_url, request_timeout=60, **raw_client_options())
    yield client
    client.close()


def _ship(es: Elasticsearch, tiers: TierTable, count: int) -> list[Record]:
    """Ship ``count`` emitter lines into ``tiers`` and return what a digest keeps of each."""
    return [record_of(e) for e in _shipped(es, tiers, count)]


def _shipped(es: Elasticsearch, tiers: TierTable, count: int) -> list[bytes]:
    """Ship ``count`` emitter lines into ``tiers`` and return their bulk entries."""
    install_templates(es, tiers)
    end = datetime.now(UTC) - timedelta(minutes=1)
    start = max(end - timedelta(hours=1), end.replace(hour=0, minute=0, second=0, microsecond=0))
    make = EntryMaker(Parser(), Enricher(tiers))
    entries = [make(line.rstrip(b"\n"), "file", n) for n, line in enumerate(event_lines(count, seed=21,
                                                                                        window=(start, end)))]
    assert all(isinstance(e, bytes) for e in entries)
    es.bulk(operations=b"".join(e for e in entries if isinstance(e, bytes)), refresh=True)  # type: ignore[arg-type]
    return [e for e in entries if isinstance(e, bytes)]


def _current(key: SigningKey) -> Body:
    def body(seq: int, prev: str | None, prev_index: str | None, index: str, records: list[Record]) -> dict[str, Any]:
        return digest_body(agent=key.agent_id, public_key=key.public_b64, seq=seq, prev=prev, prev_index=prev_index,
                           index=index, records=records)
    return body


def _format2(key: SigningKey) -> Body:
    """The digest body the agent wrote before format 3: stream numbers as varint runs, 4-byte hashes."""
    def body(seq: int, prev: str | None, prev_index: str | None, index: str, records: list[Record]) -> dict[str, Any]:
        out = _current(key)(seq, prev, prev_index, index, records)
        listing = digest_listing(out)
        numbered = {(r.stream, r.seq): r for r in reversed(records)}  # the first under a number is listed
        by_id = {r.id: r for r in records}
        ordered = [numbered[(s, n)] for s, a, b, _at in listing.runs for n in range(a, b + 1)]
        ordered += [by_id[i] for i in listing.ids]
        runs = {s: [[a, b] for _s, a, b, _at in group] for s, group in itertools.groupby(listing.runs, lambda r: r[0])}
        out.update(v=2, width=4, hashes=base64.b64encode(b"".join(r.hash[:4] for r in ordered)).decode(),
                   streams={s: {"runs": encode_runs(runs[s]), "delivered": info["delivered"]}
                            for s, info in out["streams"].items()})
        return out
    return body


def _format1(key: SigningKey) -> Body:
    """The digest body the agent wrote before format 2: every id with its full hash."""
    def body(seq: int, prev: str | None, prev_index: str | None, index: str, records: list[Record]) -> dict[str, Any]:
        streams: dict[str, list[int]] = {}
        for r in records:
            if r.stream is not None and r.seq is not None:
                streams.setdefault(r.stream, []).append(r.seq)
        stamps = [r.timestamp for r in records]
        return {"agent": key.agent_id, "key": key.public_b64, "seq": seq, "prev": prev, "prev_index": prev_index,
                "index": index, "count": len(records), "first": min(stamps), "last": max(stamps),
                "ids": [r.id for r in records], "hashes": base64.b64encode(b"".join(r.hash for r in records)).decode(),
                "streams": {s: {"seqs": seq_ranges(v), "delivered": seq_ranges(v)} for s, v in sorted(streams.items())}}
    return body


def _store_digests(es: Elasticsearch, tiers: TierTable, key: SigningKey, records: list[Record], make: Body,
                   change: Callable[[dict[str, Any]], None] = lambda body: None,
                   windows: list[list[Record]] | None = None) -> None:
    """Write one signed, chained digest per events index, or per given window (``change`` edits each body
    before it is signed)."""
    groups: dict[str, list[Record]] = {}
    for r in records:
        groups.setdefault(r.events_index, []).append(r)
    prev: str | None = None
    prev_index: str | None = None
    chosen = [(w[0].events_index, w) for w in windows] if windows is not None else sorted(groups.items())
    for seq, (index, group) in enumerate(chosen, start=1):
        body = make(seq, prev, prev_index, index, group)
        change(body)
        parsed = tiers.parse_index(index)
        assert parsed is not None
        target = tiers.digest_index_for_day(*parsed)
        es.create(index=target, id=digest_id(key.agent_id, seq), refresh=True,
                  document={"@timestamp": body["last"], "digest": body, "signature": key.sign(signed_bytes(body))})
        prev, prev_index = digest_hash(body), target


def test_events_matching_their_short_hashes_but_not_the_root_are_reported_altered(
    es: Elasticsearch, raw: Elasticsearch, namespace: TierTable, tmp_path: Path
) -> None:
    """A signed root that the stored events do not hash to is an alteration, although every short hash matches."""
    records = _ship(es, namespace, 60)
    key = load_key(tmp_path)
    wrong = {"root": "0" * 64}
    first_index = min(r.events_index for r in records)

    def break_root(body: dict[str, Any]) -> None:
        if body["index"] == first_index:
            body.update(wrong)

    _store_digests(es, namespace, key, records, _current(key), break_root)

    report = verify(raw, namespace)
    assert [(p.kind, p.index, "root" in p.detail) for p in report.problems] == [("altered", first_index, True)]
    assert report.proven == 60


@pytest.mark.parametrize("writer", [_format1, _format2], ids=["format-1", "format-2"])
def test_older_formats_still_prove_events_and_name_an_altered_one(
    es: Elasticsearch, raw: Elasticsearch, namespace: TierTable, tmp_path: Path, writer: Callable[[SigningKey], Body]
) -> None:
    """Digests written before format 3 (format 1: ids and full hashes; 2: runs, 4-byte hashes) prove their
    events, and an edit is named by id."""
    records = _ship(es, namespace, 40)
    key = load_key(tmp_path)
    _store_digests(es, namespace, key, records, writer(key))
    assert (verify(raw, namespace).proven, verify(raw, namespace).problems) == (40, [])
    victim = records[7]
    es.update(index=victim.events_index, id=victim.id, doc={"message": "rewritten"}, refresh=True)

    report = verify(raw, namespace)
    assert [(p.kind, p.event_id) for p in report.problems] == [("altered", victim.id)]


def test_a_filtered_check_names_a_deleted_event_outside_the_filter_by_stream_number(
    es: Elasticsearch, raw: Elasticsearch, namespace: TierTable, tmp_path: Path
) -> None:
    """With a filter, numbered events it leaves out are not deleted, but one really deleted is, by its number."""
    records = _ship(es, namespace, 80)
    key = load_key(tmp_path)
    _store_digests(es, namespace, key, records, _current(key))
    first = es.search(index=namespace.read_pattern, size=1)
    tenant = first["hits"]["hits"][0]["_source"]["organization"]["id"]
    outside = es.search(index=namespace.read_pattern, size=1,
                        query={"bool": {"must_not": {"term": {"organization.id": tenant}}}})["hits"]["hits"][0]
    flt = Filter(tenants=(tenant,))
    assert verify(raw, namespace, flt).problems == []
    es.delete(index=outside["_index"], id=outside["_id"], refresh=True)

    report = verify(raw, namespace, flt)
    audit = outside["_source"]["audit"]
    assert [(p.kind, p.event) for p in report.problems] == [("deleted", f"stream {audit['stream']} seq {audit['seq']}")]


def test_numbers_listed_by_two_digests_are_covered_twice_and_not_deleted(
    es: Elasticsearch, raw: Elasticsearch, namespace: TierTable, tmp_path: Path
) -> None:
    """Numbers two digests both list are covered twice (nothing else: not deleted); every event is proven once."""
    records = _ship(es, namespace, 60)
    index = max({r.events_index for r in records}, key=lambda i: sum(r.events_index == i for r in records))
    mine = [r for r in records if r.events_index == index]
    others = [r for r in records if r.events_index != index]
    key = load_key(tmp_path)
    half = len(mine) // 2
    windows = [mine[:half + 3], mine[half - 3:]] + [[r] for r in others]
    _store_digests(es, namespace, key, records, _current(key), windows=windows)

    report = verify(raw, namespace)
    assert ({p.kind for p in report.problems}, report.proven, report.pending) == ({"covered-twice"}, 60, 0)


def test_an_event_holding_an_escaped_lone_surrogate_is_proven_with_the_rest(
    es: Elasticsearch, raw: Elasticsearch, namespace: TierTable, tmp_path: Path
) -> None:
    """An event whose stored bytes hold the escape \\ud800 (Elasticsearch accepts it, msgspec does not) is proven by
    the hash of those exact bytes, and every other event still is."""
    install_templates(es, namespace)
    end = datetime.now(UTC) - timedelta(minutes=1)
    start = max(end - timedelta(hours=1), end.replace(hour=0, minute=0, second=0, microsecond=0))
    make = EntryMaker(Parser(), Enricher(namespace))
    entries = [make(line.rstrip(b"\n"), "file", n) for n, line in enumerate(event_lines(30, seed=22,
                                                                                        window=(start, end)))]
    assert all(isinstance(e, bytes) for e in entries)
    shipped = [e for e in entries if isinstance(e, bytes)]
    victim = shipped[11]
    cut = victim.index(b"\n") + 1
    shipped[11] = victim[:cut] + b'{"note":"\\ud800lone",' + victim[cut + 1:]  # a document no emitter line makes
    records = [record_of(e, stamp_of(victim) if e is shipped[11] else None) for e in shipped]
    es.bulk(operations=b"".join(shipped), refresh=True)  # type: ignore[arg-type]
    _store_digests(es, namespace, load_key(tmp_path), records, _current(load_key(tmp_path)))

    report = verify(raw, namespace)
    assert (report.problems, report.proven, report.events) == ([], 30, 30)


def test_a_chain_mixing_formats_1_2_and_3_proves_every_event(
    es: Elasticsearch, raw: Elasticsearch, namespace: TierTable, tmp_path: Path
) -> None:
    """One agent's chain whose digests were written in formats 1, 2 and 3 (an upgraded agent) links and proves."""
    records = _ship(es, namespace, 90)
    key = load_key(tmp_path)
    index = max({r.events_index for r in records}, key=lambda i: sum(r.events_index == i for r in records))
    mine = [r for r in records if r.events_index == index]
    third = len(mine) // 3
    windows = [mine[:third], mine[third:2 * third], mine[2 * third:]]
    windows += [[r for r in records if r.events_index == other] for other in sorted({r.events_index for r in records})
                if other != index]
    writers = [_format1(key), _format2(key), _current(key)]
    written: list[int] = []

    def by_seq(seq: int, prev: str | None, prev_index: str | None, index: str, group: list[Record]) -> dict[str, Any]:
        body = writers[min(seq - 1, 2)](seq, prev, prev_index, index, group)
        written.append(body.get("v", 1))
        return body

    _store_digests(es, namespace, key, records, by_seq, windows=windows)

    report = verify(raw, namespace)
    assert (written[:3], report.problems, report.proven, report.digests) == ([1, 2, 3], [], 90, len(windows))


def test_an_edit_whose_short_hash_collides_names_its_window(
    es: Elasticsearch, raw: Elasticsearch, namespace: TierTable, tmp_path: Path
) -> None:
    """An edit that keeps the event's 2-byte hash is still reported altered: the window, not the event, is named."""
    entries = _shipped(es, namespace, 30)
    records = [record_of(e) for e in entries]
    key = load_key(tmp_path)
    _store_digests(es, namespace, key, records, _current(key))
    victim, entry = records[5], entries[5]
    doc = entry[entry.index(b"\n") + 1:-1]
    name = doc.index(b'"name":"') + len(b'"name":"')
    forged = next(d for n in itertools.count() if hashlib.sha256(
        d := doc[:name] + b"%d " % n + doc[name:]).digest()[:SHORT_HASH_BYTES] == victim.hash[:SHORT_HASH_BYTES])
    action = orjson.dumps({"index": {"_index": victim.events_index, "_id": victim.id}})
    es.bulk(operations=action + b"\n" + forged + b"\n", refresh=True)  # type: ignore[arg-type]

    report = verify(raw, namespace)
    assert [(p.kind, p.index, p.event_id, "could not be singled out" in p.detail) for p in report.problems] == [
        ("altered", victim.events_index, None, True)]


def _copy_of(es: Elasticsearch, record: Record, event_id: str) -> dict[str, Any]:
    """The stored event of ``record`` under another id: what someone inserting a plausible event would write."""
    hit = es.search(index=record.events_index, query={"ids": {"values": [record.id]}})["hits"]["hits"][0]
    return {**hit["_source"], "message": "refund approved", "event": {**hit["_source"]["event"], "id": event_id}}


def test_an_event_in_an_index_outside_the_daily_layout_is_inserted(
    es: Elasticsearch, raw: Elasticsearch, namespace: TierTable, tmp_path: Path
) -> None:
    """An event in ``<prefix>-enterprise-evil`` (which readers and tenant keys search, and a writer key may
    auto-create) is reported inserted."""
    records = _ship(es, namespace, 40)
    key = load_key(tmp_path)
    _store_digests(es, namespace, key, records, _current(key))
    stray = f"{namespace.prefix}-enterprise-evil"
    es.create(index=stray, id="forged-1", document=_copy_of(es, records[3], "forged-1"), refresh=True)

    report = verify(raw, namespace)
    assert ([(p.kind, p.index, p.event_id) for p in report.problems], report.proven, report.events) == (
        [("inserted", stray, "forged-1")], 40, 41)


def test_a_filtered_check_reports_an_event_selected_in_another_days_index(
    es: Elasticsearch, raw: Elasticsearch, namespace: TierTable, tmp_path: Path
) -> None:
    """A copy of today's event stored in a daily index of ten days ago is inserted for a check of the last hour."""
    records = _ship(es, namespace, 40)
    key = load_key(tmp_path)
    _store_digests(es, namespace, key, records, _current(key))
    parsed = namespace.parse_index(records[3].events_index)
    assert parsed is not None
    elsewhere = namespace.index_for_day(parsed[0], parsed[1] - timedelta(days=10))
    es.create(index=elsewhere, id="forged-2", document=_copy_of(es, records[3], "forged-2"), refresh=True)

    report = verify(raw, namespace, Filter(since=datetime.now(UTC) - timedelta(hours=2)))
    assert [(p.kind, p.index, p.event_id) for p in report.problems] == [("inserted", elsewhere, "forged-2")]


def test_a_digest_holding_a_number_beyond_a_double_is_reported_and_the_rest_still_verified(
    es: Elasticsearch, raw: Elasticsearch, namespace: TierTable, tmp_path: Path
) -> None:
    """A document in a digest index holding ``1e400`` (stored by Elasticsearch, refused by orjson) is one problem;
    every event is still proven."""
    records = _ship(es, namespace, 40)
    key = load_key(tmp_path)
    _store_digests(es, namespace, key, records, _current(key))
    parsed = namespace.parse_index(records[0].events_index)
    assert parsed is not None
    target = namespace.digest_index_for_day(*parsed)
    es.perform_request("PUT", f"/{target}/_create/hostile?refresh=true", headers={
        "content-type": "application/json", "accept": "application/json"},
        body=b'{"@timestamp":"2026-12-05T00:00:00Z","digest":{"agent":"x","seq":1,"index":"i","n":1e400}}')

    report = verify(raw, namespace)
    assert ([(p.kind, p.digest_id) for p in report.problems], report.proven) == ([("signature", "hostile")], 40)


def test_a_forged_digest_of_a_run_per_event_is_checked_in_linear_time(
    es: Elasticsearch, raw: Elasticsearch, namespace: TierTable, tmp_path: Path
) -> None:
    """A forged digest (110 kB) listing 40,000 numbers in as many runs is reported within seconds, not minutes:
    naming each listed number no longer walks every run."""
    records = _ship(es, namespace, 40)
    key = load_key(tmp_path)
    _store_digests(es, namespace, key, records, _current(key))
    index = records[0].events_index
    parsed = namespace.parse_index(index)
    assert parsed is not None
    listed = 40_000
    body = {"agent": "forger", "key": "AAAA", "seq": 1, "index": index, "v": 3, "width": 1, "ids": [],
            "first": records[0].timestamp, "last": records[0].timestamp, "root": "0" * 64,
            "hashes": base64.b64encode(bytes(listed)).decode(),
            "streams": {"made-up": {"seqs": encode_seqs(list(range(1, 2 * listed, 2))), "delivered": []}}}
    es.create(index=namespace.digest_index_for_day(*parsed), id="forged", refresh=True,
              document={"@timestamp": body["last"], "digest": body, "signature": "AAAA"})

    started = time.monotonic()
    report = verify(raw, namespace)
    elapsed = time.monotonic() - started
    kinds = collections.Counter(p.kind for p in report.problems)
    assert (kinds, report.proven, elapsed < 20) == (collections.Counter(signature=1, deleted=listed), 40, True)


def test_a_digest_naming_a_day_whose_retention_ends_past_the_year_9999_is_reported(
    es: Elasticsearch, raw: Elasticsearch, namespace: TierTable, tmp_path: Path
) -> None:
    """A forged digest whose events index and previous digest index are of 9999-12-31 is reported (both indices
    are missing), where working out whether their retention had passed overflowed and stopped verify."""
    records = _ship(es, namespace, 40)
    key = load_key(tmp_path)
    _store_digests(es, namespace, key, records, _current(key))
    parsed = namespace.parse_index(records[0].events_index)
    assert parsed is not None
    last = date(9999, 12, 31)
    body = {"agent": "forger", "seq": 5, "index": namespace.index_for_day("enterprise", last),
            "prev_index": namespace.digest_index_for_day("enterprise", last), "v": 3, "width": 2, "ids": ["gone"],
            "hashes": base64.b64encode(bytes(2)).decode(), "root": "0" * 64, "streams": {}}
    es.create(index=namespace.digest_index_for_day(*parsed), id="far", refresh=True,
              document={"@timestamp": records[0].timestamp, "digest": body, "signature": "AAAA"})

    report = verify(raw, namespace)
    assert ([(p.kind, p.index) for p in report.problems], report.proven) == (
        [("signature", namespace.digest_index_for_day(*parsed)), ("digest-missing", body["prev_index"]),
         ("deleted", body["index"])], 40)


def _by_index(records: list[Record]) -> list[tuple[str, list[Record]]]:
    """The records grouped per events index, in the order _store_digests signs them (seq 1, 2, ...)."""
    groups: dict[str, list[Record]] = {}
    for r in records:
        groups.setdefault(r.events_index, []).append(r)
    return sorted(groups.items())


def test_an_events_index_deleted_before_its_retention_is_reported_with_its_signed_events(
    es: Elasticsearch, raw: Elasticsearch, namespace: TierTable, tmp_path: Path
) -> None:
    """Deleting a whole day's events index early is `deleted ... index missing` with the number of signed events
    (tamper-evidence.md's table), not retention; the other indices' events are still proven."""
    records = _ship(es, namespace, 30)
    key = load_key(tmp_path)
    _store_digests(es, namespace, key, records, _current(key))
    index, gone = _by_index(records)[0]
    es.indices.delete(index=index)
    report = verify(raw, namespace)
    assert ([(p.kind, p.index, p.detail) for p in report.problems], report.proven) == (
        [("deleted", index, f"index missing: {len(gone)} signed events gone")], len(records) - len(gone))


def test_a_digest_that_does_not_link_to_its_predecessor_is_a_chain_problem(
    es: Elasticsearch, raw: Elasticsearch, namespace: TierTable, tmp_path: Path
) -> None:
    """A digest whose prev is not the hash of the digest before it (signed by the agent's key, so only the link is
    wrong) is a `chain` problem naming it; every event is still proven."""
    records = _ship(es, namespace, 30)
    assert len(_by_index(records)) >= 2
    key = load_key(tmp_path)

    def relink(body: dict[str, Any]) -> None:
        if body["seq"] == 2:
            body["prev"] = "0" * 64

    _store_digests(es, namespace, key, records, _current(key), relink)
    report = verify(raw, namespace)
    assert ([(p.kind, p.digest_id) for p in report.problems], report.proven) == (
        [("chain", digest_id(key.agent_id, 2))], len(records))
    assert f"agent {key.agent_id}: digest 2 does not link to digest 1" in report.problems[0].detail


def test_two_digests_with_one_seq_are_a_fork(
    es: Elasticsearch, raw: Elasticsearch, namespace: TierTable, tmp_path: Path
) -> None:
    """A second digest of the agent with a seq already used (a fork of its chain under another id, linked like the
    first and listing the same events) is a `chain` problem naming the fork."""
    records = _ship(es, namespace, 30)
    groups = _by_index(records)
    assert len(groups) >= 2
    key = load_key(tmp_path)
    _store_digests(es, namespace, key, records, _current(key))
    (first_index, first_group), (second_index, second_group) = groups[:2]
    first_parsed, second_parsed = namespace.parse_index(first_index), namespace.parse_index(second_index)
    assert first_parsed is not None and second_parsed is not None
    first = _current(key)(1, None, None, first_index, first_group)
    body = _current(key)(2, digest_hash(first), namespace.digest_index_for_day(*first_parsed), second_index,
                         second_group)
    es.create(index=namespace.digest_index_for_day(*second_parsed), id=f"{key.agent_id}-fork", refresh=True,
              document={"@timestamp": body["last"], "digest": body, "signature": key.sign(signed_bytes(body))})
    report = verify(raw, namespace)
    assert [p.detail for p in report.problems if p.kind == "chain"] == [f"agent {key.agent_id}: two digests with seq 2"]
