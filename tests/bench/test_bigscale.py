"""The 10M scale point's fast seeding makes unique, agent-routed events over thirty days with one big tenant."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from auditlog.indexer.tiers import TierTable
from bench.bigscale import BIG_TENANT, DAYS, bulk_bodies, replicated_lines


def test_replicas_have_unique_ids_and_span_the_days() -> None:
    """Copies of the base get fresh ids and move a day back per copy, over DAYS days."""
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    events = list(replicated_lines(2000, now=now))
    assert 2000 == len({e["event"]["id"] for e in events})
    base = sorted({e["@timestamp"][:10] for e in events})
    assert 1 <= len(base) <= 2  # a base of 2,000 lines is one copy: one (or two) days


def test_every_tenth_copy_is_the_big_enterprise_tenant() -> None:
    """Copy 0 (of every ten) belongs to the big tenant in the enterprise tier; copy 1 keeps its tenants."""
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    first = list(replicated_lines(300, now=now, start_copy=0))
    second = list(replicated_lines(300, now=now, start_copy=1))
    assert {(BIG_TENANT, "enterprise")} == {(e["organization"]["id"], e["audit"]["tier"]) for e in first}
    assert BIG_TENANT not in {e["organization"]["id"] for e in second}
    assert all(e["@timestamp"] < f["@timestamp"] for e, f in zip(second, first, strict=True))


def test_copies_past_the_last_day_wrap_around() -> None:
    """Copy DAYS lands on the same day as copy 0, so no index older than DAYS days is made."""
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    first = next(replicated_lines(1, now=now, start_copy=0))
    wrapped = next(replicated_lines(1, now=now, start_copy=DAYS))
    assert first["@timestamp"][:10] == wrapped["@timestamp"][:10]


def test_bulk_bodies_create_with_event_id_into_the_daily_index() -> None:
    """Each action is a create with ``_id = event.id`` into the agent's index for the event's tier and day."""
    tiers = TierTable(prefix="t-audit")
    events = list(replicated_lines(5, now=datetime(2026, 12, 1, 12, tzinfo=UTC)))
    (body,) = list(bulk_bodies(iter(events), tiers, batch=10))
    lines = body.splitlines()
    assert 10 == len(lines)
    for action, doc in zip(lines[::2], lines[1::2], strict=True):
        meta, event = orjson.loads(action)["create"], orjson.loads(doc)
        assert event["event"]["id"] == meta["_id"]
        assert tiers.index_for(event["audit"]["tier"], datetime.fromisoformat(event["@timestamp"])) == meta["_index"]
