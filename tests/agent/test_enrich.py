"""Enricher: categories, redaction, changed fields, ids and routing into one bulk entry."""

from __future__ import annotations

import orjson

from auditlog.agent.enrich import Enricher
from auditlog.agent.ids import deterministic_id
from auditlog.agent.parser import Rejected
from auditlog.agent.redact import Redactor
from auditlog.indexer.tiers import TierTable
from tests.agent.events import event


def entry(ev: dict, key: str = "id-1", offset: int = 7, tiers: TierTable | None = None) -> tuple[dict, dict]:
    out = Enricher(tiers or TierTable(prefix="audit"), Redactor())(ev, key, offset)
    assert isinstance(out, bytes), out
    action, doc, tail = out.split(b"\n")
    assert tail == b""
    return orjson.loads(action), orjson.loads(doc)


def test_routes_to_the_class_index_of_the_utc_day() -> None:
    """An enterprise event goes to audit-enterprise-<its UTC day> with _id = event.id."""
    action, _doc = entry(event(3))
    assert action == {"create": {"_index": "audit-enterprise-2026.01.02", "_id": "ev-00000003"}}


def test_offset_timestamp_uses_its_utc_day() -> None:
    """A timestamp with a +02:00 offset early in the day lands in the previous UTC day's index."""
    offset_event = event()
    offset_event["@timestamp"] = "2026-01-02T01:00:00+02:00"
    action, _doc = entry(offset_event)
    assert action["create"]["_index"] == "audit-enterprise-2026.01.01"


def test_business_tiers_share_the_business_class() -> None:
    """whitelabel routes to the business retention class."""
    action, _doc = entry(event(tier="whitelabel"))
    assert action["create"]["_index"] == "audit-business-2026.01.02"


def test_unknown_tier_is_rejected() -> None:
    """An unknown tier is rejected (dead-lettered) with the tier named."""
    out = Enricher(TierTable())(event(tier="platinum"), "k", 0)
    assert isinstance(out, Rejected)
    assert "platinum" in out.reason


def test_missing_id_gets_deterministic_id() -> None:
    """Without event.id the id is derived from file identity and offset, the same on every read."""
    _action, doc = entry(event(with_id=False), key="dev:ino:fp:0", offset=1234)
    assert deterministic_id("dev:ino:fp:0", 1234) == doc["event"]["id"]


def test_ecs_categories_are_added() -> None:
    """event.kind/category/type come from event.action."""
    _a, doc = entry(event())
    got = (doc["event"]["kind"], doc["event"]["category"], doc["event"]["type"])
    assert got == ("event", ["configuration"], ["change"])


def test_secrets_in_changes_are_redacted_and_fields_listed() -> None:
    """A password change is redacted and changed_fields lists the sorted keys."""
    ev = event()
    ev["audit"]["changes"] = {"password": {"old": "hunter2", "new": "s3cret"}, "email": {"old": "a", "new": "b"}}
    _a, doc = entry(ev)
    got = (doc["audit"]["changes"]["password"]["new"], doc["audit"]["changed_fields"])
    assert got == ("[REDACTED]", ["email", "password"])
