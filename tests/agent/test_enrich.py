"""Enricher: categories, redaction, changed fields, ids and routing into one bulk entry."""

from __future__ import annotations

from datetime import UTC, date, datetime

import orjson
import pytest

from auditlog.agent.contract import parse_timestamp
from auditlog.agent.enrich import Enricher
from auditlog.agent.ids import deterministic_id
from auditlog.agent.parser import NUMBER_OUT_OF_RANGE, Rejected
from auditlog.agent.redact import Redactor
from auditlog.agent.timebounds import TIMESTAMP_OUT_OF_RANGE, BoundsSettings, TimeBounds
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


def stamped(stamp: str) -> dict:
    ev = event()
    ev["@timestamp"] = stamp
    return ev


def _bounded(now: str) -> Enricher:
    clock = parse_timestamp(now).timestamp()
    return Enricher(TierTable(), Redactor(), TimeBounds(TierTable(), clock=lambda: clock))


@pytest.mark.parametrize(
    "stamp",
    ["9999-12-31T23:59:59Z", "2026-01-04T03:04:06Z", "2025-12-01T00:00:00Z", "0999-01-01T00:00:00Z",
     "2026-01-04T06:00:00+02:00"],
    ids=["year-9999", "a-day-and-a-second-ahead", "past-retention", "year-999", "ahead-with-offset"],
)
def test_timestamp_outside_the_bounds_is_not_routed(stamp: str) -> None:
    """An event beyond the skew or the longest retention plus margin is refused at routing, naming the reason."""
    out = _bounded("2026-01-03T03:04:05Z")(stamped(stamp), "k", 0)
    assert isinstance(out, Rejected) and (out.stage, out.reason.split(":")[0]) == ("route", TIMESTAMP_OUT_OF_RANGE)


def test_timestamp_inside_the_bounds_is_routed() -> None:
    """An event a day old goes to its day's index as usual."""
    out = _bounded("2026-01-03T03:04:05Z")(event(), "k", 0)
    assert isinstance(out, bytes) and b'"audit-enterprise-2026.01.02"' in out


def test_offset_reaching_into_year_zero_is_refused_not_raised() -> None:
    """0001-01-01T00:30:00+01:00 is year 0 in UTC: refused as out of range even without bounds."""
    out = Enricher(TierTable())(stamped("0001-01-01T00:30:00+01:00"), "k", 0)
    assert isinstance(out, Rejected) and out.reason.startswith(TIMESTAMP_OUT_OF_RANGE)


def test_year_below_1000_routes_to_a_readable_index_name() -> None:
    """Without bounds (historic data), year 999 gets a zero-padded index name parse_index reads back."""
    action, _doc = entry(stamped("0999-03-04T00:00:00Z"))
    assert ("enterprise", date(999, 3, 4)) == TierTable(prefix="audit").parse_index(action["create"]["_index"])


@pytest.mark.parametrize("number", [2**64, -(2**63) - 1, 10**400])
def test_integer_beyond_64_bits_is_refused(number: int) -> None:
    """An integer the readers cannot decode is refused with number_out_of_range, never shipped."""
    ev = event()
    ev["audit"]["changes"]["start"]["new"] = number
    out = Enricher(TierTable())(ev, "k", 0)
    assert isinstance(out, Rejected) and out.reason.startswith(NUMBER_OUT_OF_RANGE + ":")


def test_arrays_nested_too_deep_to_encode_are_refused_as_nesting_not_numbers() -> None:
    """300 nested arrays (no object depth, so the parser lets them by) are refused as nesting, not as a number."""
    ev = event()
    deep: list[object] = []
    for _ in range(300):
        deep = [deep]
    ev["extra"] = deep
    out = Enricher(TierTable())(ev, "k", 0)
    assert isinstance(out, Rejected) and out.reason.startswith("nesting too deep to encode:")


@pytest.mark.parametrize("number", [2**64 - 1, -(2**63)])
def test_integer_at_the_64_bit_limits_ships_exactly(number: int) -> None:
    """The extreme 64-bit integers still ship, digit for digit."""
    ev = event()
    ev["audit"]["changes"]["start"]["new"] = number
    _action, doc = entry(ev)
    assert number == doc["audit"]["changes"]["start"]["new"]


def test_route_asks_the_bounds_again_once_their_window_is_stale() -> None:
    """A second routable a moment ago is refused once the clock moved the bounds past it (no stale window)."""
    now = [datetime(2026, 6, 15, 12, 0, 0, tzinfo=UTC).timestamp()]
    enricher = Enricher(TierTable(), Redactor(), TimeBounds(TierTable(), BoundsSettings(0, 0), clock=lambda: now[0]))
    assert isinstance(enricher.route("business", "2026-05-16T12:00:00Z"), bytes)
    now[0] += 2
    refused = enricher.route("business", "2026-05-16T12:00:00Z")
    assert isinstance(refused, Rejected) and refused.reason.startswith(TIMESTAMP_OUT_OF_RANGE)


def test_route_asks_the_bounds_for_a_second_outside_their_window() -> None:
    """Inside the window a second is routed without asking; outside it, the bounds give their reason."""
    now = datetime(2026, 6, 15, 12, 0, 0, tzinfo=UTC).timestamp()
    enricher = Enricher(TierTable(), Redactor(), TimeBounds(TierTable(), BoundsSettings(0, 0), clock=lambda: now))
    assert isinstance(enricher.route("business", "2026-06-15T12:00:00Z"), bytes)
    refused = enricher.route("business", "2026-06-15T12:00:01Z")
    assert isinstance(refused, Rejected) and "ahead of the agent's clock" in refused.reason
