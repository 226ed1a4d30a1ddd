"""`auditlog retention status|enforce` on the real node with index names it cannot use: warnings, exit 0."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from elasticsearch import Elasticsearch

from auditlog.cli import main
from auditlog.indexer.setup import install_templates
from auditlog.indexer.tiers import TierTable

NOW = datetime(2026, 11, 26, 10, 15, tzinfo=UTC)


def _strange(tiers: TierTable) -> list[str]:
    return [f"{tiers.prefix}-business-9999.12.31", f"{tiers.prefix}-business-999.12.31",
            f"{tiers.prefix}-enterprise-2026.02.30"]


def _prepare(es: Elasticsearch, tiers: TierTable) -> str:
    install_templates(es, tiers, ilm=False)
    old = tiers.index_for_day("professional", (NOW - timedelta(days=5)).date())
    for name in [*_strange(tiers), old]:
        es.indices.create(index=name)
    return old


def test_status_warns_once_per_unusable_name_and_exits_0(
    es: Elasticsearch, es_url: str, namespace: TierTable, capsys: pytest.CaptureFixture[str]
) -> None:
    """The table is printed, each unusable name gets one warning line on stderr, and the exit status is 0."""
    _prepare(es, namespace)
    code = main(["retention", "status", "--es", es_url, "--prefix", namespace.prefix, "--now", NOW.isoformat()])
    out, err = capsys.readouterr()
    warned = sorted(line.split()[2].rstrip(":") for line in err.splitlines() if line.startswith("warning: index "))
    expected = (0, sorted(_strange(namespace)), 4, False)
    assert expected == (code, warned, len(out.splitlines()), "Traceback" in err)


def test_enforce_deletes_the_expired_index_despite_unusable_names(
    es: Elasticsearch, es_url: str, namespace: TierTable, capsys: pytest.CaptureFixture[str]
) -> None:
    """enforce --json exits 0, deletes the expired professional index and reports the unusable names."""
    old = _prepare(es, namespace)
    code = main(["retention", "enforce", "--es", es_url, "--prefix", namespace.prefix, "--now", NOW.isoformat(),
                 "--json"])
    report = json.loads(capsys.readouterr().out)
    expected = (0, [old], sorted(_strange(namespace)), False)
    assert expected == (code, [i["index"] for i in report["deleted"]],
                        [u["index"] for u in report["unreadable"]], es.indices.exists(index=old).body)


def _held(es: Elasticsearch, tiers: TierTable, block: str) -> tuple[str, str]:
    """An expired business index under ``block`` and an expired professional one without: (held, free)."""
    install_templates(es, tiers, ilm=False)
    held = tiers.index_for_day("business", (NOW - timedelta(days=9)).date())
    free = tiers.index_for_day("professional", (NOW - timedelta(days=5)).date())
    for name in (held, free):
        es.indices.create(index=name)
    es.indices.put_settings(index=held, settings={block: True})
    return held, free


def test_enforce_names_the_blocked_overdue_index_deletes_the_rest_and_exits_1(
    es: Elasticsearch, es_url: str, namespace: TierTable, capsys: pytest.CaptureFixture[str]
) -> None:
    """An overdue index with a read-only block gets one warning naming it and its block; the other one is deleted."""
    held, free = _held(es, namespace, "index.blocks.read_only")
    try:
        code = main(["retention", "enforce", "--es", es_url, "--prefix", namespace.prefix, "--now", NOW.isoformat()])
    finally:
        es.indices.put_settings(index=held, settings={"index.blocks.read_only": None})
    err = capsys.readouterr().err
    warned = [line for line in err.splitlines() if held in line]
    expected = (1, 1, True, False)
    assert expected == (code, len(warned), "index.blocks.read_only" in "".join(warned),
                        es.indices.exists(index=free).body)


def test_status_lists_an_index_with_a_metadata_block_and_exits_0(
    es: Elasticsearch, es_url: str, namespace: TierTable, capsys: pytest.CaptureFixture[str]
) -> None:
    """An index with index.blocks.metadata (which fails _cat/indices) is counted and named in one warning."""
    held, _ = _held(es, namespace, "index.blocks.metadata")
    try:
        code = main(["retention", "status", "--es", es_url, "--prefix", namespace.prefix, "--now", NOW.isoformat(),
                     "--json"])
    finally:
        es.indices.put_settings(index=held, settings={"index.blocks.metadata": None})
    out, err = capsys.readouterr()
    classes = {c["class"]: c["indices"] for c in json.loads(out or "{}").get("classes", [])} if code == 0 else {}
    expected = (0, {"enterprise": 0, "business": 1, "professional": 1}, 1)
    assert expected == (code, classes, sum(held in line for line in err.splitlines()))
