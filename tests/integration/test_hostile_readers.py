"""Readers on the real node with hostile stored documents: list, facets, show and export never die on one."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from elasticsearch import Elasticsearch

from auditlog.cli import main
from auditlog.indexer.client import ConnectionSettings, make_client
from auditlog.indexer.query import Filter, Pager, facet_counts
from auditlog.indexer.query.hits import UNDECODABLE
from auditlog.indexer.setup import install_templates
from auditlog.indexer.tiers import TierTable
from tests.support.hostile import BIG, LONG_ID, Hostile, index_hostile

NOW = datetime.now(UTC)


@pytest.fixture
def hostile(es: Elasticsearch, namespace: TierTable) -> list[Hostile]:
    """The namespace holding the hostile corpus."""
    return index_hostile(es, namespace, NOW)


def _rows(path: Path, sheet: str) -> list[tuple[Any, ...]]:
    return list(openpyxl.load_workbook(path, read_only=True)[sheet].iter_rows(values_only=True))


def test_export_writes_every_document_and_keeps_the_big_integer(
    es: Elasticsearch, es_url: str, namespace: TierTable, hostile: list[Hostile], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`auditlog export` exits 0 with one row per stored document; the 400-digit value is written in full."""
    out = tmp_path / "hostile.xlsx"
    code = main(["export", "--es", es_url, "--prefix", namespace.prefix, "-o", str(out)])
    capsys.readouterr()
    header, *rows = _rows(out, "Events")
    by_id = {row[-1]: dict(zip(header, row, strict=True)) for row in rows}
    meta = dict(_rows(out, "Metadata"))
    expected = (0, es.count(index=namespace.read_pattern)["count"], f"n: {BIG}", 0)
    assert expected == (code, len(rows), by_id["big-int"]["New values"], meta["Undecodable events"])


def test_show_prints_the_exact_integer_and_the_escaped_surrogate(
    es_url: str, namespace: TierTable, hostile: list[Hostile], capsys: pytest.CaptureFixture[str]
) -> None:
    """`auditlog show` prints valid JSON for both documents: the integer exact, the surrogate as its escape."""
    shown = []
    for event_id in ("big-int", "surrogate"):
        assert 0 == main(["show", "--es", es_url, "--prefix", namespace.prefix, event_id])
        shown.append(json.loads(capsys.readouterr().out))
    assert (BIG, "a\ud800b") == (shown[0]["audit"]["changes"]["n"]["new"], shown[1]["message"])


def test_list_and_facets_read_every_document(es_url: str, namespace: TierTable, hostile: list[Hostile]) -> None:
    """The pager lists every document (long id included) and the facet total agrees, with the product's client."""
    client = make_client(ConnectionSettings(url=es_url))
    try:
        with Pager(client, namespace, Filter()) as pager:
            ids = [hit.id for hit in pager.rows(0, 100)]
            counts = facet_counts(client, namespace, Filter(), pit=pager.snapshot())
    finally:
        client.close()
    expected = (len(hostile), len(hostile), True)
    assert expected == (len(ids), counts.total, LONG_ID in ids)



#: _id -> event.id of documents another producer could store: only "odd-null" and "odd-same" name themselves.
ODD_IDS: dict[str, Any] = {"odd-same": "odd-same", "odd-null": None, "odd-other": "someone-else",
                           "odd-list": ["odd-list"], "odd-big": 10**30}


@pytest.fixture
def odd_ids(es: Elasticsearch, namespace: TierTable) -> None:
    """Index one document per ``ODD_IDS`` entry under its _id, event.id as given, then refresh."""
    install_templates(es, namespace)
    for n, (doc_id, event_id) in enumerate(ODD_IDS.items()):
        at = NOW - timedelta(minutes=n + 1)
        source = {"@timestamp": at.isoformat().replace("+00:00", "Z"), "message": "odd id",
                  "event": {"id": event_id, "action": "update"}, "audit": {"source": "slots", "tier": "enterprise"}}
        es.index(index=namespace.index_for("enterprise", at), id=doc_id, document=source, op_type="create")
    es.indices.refresh(index=namespace.read_pattern)


def test_export_names_every_event_by_its_document_id_and_marks_a_differing_event_id(
    es_url: str, namespace: TierTable, odd_ids: None, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """The Event ID column holds each _id; the three documents whose event.id names another id are marked, counted."""
    out = tmp_path / "odd.xlsx"
    code = main(["export", "--es", es_url, "--prefix", namespace.prefix, "-o", str(out)])
    capsys.readouterr()
    header, *rows = _rows(out, "Events")
    marked = sorted(row[-1] for row in rows if str(row[header.index("Summary")]).startswith("undecodable event"))
    meta = dict(_rows(out, "Metadata"))
    expected = (0, sorted(ODD_IDS), ["odd-big", "odd-list", "odd-other"], 3)
    assert expected == (code, sorted(row[-1] for row in rows), marked, meta["Undecodable events"])


def test_show_finds_a_document_by_the_id_the_export_shows_and_says_why_it_is_marked(
    es_url: str, namespace: TierTable, odd_ids: None, capsys: pytest.CaptureFixture[str],
) -> None:
    """`auditlog show odd-other` prints the event under its _id with the reason its event.id is not shown."""
    code = main(["show", "--es", es_url, "--prefix", namespace.prefix, "odd-other"])
    shown = json.loads(capsys.readouterr().out)
    assert (0, "odd-other", True) == (code, shown["event"]["id"], "someone-else" in shown[UNDECODABLE])
