"""Pre-built bulk bodies for the ingest ceiling."""

from __future__ import annotations

from pathlib import Path

import orjson

from auditlog.indexer.tiers import TierTable
from bench.ceiling import build_bodies


def _line(event_id: str, tier: str, ts: str) -> bytes:
    return orjson.dumps({"@timestamp": ts, "event": {"id": event_id}, "audit": {"tier": tier}}) + b"\n"


def test_bodies_route_by_tier_and_day_with_event_id(tmp_path: Path) -> None:
    """Each line becomes a create action into its class's daily index with _id = event.id."""
    path = tmp_path / "in.jsonl"
    path.write_bytes(_line("a", "whitelabel", "2026-11-25T23:59:59Z") + _line("b", "basic", "2026-11-26T00:00:00Z"))
    [body] = build_bodies(path, TierTable(prefix="x-audit"), batch_size=10)
    lines = body.splitlines()
    assert orjson.loads(lines[0]) == {"create": {"_index": "x-audit-business-2026.11.25", "_id": "a"}}
    assert orjson.loads(lines[2]) == {"create": {"_index": "x-audit-professional-2026.11.26", "_id": "b"}}
    assert lines[1] == _line("a", "whitelabel", "2026-11-25T23:59:59Z").rstrip(b"\n")


def test_bodies_hold_batch_size_actions(tmp_path: Path) -> None:
    """Five lines in batches of two give bodies of 2, 2 and 1 actions."""
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"".join(_line(str(i), "enterprise", "2026-11-26T10:00:00Z") for i in range(5)))
    bodies = build_bodies(path, TierTable(prefix="x-audit"), batch_size=2)
    assert [len(b.splitlines()) // 2 for b in bodies] == [2, 2, 1]
