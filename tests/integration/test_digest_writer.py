"""Digest writer on a real node: the chain continues from the registry, the outbox survives a crash."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from auditlog.agent.digest import pack
from auditlog.agent.digest_writer import DigestSettings, DigestWriter
from auditlog.agent.registry import Registry
from auditlog.agent.signing import load_key
from auditlog.indexer.integrity import Record, digest_hash
from auditlog.indexer.setup import install_templates
from auditlog.indexer.tiers import TierTable
from tests.integration.agent_support import free_port


@pytest.fixture
def tiers(es: Elasticsearch, namespace: TierTable) -> Iterator[TierTable]:
    """The namespace with its templates installed."""
    install_templates(es, namespace)
    yield namespace


def _pending(registry: Registry, tiers: TierTable, *ids: str) -> None:
    index = tiers.index_for_day("professional", date(2026, 12, 2))
    # without stream numbers: a digest then lists the events by id, which is what these tests look at
    records = [Record(index, i, b"\x07" * 32, "2026-12-02T10:00:00Z") for i in ids]

    def store(db: sqlite3.Connection) -> None:
        db.execute("INSERT INTO digest_pending (records) VALUES (?)", (pack(records),))

    registry.commit_offsets({}, store)


def _digests(es: Elasticsearch, tiers: TierTable) -> list[dict[str, object]]:
    es.indices.refresh(index=tiers.digest_pattern)
    hits = es.search(index=tiers.digest_pattern, sort=[{"digest.seq": "asc"}], size=100)["hits"]["hits"]
    return [h["_source"]["digest"] for h in hits]


def _writer(es: Elasticsearch, tiers: TierTable, state: Path,
            settings: DigestSettings | None = None) -> tuple[Registry, DigestWriter]:
    registry = Registry(state)
    return registry, DigestWriter(registry, es, load_key(state), tiers,
                                  settings or DigestSettings(interval=1, max_events=2))


def test_chain_continues_after_restart(es: Elasticsearch, tiers: TierTable, tmp_path: Path) -> None:
    """A new writer on the same state directory links its first digest to the last one of the previous run."""
    registry, writer = _writer(es, tiers, tmp_path)
    _pending(registry, tiers, "a", "b", "c")
    writer.flush()
    registry.close()
    registry, writer = _writer(es, tiers, tmp_path)
    _pending(registry, tiers, "d")
    writer.flush()
    registry.close()
    chain = _digests(es, tiers)
    assert [(d["seq"], d["ids"]) for d in chain] == [(1, ["a", "b"]), (2, ["c"]), (3, ["d"])]
    assert [d["prev"] for d in chain] == [None, digest_hash(chain[0]), digest_hash(chain[1])]


def test_sealed_digest_is_sent_after_a_crash_once(es: Elasticsearch, tiers: TierTable, tmp_path: Path) -> None:
    """A digest sealed but not sent before a crash is sent by the next run, exactly once."""
    registry, writer = _writer(es, tiers, tmp_path)
    _pending(registry, tiers, "a")
    assert writer.seal() == 1  # the process dies here: sealed, never sent
    registry.close()
    registry, writer = _writer(es, tiers, tmp_path)
    assert (writer.send(), writer.send()) == (1, 0)
    registry.close()
    assert [d["ids"] for d in _digests(es, tiers)] == [["a"]]


def test_resent_digest_counts_as_stored(es: Elasticsearch, tiers: TierTable, tmp_path: Path) -> None:
    """A digest stored but still in the outbox (crash before the outbox row was removed) is a 409 and is done."""
    registry, writer = _writer(es, tiers, tmp_path)
    _pending(registry, tiers, "a")
    writer.seal()
    with registry.transaction() as db:
        rows = db.execute("SELECT seq, idx, doc_id, body FROM digest_outbox").fetchall()
    writer.send()
    with registry.transaction() as db:
        db.executemany("INSERT INTO digest_outbox VALUES (?,?,?,?)", rows)
    assert writer.send() == 1
    with registry.transaction() as db:
        assert db.execute("SELECT COUNT(*) FROM digest_outbox").fetchone() == (0,)
    registry.close()
    assert len(_digests(es, tiers)) == 1


def test_unreachable_cluster_keeps_the_digest_for_later(es: Elasticsearch, tiers: TierTable, tmp_path: Path) -> None:
    """A flush while the cluster is unreachable returns, keeps the sealed digest, and a later send stores it."""
    registry = Registry(tmp_path)
    down = Elasticsearch(f"http://127.0.0.1:{free_port()}", max_retries=0, request_timeout=2)
    writer = DigestWriter(registry, down, load_key(tmp_path), tiers)
    _pending(registry, tiers, "a")
    writer.flush(timeout=1)
    with registry.transaction() as db:
        kept = db.execute("SELECT COUNT(*) FROM digest_outbox").fetchone()[0]
    later = DigestWriter(registry, es, load_key(tmp_path), tiers).send()
    registry.close()
    assert (kept, later, [d["ids"] for d in _digests(es, tiers)]) == (1, 1, [["a"]])


def test_seal_in_bounded_steps_stores_one_unbroken_chain(es: Elasticsearch, tiers: TierTable, tmp_path: Path) -> None:
    """Pending rows sealed a step at a time are stored as one chain covering every event once, in order."""
    registry, writer = _writer(es, tiers, tmp_path, DigestSettings(interval=1, max_events=10, seal_events=2))
    for ids in (("a", "b"), ("c",), ("d", "e")):
        _pending(registry, tiers, *ids)
    writer.flush()
    registry.close()
    chain = _digests(es, tiers)
    assert [d["ids"] for d in chain] == [["a", "b"], ["c", "d", "e"]]
    assert [d["prev"] for d in chain] == [None, digest_hash(chain[0])]
