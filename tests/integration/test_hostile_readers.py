"""Readers on the real node with hostile stored documents: list, facets, show and export never die on one."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from elasticsearch import Elasticsearch

from auditlog.cli import main
from auditlog.indexer.client import ConnectionSettings, make_client
from auditlog.indexer.query import Filter, Pager, facet_counts
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

