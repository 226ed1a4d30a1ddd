"""Tamper evidence on a real node: time of ``auditlog verify`` and the digests' share of the stored bytes.

Ships ``events`` emitter lines the way the agent does (its entry maker, bulk ``create``), writes their
digests with the agent's own :class:`agent.digest_writer.DigestWriter`, force-merges, then times
:func:`indexer.verify.verify` over everything and compares the digest indices' store size with the
events'. Usage: ``python -m bench.verify_cost --es URL --events 1000000``.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from elasticsearch import Elasticsearch

from auditlog.agent.digest import pack, record_of
from auditlog.agent.digest_writer import DigestWriter
from auditlog.agent.enrich import Enricher
from auditlog.agent.fastpath import EntryMaker
from auditlog.agent.parser import Parser
from auditlog.agent.redact import Redactor
from auditlog.agent.registry import Registry
from auditlog.agent.signing import load_key
from auditlog.indexer.rawsource import raw_client_options
from auditlog.indexer.setup import install_templates
from auditlog.indexer.tiers import TierTable
from auditlog.indexer.verify import verify
from bench.events import event_lines

CHUNK = 5000


def _store_bytes(client: Elasticsearch, pattern: str) -> int:
    rows = cast("list[dict[str, Any]]", client.cat.indices(index=pattern, format="json", bytes="b",
                                                            h="store.size").body)
    return sum(int(r["store.size"] or 0) for r in rows)


def run(url: str, events: int, *, log: Any = print) -> dict[str, Any]:
    """Ship, digest, verify; return seconds and sizes (the namespace is deleted afterwards)."""
    tiers = TierTable(prefix=f"bench{uuid.uuid4().hex[:8]}")
    client = Elasticsearch(url, request_timeout=300)
    raw = Elasticsearch(url, request_timeout=300, **raw_client_options())
    install_templates(client, tiers)
    make = EntryMaker(Parser(), Enricher(tiers, Redactor()))
    end = datetime.now(UTC) - timedelta(minutes=1)
    start = end.replace(hour=0, minute=0, second=0, microsecond=0)
    try:
        with tempfile.TemporaryDirectory() as state:
            registry = Registry(Path(state))
            writer = DigestWriter(registry, client, load_key(state), tiers)
            batch: list[bytes] = []
            shipped = time.monotonic()
            for n, line in enumerate(event_lines(events, seed=17, window=(start, end))):
                entry = make(line.rstrip(b"\n"), "bench", n)
                if isinstance(entry, bytes):
                    batch.append(entry)
                if len(batch) == CHUNK:
                    _ship(client, registry, batch)
                    batch = []
            if batch:
                _ship(client, registry, batch)
            writer.flush()
            registry.close()
            log(f"shipped and digested {events:,} events in {time.monotonic() - shipped:.1f} s")
        client.indices.refresh(index=f"{tiers.read_pattern},{tiers.digest_pattern}")
        client.indices.forcemerge(index=f"{tiers.read_pattern},{tiers.digest_pattern}", max_num_segments=1)
        began = time.monotonic()
        cpu = time.process_time()
        report = verify(raw, tiers)
        seconds, cpu = time.monotonic() - began, time.process_time() - cpu
        log(report.summary())
        event_bytes, digest_bytes = _store_bytes(client, tiers.read_pattern), _store_bytes(client, tiers.digest_pattern)
        result = {"events": events, "verify_s": seconds, "verify_cpu_s": cpu, "ok": report.ok,
                  "event_store_bytes": event_bytes, "digest_store_bytes": digest_bytes,
                  "digest_share": digest_bytes / event_bytes if event_bytes else None}
        log(result)
        return result
    finally:
        for pattern in (tiers.read_pattern, tiers.digest_pattern):
            client.options(ignore_status=404).indices.delete(index=pattern, allow_no_indices=True)
        for pattern in (f"{tiers.prefix}-*", f"{tiers.prefix}.digest-*"):
            client.options(ignore_status=404).indices.delete_index_template(name=pattern)
        client.options(ignore_status=404).cluster.delete_component_template(name=f"{tiers.prefix}-*")
        client.close()
        raw.close()


def _ship(client: Elasticsearch, registry: Registry, batch: list[bytes]) -> None:
    resp = client.bulk(operations=b"".join(batch), filter_path="errors")  # type: ignore[arg-type]
    assert not resp.get("errors"), "bulk refused events"
    blob = pack(record_of(e) for e in batch)

    def store(db: sqlite3.Connection) -> None:
        db.execute("INSERT INTO digest_pending (records) VALUES (?)", (blob,))

    registry.commit_offsets({}, store)


def main() -> None:
    """``python -m bench.verify_cost --es URL --events N``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--es", required=True)
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    run(args.es, args.events)


if __name__ == "__main__":
    main()
