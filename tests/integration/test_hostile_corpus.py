"""The combined hostile corpus against the real node: no line takes down shipping, export, the TUI or retention.

One module-scoped run (``corpus``) does what an operator's day would: the real ``auditlog agent`` process
ships a file interleaving good lines with every class of ``tests.support.corpus.LINES``; the documents the
agent refuses but another producer could still write (``STORED``) go in with a raw bulk request through an
admin client; expired daily indices (and names retention cannot read) are seeded by name; then the real
CLI runs ``retention status``, ``retention enforce`` and ``export``. The tests below each check one
consequence of that run; ``auditlog show`` prints each stored document, the TUI's list and detail are
driven with Textual's Pilot over the same namespace, and ``dlq replay`` re-ships a copy of the dead
letters into a namespace of its own.
Digests are off in this run: they have their own tests, and the expired-index set stays exact.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import openpyxl
import orjson
import pytest
from elasticsearch import Elasticsearch

from auditlog.agent.deadletter import DEADLETTER_FILE, read_records
from auditlog.cli import main
from auditlog.indexer.client import ConnectionSettings, make_client
from auditlog.indexer.decode import exact_loads
from auditlog.indexer.setup import install_templates
from auditlog.indexer.tiers import TierTable
from auditlog.tui.screens.detail import DetailScreen
from auditlog.tui.screens.main import MainScreen
from tests.integration.agent_support import AgentProcess, count, wait_count, write_config
from tests.support.corpus import (
    DEAD,
    EXPIRED,
    LINES,
    LONG_ID,
    MAX_LINE_BYTES,
    NOW,
    PENDING,
    REDACTED,
    SECRETS,
    SHIPPED,
    SKIPPED,
    STORED,
    Case,
    event,
)
from tests.support.seed import cleanup_namespace
from tests.tui.support import make_app, screen_text, settle

#: good lines around the corpus (every other one shaped like the emitter's)
GOOD = 20
#: lines that become documents: the good ones and every shipped class; an identical re-send adds none
ARRIVING = [c for c in LINES if c.outcome in (SHIPPED, REDACTED, EXPIRED) and c.name != "id_reused_identical"]
REJECTED = [c for c in LINES if c.outcome == DEAD]


@dataclass
class Corpus:
    """What the run left behind: namespace, agent files, offsets, index snapshots and the CLI's answers."""

    tiers: TierTable
    es_url: str
    log: Path
    state: Path
    offsets: dict[str, int]
    agent_indices: list[str]
    seeded_expired: list[str]
    before_enforce: set[str]
    after_enforce: set[str]
    status: subprocess.CompletedProcess[str]
    enforce: subprocess.CompletedProcess[str]
    arrived: int


def _good_line(i: int) -> bytes:
    ev = event(f"good-{i}", emitter=i % 2 == 0, hours=1 + i * 0.7,
               tier=("enterprise", "business", "professional", "whitelabel", "flatrate", "basic")[i % 6])
    return orjson.dumps(ev) + b"\n"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the real ``auditlog`` CLI (connection only from the flags, like the agent's test process)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDITLOG_ES_")}
    return subprocess.run([sys.executable, "-m", "auditlog.cli", *args], capture_output=True, text=True,
                          timeout=120, env=env)


def _indices(es: Elasticsearch, tiers: TierTable) -> set[str]:
    return set(es.indices.get(index=f"{tiers.prefix}*", expand_wildcards="all"))


def _store_directly(es: Elasticsearch, tiers: TierTable) -> None:
    """Index ``STORED`` with one raw bulk request (bytes as written: the agent would refuse them)."""
    body = b"".join(orjson.dumps({"create": {"_index": tiers.index_for("enterprise", doc.at), "_id": doc.doc_id}})
                    + b"\n" + doc.body + b"\n" for doc in STORED)
    response = es.perform_request("POST", "/_bulk", body=body, params={"refresh": "true"},
                                  headers={"content-type": "application/x-ndjson", "accept": "application/json"})
    failed = [item["create"] for item in response.body["items"] if item["create"]["status"] != 201]
    assert failed == [], failed


def _seed_retention(es: Elasticsearch, tiers: TierTable) -> list[str]:
    """Create expired daily indices, a young one and names retention cannot read; return the expired ones."""
    today = NOW.date()
    expired = [tiers.index_for_day("enterprise", today - timedelta(days=40)),
               tiers.index_for_day("business", today - timedelta(days=9)),
               tiers.index_for_day("professional", today - timedelta(days=5))]
    kept = [tiers.index_for_day("professional", today - timedelta(days=1)),
            f"{tiers.prefix}-business-9999.12.31", f"{tiers.prefix}-business-0999.12.31",
            f"{tiers.prefix}-enterprise-2026.02.30"]
    for name in expired + kept:
        es.options(ignore_status=400).indices.create(index=name)  # 400: the agent made it already
    return expired


def _write_log(path: Path) -> dict[str, int]:
    """Write the good lines interleaved with the corpus; return each class's byte offset in the file."""
    offsets, position = {}, 0
    with path.open("wb") as fh:
        for i in range(max(GOOD, len(LINES))):
            if i < GOOD:
                position += fh.write(_good_line(i))
            if i < len(LINES):
                offsets[LINES[i].name] = position
                position += fh.write(LINES[i].line)
    return offsets


def _ship(es: Elasticsearch, es_url: str, tiers: TierTable, tmp: Path, log: Path) -> tuple[Path, int]:
    """Run the real agent over ``log`` until everything arrived and was dead-lettered; return (state, count)."""
    state = tmp / "state"
    agent = AgentProcess(write_config(tmp / "agent.toml", paths=[str(log)], state=state, es_url=es_url,
                                      prefix=tiers.prefix, inputs={"max_line_bytes": MAX_LINE_BYTES},
                                      digest={"enabled": False}), tmp / "agent.log")
    agent.start()
    try:
        arrived = wait_count(es, tiers, GOOD + len(ARRIVING))
        end = time.monotonic() + 30
        while time.monotonic() < end and len(list(read_records(state))) < len(REJECTED):
            time.sleep(0.2)
        assert agent.stop() == 0, agent.log.read_text(errors="replace")[-3000:]
    finally:
        agent.ensure_stopped()
    return state, arrived


@pytest.fixture(scope="module")
def corpus(es: Elasticsearch, es_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Corpus]:
    """The corpus shipped by the agent, the stored documents indexed, retention run: see the module doc."""
    tmp = tmp_path_factory.mktemp("hostile-corpus")
    tiers = TierTable(prefix=f"t{uuid.uuid4().hex[:10]}-corpus")
    try:
        install_templates(es, tiers, ilm=False)  # retention enforce is the deleter (no ILM racing it)
        log = tmp / "audit.jsonl"
        offsets = _write_log(log)
        state, arrived = _ship(es, es_url, tiers, tmp, log)
        agent_indices = sorted(_indices(es, tiers))
        _store_directly(es, tiers)
        seeded_expired = _seed_retention(es, tiers)
        status = _cli("retention", "status", "--es", es_url, "--prefix", tiers.prefix)
        before = _indices(es, tiers)
        enforce = _cli("retention", "enforce", "--es", es_url, "--prefix", tiers.prefix, "--json")
        after = _indices(es, tiers)
        yield Corpus(tiers, es_url, log, state, offsets, agent_indices, seeded_expired, before, after, status,
                     enforce, arrived)
    finally:
        cleanup_namespace(es, tiers)


def _search_raw(corpus: Corpus) -> bytes:
    """Every document of the namespace as Elasticsearch returns it: the raw bytes of one search answer."""
    url = f"{corpus.es_url}/{corpus.tiers.read_pattern}/_search?size=10000&track_total_hits=true"
    with urllib.request.urlopen(url, timeout=60) as answer:
        return bytes(answer.read())


def _stored_ids(corpus: Corpus) -> set[str]:
    return {hit["_id"] for hit in exact_loads(_search_raw(corpus))["hits"]["hits"]}


def _dead_letters(corpus: Corpus) -> dict[int, dict[str, Any]]:
    return {record["offset"]: record for record in read_records(corpus.state)}


def _case_id(case: Case) -> str:
    event_id = case.event_id
    assert event_id is not None, case.name
    return event_id


def test_the_corpus_has_at_least_30_classes() -> None:
    """The corpus holds at least 30 classes of hostile lines, each name once."""
    names = [c.name for c in LINES] + [s.name for s in STORED]
    assert (True, len(names)) == (len(names) >= 30, len(set(names)))


def test_every_shipped_class_arrives_once(corpus: Corpus, es: Elasticsearch) -> None:
    """Every good line and every class that may be shipped is stored once, and no rejected line is."""
    ids = _stored_ids(corpus)
    expected = ({f"hc-good-{i}" for i in range(GOOD)}
                | {_case_id(c) for c in ARRIVING if c.name not in ("id_absent", "business_event_10_days_old")}
                | {s.doc_id for s in STORED})
    rejected_ids = {c.event_id for c in REJECTED if c.event_id} - {"hc-id_reused"}
    # the id-less line gets a derived id; the expired one left with its index
    assert (corpus.arrived, expected - ids, ids & rejected_ids, len(ids)) == (
        GOOD + len(ARRIVING), set(), set(), len(expected) + 1)


@pytest.mark.parametrize("case", REJECTED, ids=lambda c: c.name)
def test_rejected_line_is_dead_lettered_with_its_reason(corpus: Corpus, case: Case) -> None:
    """Each class that must not be shipped is in the dead-letter file at its offset, with its reason."""
    record = _dead_letters(corpus).get(corpus.offsets[case.name])
    assert record is not None, f"{case.name} not dead-lettered"
    assert case.reason in record["reason"]


def test_only_rejected_lines_are_dead_lettered(corpus: Corpus) -> None:
    """The dead-letter file holds one record per rejected class and nothing for any other line."""
    expected = sorted(corpus.offsets[c.name] for c in REJECTED)
    assert expected == sorted(_dead_letters(corpus))


@pytest.mark.parametrize("case", [c for c in LINES if c.outcome in (SKIPPED, PENDING)], ids=lambda c: c.name)
def test_blank_and_unterminated_lines_leave_no_trace(corpus: Corpus, case: Case) -> None:
    """A blank line, and a last line still waiting for its newline, is neither dead-lettered nor stored."""
    stored = case.event_id in _stored_ids(corpus) if case.event_id else False
    assert (False, False) == (corpus.offsets[case.name] in _dead_letters(corpus), stored)


@pytest.mark.parametrize("case", [c for c in LINES if c.outcome == REDACTED], ids=lambda c: c.name)
def test_secret_class_arrives_redacted(corpus: Corpus, es: Elasticsearch, case: Case) -> None:
    """Each class holding a secret is stored with "[REDACTED]" in its place."""
    es.indices.refresh(index=corpus.tiers.read_pattern)
    hits = es.search(index=corpus.tiers.read_pattern, query={"ids": {"values": [_case_id(case)]}})["hits"]["hits"]
    text = orjson.dumps(hits[0]["_source"]).decode() if hits else ""
    assert (True, []) == ("[REDACTED]" in text, [s for s in case.secrets if s in text])


def test_no_secret_reaches_elasticsearch(corpus: Corpus) -> None:
    """None of the corpus's secrets is in the raw `_source` of any stored document."""
    raw = _search_raw(corpus)
    # the bytes as stored, and the values decoded (a JSON escape must not hide a secret from this check)
    texts = raw.decode("utf-8", "replace") + json.dumps(exact_loads(raw), ensure_ascii=False)
    assert [s for s in SECRETS if s in texts] == []


def test_no_secret_reaches_the_dead_letter_file(corpus: Corpus) -> None:
    """The dead-letter file, base64 lines decoded, holds none of the corpus's secrets (and does hold redactions)."""
    records = list(read_records(corpus.state))
    decoded = [base64.b64decode(r["line_b64"]).decode("utf-8", "replace") for r in records if "line_b64" in r]
    everything = "\n".join([(corpus.state / DEADLETTER_FILE).read_text(), json.dumps(records, ensure_ascii=False),
                             *decoded])
    assert ([], True) == ([s for s in SECRETS if s in everything], "[REDACTED]" in everything)


def test_no_index_outside_the_time_bounds_exists(corpus: Corpus) -> None:
    """Every index the agent created is a readable daily name between 31 days ago and tomorrow."""
    earliest, latest = NOW.date() - timedelta(days=31), NOW.date() + timedelta(days=1)
    outside = [name for name in corpus.agent_indices
               if (parsed := corpus.tiers.parse_index(name)) is None or not earliest <= parsed[1] <= latest]
    assert (True, []) == (bool(corpus.agent_indices), outside)


def test_retention_status_exits_0_and_warns_about_unreadable_names(corpus: Corpus) -> None:
    """`retention status` exits 0, prints its table and one warning per unreadable name, no traceback."""
    warned = [line for line in corpus.status.stderr.splitlines() if line.startswith("warning: index ")]
    assert (0, 3, False, True) == (corpus.status.returncode, len(warned), "Traceback" in corpus.status.stderr,
                                   corpus.status.stdout.startswith("CLASS"))


def test_retention_enforce_deletes_exactly_the_expired_indices(corpus: Corpus) -> None:
    """`retention enforce` exits 0 and deletes the seeded expired indices and the 10-day-old business one only."""
    expired_event_index = corpus.tiers.index_for_day("business", (NOW - timedelta(hours=240)).date())
    report = orjson.loads(corpus.enforce.stdout)
    expected = (0, sorted([*corpus.seeded_expired, expired_event_index]))
    assert expected == (corpus.enforce.returncode, sorted(corpus.before_enforce - corpus.after_enforce))
    assert sorted(i["index"] for i in report["deleted"]) == expected[1]


@pytest.fixture(scope="module")
def export(corpus: Corpus, tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """`auditlog export` of the whole namespace, run once as the real CLI."""
    out = tmp_path_factory.mktemp("corpus-export") / "corpus.xlsx"
    return _cli("export", "--es", corpus.es_url, "--prefix", corpus.tiers.prefix, "-o", str(out)), out


def _sheet(path: Path, name: str) -> list[tuple[Any, ...]]:
    return list(openpyxl.load_workbook(path, read_only=True)[name].iter_rows(values_only=True))


def test_export_row_count_equals_the_elasticsearch_count(corpus: Corpus, es: Elasticsearch, export: Any) -> None:
    """`auditlog export` exits 0 with one row per document of the namespace, as `_count` says."""
    done, path = export
    assert done.returncode == 0, done.stderr[-2000:]
    _header, *rows = _sheet(path, "Events")
    assert count(es, corpus.tiers) == len(rows)


def test_export_decodes_every_hostile_document(corpus: Corpus, export: Any) -> None:
    """Every stored document is readable (none marked "undecodable event <id>") and the Metadata sheet says 0."""
    done, path = export
    assert done.returncode == 0, done.stderr[-2000:]
    header, *rows = _sheet(path, "Events")
    summary = header.index("Summary")
    marked = [row for row in rows if str(row[summary] or "").startswith("undecodable event ")]
    meta = dict(row[:2] for row in _sheet(path, "Metadata"))
    assert (0, 0) == (len(marked), meta["Undecodable events"])


def test_export_holds_every_stored_event_by_id(corpus: Corpus, export: Any) -> None:
    """Every stored document is an export row under its own id, the 512-character and markup ids included."""
    done, path = export
    assert done.returncode == 0, done.stderr[-2000:]
    _header, *rows = _sheet(path, "Events")
    exported = {str(row[-1]) for row in rows}
    assert (set(), True) == (_stored_ids(corpus) - exported, LONG_ID in exported)


@pytest.fixture(scope="module")
def reader(es_url: str) -> Iterator[Elasticsearch]:
    """The client ``auditlog tui`` reads with (the product's, with its tolerant decoder)."""
    client = make_client(ConnectionSettings(url=es_url))
    yield client
    client.close()


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_tui_list_count_equals_the_elasticsearch_count(corpus: Corpus, es: Elasticsearch, reader: Elasticsearch,
                                                            tmp_path: Path, size: tuple[int, int]) -> None:
    """The TUI's event list loads over the corpus and its total equals `_count` for the namespace."""
    # the clock a day ahead: the default range (7 days up to now) then also holds the hour-ahead event
    app = make_app(reader, corpus.tiers, tmp_path, clock=lambda: NOW + timedelta(days=1, hours=1), zone="UTC")
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, MainScreen)
        assert screen.listing is not None
        assert (count(es, corpus.tiers), False) == (screen.listing.total, "undecodable" in screen_text(app))


@pytest.mark.parametrize("doc", STORED, ids=lambda d: d.name)
def test_show_prints_every_stored_document_as_valid_json(corpus: Corpus, doc: Any,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """`auditlog show` exits 0 and prints JSON that parses, for each document the agent refuses."""
    code = main(["show", "--es", corpus.es_url, "--prefix", corpus.tiers.prefix, doc.doc_id])
    out, err = capsys.readouterr()
    shown = exact_loads(out) if code == 0 else {}
    assert (0, doc.doc_id) == (code, shown.get("event", {}).get("id")), err[-500:]


async def test_tui_detail_json_tab_opens_on_the_deepest_document(corpus: Corpus, reader: Elasticsearch,
                                                                tmp_path: Path) -> None:
    """The detail of the document nested ~1,000 levels deep opens and its JSON tab shows it."""
    app = make_app(reader, corpus.tiers, tmp_path, clock=lambda: NOW + timedelta(days=1, hours=1), zone="UTC")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, MainScreen) and screen.listing is not None
        rows = [screen.fetch_row(i) for i in range(screen.listing.total)]
        position = [row.event_id if row else None for row in rows].index("st-deep")
        if "hidden" not in screen.query_one("#filters").classes:
            await pilot.press("escape")  # from the facet panel to the list
        await pilot.press(*["down"] * position, "enter", "3")
        await settle(pilot)
        assert (True, True) == (isinstance(app.screen, DetailScreen), '"st-deep"' in screen_text(app))


@dataclass
class Replay:
    """``auditlog dlq replay`` over a copy of the corpus's dead letters into a namespace of its own."""

    done: subprocess.CompletedProcess[str]
    outcomes: dict[int, dict[str, Any]]
    tiers: TierTable


@pytest.fixture(scope="module")
def replay(corpus: Corpus, es: Elasticsearch, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replay]:
    """Replay every dead letter with the real CLI; a copy of the state and another namespace keep the corpus as is."""
    state = tmp_path_factory.mktemp("corpus-replay") / "state"
    shutil.copytree(corpus.state, state)
    tiers = TierTable(prefix=f"t{uuid.uuid4().hex[:10]}-replay")
    try:
        install_templates(es, tiers, ilm=False)
        done = _cli("dlq", "replay", "--state-dir", str(state), "--es", corpus.es_url, "--prefix", tiers.prefix)
        outcomes = {record["offset"]: record for record in map(orjson.loads, done.stdout.splitlines())}
        yield Replay(done, outcomes, tiers)
    finally:
        cleanup_namespace(es, tiers)


def test_replay_gives_every_dead_letter_its_own_outcome(replay: Replay, corpus: Corpus) -> None:
    """`dlq replay` over the corpus exits 1 with a summary, no traceback and one outcome per dead letter."""
    expected = (1, sorted(corpus.offsets[c.name] for c in REJECTED), False, True)
    assert expected == (replay.done.returncode, sorted(replay.outcomes), "Traceback" in replay.done.stderr,
                        "still rejected" in replay.done.stderr)


@pytest.mark.parametrize("case", REJECTED, ids=lambda c: c.name)
def test_replay_outcome_of_each_dead_letter(replay: Replay, corpus: Corpus, case: Case) -> None:
    """Replayed into an empty namespace, a dead letter is shipped only when its class says so."""
    record = replay.outcomes.get(corpus.offsets[case.name], {})
    assert ("replayed" if case.replays else "rejected") == record.get("outcome")
