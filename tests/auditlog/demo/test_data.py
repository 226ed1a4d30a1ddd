"""Tests for auditlog.demo.data: deterministic, realistic, contract-valid fabricated events."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from auditlog.agent.contract import parse_timestamp, validate
from auditlog.demo.data import ACTIONS, DEFAULT_TENANTS, SOURCES, TIERS, Tenant, fabricate

END = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
START = END - timedelta(days=7)


@pytest.fixture(scope="module")
def sample() -> list[dict]:
    """Three thousand events over a week, seed 7."""
    return list(fabricate(3000, seed=7, start=START, end=END))


def test_same_seed_gives_identical_events() -> None:
    """Two runs with the same arguments yield byte-identical events."""
    first = [orjson.dumps(e) for e in fabricate(200, seed=3, start=START, end=END)]
    second = [orjson.dumps(e) for e in fabricate(200, seed=3, start=START, end=END)]
    assert first == second


def test_different_seeds_give_different_events() -> None:
    """Another seed yields other events (ids differ)."""
    ids_a = {e["event"]["id"] for e in fabricate(50, seed=1, start=START, end=END)}
    ids_b = {e["event"]["id"] for e in fabricate(50, seed=2, start=START, end=END)}
    assert set() == ids_a & ids_b


def test_every_event_is_valid_per_contract(sample: list[dict]) -> None:
    """agent.contract.validate finds no problem in any fabricated event."""
    problems = {str(p) for event in sample for p in validate(event)}
    assert set() == problems


def test_all_tiers_sources_and_actions_present(sample: list[dict]) -> None:
    """The sample covers every tier, every source and the four seed types."""
    assert set(TIERS) == {e["audit"]["tier"] for e in sample}
    assert set(SOURCES) == {e["audit"]["source"] for e in sample}
    assert set(ACTIONS) == {e["event"]["action"] for e in sample}


def test_default_tenants_cover_every_tier_with_workers() -> None:
    """Each tier has at least one default tenant, and each tenant has workers with email and roles."""
    assert set(TIERS) == {t.tier for t in DEFAULT_TENANTS}
    assert all(w.email and w.roles for t in DEFAULT_TENANTS for w in t.workers)


def test_timestamps_in_range_and_ordered(sample: list[dict]) -> None:
    """@timestamps are non-decreasing and lie in [start, end)."""
    moments = [parse_timestamp(e["@timestamp"]) for e in sample]
    assert moments == sorted(moments)
    assert moments[0] >= START
    assert moments[-1] < END


def test_office_hours_busier_than_nights(sample: list[dict]) -> None:
    """More events fall in 08-16 UTC than in 20-04 UTC (an office-hours profile)."""
    hours = [parse_timestamp(e["@timestamp"]).hour for e in sample]
    day = sum(8 <= h < 16 for h in hours)
    night = sum(h >= 20 or h < 4 for h in hours)
    assert day > 3 * night


def test_event_ids_unique_and_uuid7_shaped(sample: list[dict]) -> None:
    """Ids are unique and carry the UUID version 7 nibble."""
    ids = [e["event"]["id"] for e in sample]
    assert len(ids) == len(set(ids))
    assert {"7"} == {i[14] for i in ids}


def test_changes_shape_per_action(sample: list[dict]) -> None:
    """create has only new values, delete only old ones, update both, auth none."""
    for event in sample:
        action, changes = event["event"]["action"], event["audit"].get("changes")
        if action == "auth":
            assert changes is None
            continue
        assert changes
        olds = [c["old"] for c in changes.values()]
        news = [c["new"] for c in changes.values()]
        if action == "create":
            assert all(v is None for v in olds)
        elif action == "delete":
            assert all(v is None for v in news)
        else:
            assert all(o != n for o, n in zip(olds, news, strict=True))


def test_seed_examples_appear(sample: list[dict]) -> None:
    """The seed's examples occur: a moved appointment start and a changed slot capacity."""
    changes = [e["audit"]["changes"] for e in sample if e["event"]["action"] == "update"]
    assert any("start" in c and ":" in str(c["start"]["old"]) for c in changes)
    assert any(isinstance(c.get("capacity", {}).get("old"), int) for c in changes)


def test_meta_fields_present(sample: list[dict]) -> None:
    """Every event has an IP (both families occur), a URL, a user agent and each login type."""
    versions = {ipaddress.ip_address(e["source"]["ip"]).version for e in sample}
    assert {4, 6} == versions
    assert all(e["url"]["full"].startswith("https://") and e["user_agent"]["original"] for e in sample)
    assert {"password", "sso", "api"} == {e["audit"]["login_type"] for e in sample}


def test_average_size_near_600_bytes(sample: list[dict]) -> None:
    """The average compact-JSON event is between 550 and 750 bytes (benchmarks size data by it)."""
    average = sum(len(orjson.dumps(e)) for e in sample) / len(sample)
    assert 550 <= average <= 750


def test_custom_tenants_are_used() -> None:
    """Only the given tenants appear when a tenant list is passed."""
    only = (DEFAULT_TENANTS[0],)
    assert {only[0].id} == {e["organization"]["id"] for e in fabricate(100, seed=0, start=START, end=END, tenants=only)}


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"start": START.replace(tzinfo=None), "end": END}, "timezone-aware"),
        ({"start": END, "end": START}, "must be after"),
        ({"start": START, "end": END, "tenants": (Tenant("x", "X", "basic", "x", (), ()),)}, "worker"),
    ],
)
def test_bad_arguments_raise(kwargs: dict, fragment: str) -> None:
    """Naive datetimes, an empty range and tenants without workers raise ValueError."""
    with pytest.raises(ValueError, match=fragment):
        fabricate(1, **kwargs)


def test_short_range_keeps_events_inside() -> None:
    """Even a one-second range with many events keeps every timestamp inside it."""
    start = datetime(2026, 1, 1, 23, 59, 59, tzinfo=UTC)
    events = list(fabricate(500, seed=0, start=start, end=start + timedelta(seconds=1)))
    assert {"2026-01-01T23:59:59"} == {e["@timestamp"][:19] for e in events}
