"""Pre-built bulk bodies for the ingest ceiling."""

from __future__ import annotations

from pathlib import Path

import orjson

from auditlog.indexer.tiers import TierTable
from bench.ceiling import agent_entries, bodies_of, build_bodies, line_entries
from bench.events import write_events


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


def test_agent_documents_are_the_lines_routed_alike_with_the_agents_ecs_fields(tmp_path: Path) -> None:
    """The agent's entries go to the ceiling's indices under the same ids and add its ECS fields to each event."""
    events = write_events(tmp_path / "in.jsonl", 20)
    tiers = TierTable(prefix="x-audit")
    raw, made = list(line_entries(events.path, tiers)), list(agent_entries(events.path, tiers))
    actions = [[orjson.loads(e.split(b"\n")[0]) for e in entries] for entries in (raw, made)]
    docs = [orjson.loads(e.split(b"\n")[1]) for e in made]
    assert actions[0] == actions[1] and len(made) == 20
    assert all({"ecs", "agent", "host"} <= doc.keys() and "ingested" in doc["event"] for doc in docs)


def test_entries_are_joined_into_bodies_of_the_batch_size() -> None:
    """Five entries in batches of two give three bodies that hold them in order."""
    entries = [f"{i}\n".encode() for i in range(5)]
    assert bodies_of(entries, 2) == [b"0\n1\n", b"2\n3\n", b"4\n"]
