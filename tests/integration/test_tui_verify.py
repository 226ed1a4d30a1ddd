"""Tamper evidence in the TUI (Pilot, real node): the status badge, `v`, the Proof tab and the export's Metadata."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from elasticsearch import Elasticsearch

from auditlog.agent.digest import pack, record_of
from auditlog.agent.digest_writer import DigestWriter
from auditlog.agent.enrich import Enricher
from auditlog.agent.fastpath import EntryMaker
from auditlog.agent.parser import Parser
from auditlog.agent.registry import Registry
from auditlog.agent.signing import load_key
from auditlog.cli import main
from auditlog.indexer.rawsource import raw_client_options
from auditlog.indexer.setup import install_templates
from auditlog.indexer.tiers import TierTable
from auditlog.tui.screens.detail import DetailScreen
from auditlog.tui.screens.export import ExportScreen
from auditlog.tui.screens.main import MainScreen
from auditlog.tui.screens.verify import VerifyScreen
from bench.events import event_lines
from tests.tui.support import NOW, make_app, press, screen_text, settle

SIZE = (140, 40)
COUNT = 120


@pytest.fixture
def raw(es_url: str) -> Iterator[Elasticsearch]:
    """The client the TUI verifies with (raw response bytes)."""
    client = Elasticsearch(es_url, request_timeout=60, **raw_client_options())
    yield client
    client.close()


@pytest.fixture
def shipped(es: Elasticsearch, namespace: TierTable, tmp_path: Path) -> list[dict[str, Any]]:
    """Emitter lines shipped as the agent ships them (its entry maker), with their signed digests."""
    install_templates(es, namespace)
    entries = EntryMaker(Parser(), Enricher(namespace))
    lines = [raw.rstrip(b"\n") for raw in event_lines(COUNT, seed=4, window=(NOW - timedelta(days=2), NOW))]
    batch = [entries(line, "file", n) for n, line in enumerate(lines)]
    assert all(isinstance(e, bytes) for e in batch)
    es.bulk(operations=b"".join(batch), refresh=True)  # type: ignore[arg-type]
    registry = Registry(tmp_path / "state")
    writer = DigestWriter(registry, es, load_key(tmp_path / "state"), namespace)
    blob = pack(record_of(e) for e in batch if isinstance(e, bytes))

    def store(db: sqlite3.Connection) -> None:
        db.execute("INSERT INTO digest_pending (records) VALUES (?)", (blob,))

    registry.commit_offsets({}, store)
    writer.flush()
    registry.close()
    es.indices.refresh(index=f"{namespace.read_pattern},{namespace.digest_pattern}")
    hits = es.search(index=namespace.read_pattern, size=COUNT, sort=[{"@timestamp": "desc"}])["hits"]["hits"]
    return list(hits)


def _main(app: Any) -> MainScreen:
    assert isinstance(app.screen, MainScreen)
    return app.screen


async def test_badge_shows_verified_then_the_problem_after_an_edit(
    es: Elasticsearch, raw: Elasticsearch, namespace: TierTable, shipped: list[dict[str, Any]], tmp_path: Path
) -> None:
    """The status line says "✓ verified to HH:MM"; after an edit and a reload it says "✖ 1 problem" and `v` lists it."""
    app = make_app(es, namespace, tmp_path, verify_client=raw)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = _main(app)
        assert (main.verification is not None and main.verification.ok, main.verification.proven if
                main.verification else 0) == (True, COUNT)
        assert "✓ verified to" in screen_text(app)

        victim = shipped[0]
        es.update(index=victim["_index"], id=victim["_id"], doc={"message": "edited"}, refresh=True)
        await press(pilot, "ctrl+r")
        assert "✖ 1 problem" in screen_text(app)
        await press(pilot, "v")
        assert isinstance(app.screen, VerifyScreen)
        assert f"altered {victim['_index']} {victim['_id']}" in screen_text(app)


async def test_detail_proof_tab_names_the_digest(
    es: Elasticsearch, raw: Elasticsearch, namespace: TierTable, shipped: list[dict[str, Any]], tmp_path: Path
) -> None:
    """The detail view's Proof tab shows the event as proven by a digest of the agent."""
    app = make_app(es, namespace, tmp_path, verify_client=raw)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "enter")
        assert isinstance(app.screen, DetailScreen)
        await press(pilot, "4")
        text = screen_text(app)
        assert "proven" in text and "Digest" in text


async def test_exports_carry_the_verification_and_the_event_proof(
    es: Elasticsearch, raw: Elasticsearch, namespace: TierTable, shipped: list[dict[str, Any]], tmp_path: Path
) -> None:
    """An export's Metadata has the verification result and digest range; a single event's has its proof."""
    app = make_app(es, namespace, tmp_path, verify_client=raw)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        metas = []
        for key in ("e", "d"):
            await pilot.press(key)
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, ExportScreen)
            await pilot.app.workers.wait_for_complete()
            assert screen.finished.wait(30) and screen.result is not None
            sheet = openpyxl.load_workbook(screen.result.path, read_only=True)["Metadata"]
            metas.append({row[0]: row[1] for row in sheet.iter_rows(values_only=True)})
            await press(pilot, "escape")
    everything, one = metas
    assert str(everything["Verification"]).startswith(f"verified: {COUNT} events, {COUNT} proven")
    assert ".." in str(everything["Digest range"])
    assert (one["Proof"], len(str(one["Event hash (SHA-256)"]))) == ("proven", 64)


def test_cli_export_with_verify_writes_the_result(
    es: Elasticsearch, es_url: str, namespace: TierTable, shipped: list[dict[str, Any]], tmp_path: Path
) -> None:
    """`auditlog export --verify` puts the verification and digest range in Metadata and exits 0 when proven."""
    out = tmp_path / "all.xlsx"
    status = main(["export", "--verify", "-o", str(out), "--es", es_url, "--prefix", namespace.prefix,
                   "--since", "2026-11-01T00:00:00Z"])
    sheet = openpyxl.load_workbook(out, read_only=True)["Metadata"]
    meta = {row[0]: row[1] for row in sheet.iter_rows(values_only=True)}
    assert (status, str(meta["Verification"]).split(",")[0]) == (0, f"verified: {COUNT} events")
    assert ".." in str(meta["Digest range"])
