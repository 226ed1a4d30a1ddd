"""The shipper's ECS fields: the same document on the pass-through and on the full path."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditlog.agent import shipper as shipper_module
from auditlog.agent.enrich import Enricher
from auditlog.agent.fastpath import PassThrough
from auditlog.agent.redact import Redactor
from auditlog.agent.shipper import AGENT_TYPE, ECS_VERSION, ShipperFields, ingest_text
from auditlog.indexer.tiers import TierTable
from tests.agent.events import event
from tests.agent.test_fastpath import _PATHS, _json, _put, completed, emitter_lines
from tests.support.admission import full_path, same_shipment

INGESTED = "2026-12-02T05:20:00.123Z"
INGESTED_NS = int(datetime(2026, 12, 2, 5, 20, tzinfo=UTC).timestamp()) * 10**9 + 123_456_789


def _shipper() -> ShipperFields:
    return ShipperFields(host_name="app-1", agent_version="1.2.3", ephemeral_id="e-1", clock=lambda: INGESTED_NS)


@pytest.fixture
def enricher() -> Enricher:
    """An enricher that adds the shipper's fields with a fixed ingest time."""
    return Enricher(TierTable(prefix="audit"), Redactor(), shipper=_shipper())


def _document(entry: bytes | object) -> dict[str, Any]:
    assert isinstance(entry, bytes), entry
    return dict(orjson.loads(entry.split(b"\n")[1]))


def test_full_path_adds_every_shipper_field(enricher: Enricher) -> None:
    """A foreign line gets ecs.version, event.ingested, agent.* and host.name."""
    doc = _document(full_path(enricher, orjson.dumps(event(1))))
    expected = (ECS_VERSION, INGESTED, {"type": AGENT_TYPE, "name": "app-1", "version": "1.2.3", "ephemeral_id": "e-1"},
                {"name": "app-1"})
    assert expected == (doc["ecs"]["version"], doc["event"]["ingested"], doc["agent"], doc["host"])


def test_pass_through_adds_the_same_fields(enricher: Enricher) -> None:
    """An emitter line still takes the pass-through and its document equals the full path's."""
    line = emitter_lines(1)[0]
    fast = PassThrough(enricher)(line)
    assert isinstance(fast, bytes)
    same_shipment(fast, full_path(enricher, line))
    assert INGESTED == _document(fast)["event"]["ingested"]


def test_every_emitter_line_stays_on_the_pass_through(enricher: Enricher) -> None:
    """Adding the fields never sends an emitter line to the full path."""
    fast = PassThrough(enricher)
    assert [] == [line for line in emitter_lines(40) if not isinstance(fast(line), bytes)]


def test_producers_own_objects_are_kept(enricher: Enricher) -> None:
    """A line that carries its own host and event.ingested keeps them; the missing fields are added."""
    ev = event(2)
    ev["host"] = {"name": "db-7", "os": {"type": "linux"}}
    ev["event"]["ingested"] = "2026-01-01T00:00:00Z"
    doc = _document(full_path(enricher, orjson.dumps(ev)))
    assert ({"name": "db-7", "os": {"type": "linux"}}, "2026-01-01T00:00:00Z", ECS_VERSION) == (
        doc["host"], doc["event"]["ingested"], doc["ecs"]["version"])


def test_splice_refuses_an_id_shared_with_the_organization() -> None:
    """When organization.id equals event.id the splice cannot tell the objects apart and declines."""
    ev = completed(event(3))
    ev["organization"]["id"] = ev["event"]["id"]
    assert None is _shipper().splice(orjson.dumps(ev), ev["event"]["id"], ev["organization"]["id"], None)


def test_splice_declines_an_id_spelled_with_escapes() -> None:
    """An event.id written with a JSON escape is not found as spelled; the full path takes the line."""
    ev = completed(event(4))
    line = orjson.dumps(ev).replace(f'"id":"{ev["event"]["id"]}"'.encode(),
                                    b'"id":"\\u00' + ev["event"]["id"][0].encode().hex().encode() +
                                    ev["event"]["id"][1:].encode() + b'"')
    assert None is _shipper().splice(line, ev["event"]["id"])


def test_ingested_time_formatted_per_second_equals_the_whole_format() -> None:
    """Across millisecond, second and day boundaries the shipper's event.ingested is ingest_text of its clock."""
    now = [0]
    fields = ShipperFields(host_name="h", agent_version="0", ephemeral_id="e", clock=lambda: now[0] * 1_000_000)
    start = int(datetime(2026, 12, 31, 23, 59, 58, 990000, tzinfo=UTC).timestamp() * 1000)
    for ms in [*range(start, start + 2100, 7), start + 86_400_000, start]:
        now[0] = ms
        ev: dict[str, Any] = {"event": {}}
        fields.add_to(ev)
        assert ingest_text(ms) == ev["event"]["ingested"]


def test_ingest_text_is_rfc3339_milliseconds() -> None:
    """A millisecond is formatted as UTC with three digits of milliseconds, cut, not rounded."""
    assert INGESTED == ingest_text(INGESTED_NS // 1_000_000)


def test_ingest_time_is_now_by_default() -> None:
    """Without a clock the shipper's ingest time is the current UTC time, within a second."""
    event: dict[str, Any] = {"event": {}}
    ShipperFields(host_name="h", agent_version="1", ephemeral_id="e").add_to(event)
    text = event["event"]["ingested"]
    moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert (True, True) == (bool(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", text)),
                            abs((datetime.now(UTC) - moment).total_seconds()) < 1)


@settings(max_examples=300, deadline=None)
@given(
    base=st.sampled_from(emitter_lines(40)),
    edits=st.lists(st.tuples(st.sampled_from(_PATHS), _json), max_size=2),
)
def test_both_paths_add_identical_shipper_fields(base: bytes, edits: list[tuple[str, Any]]) -> None:
    """For emitter lines with random fields replaced, a pass-through document equals the full path's."""
    enricher = Enricher(TierTable(prefix="audit"), Redactor(), shipper=_shipper())
    ev = orjson.loads(base)
    for path, value in edits:
        _put(ev, path, value)
    line = orjson.dumps(ev)
    fast = PassThrough(enricher)(line)
    if isinstance(fast, bytes):
        same_shipment(fast, full_path(enricher, line))


@pytest.mark.parametrize("org_id, user_id", [("e-1", None), ("org-1", "e-1")])
def test_entry_declines_when_another_id_equals_the_event_id(org_id: str, user_id: str | None) -> None:
    """An organization or user id equal to event.id makes the place of event.id uncertain: None."""
    line = orjson.dumps({"event": {"id": "e-1"}, "organization": {"id": org_id}, "user": {"id": user_id}})
    assert _shipper().entry(b"head", line, b'"e-1"', "e-1", org_id, user_id) is None


def test_entry_is_the_action_line_and_the_spliced_document() -> None:
    """entry() gives head, id and the action line's end, then what splice() gives, then a newline."""
    line = orjson.dumps({"event": {"id": "e-1"}, "organization": {"id": "org-1"}})
    entry = _shipper().entry(b"head:", line, b'"e-1"', "e-1", "org-1", None)
    assert entry == b'head:"e-1"}}\n' + (_shipper().splice(line, "e-1", "org-1") or b"") + b"\n"


def test_ingest_time_follows_the_clock_per_millisecond() -> None:
    """Two events a millisecond apart get different ingest times; two within one millisecond the same."""
    now = [INGESTED_NS]
    fields = ShipperFields(host_name="h", agent_version="1", ephemeral_id="e", clock=lambda: now[0])
    seen = []
    for step in (0, 400_000, 600_000):  # +0.4 ms stays in .123, +1.0 ms in total reaches .124
        now[0] += step
        event: dict[str, Any] = {"event": {}}
        fields.add_to(event)
        seen.append(event["event"]["ingested"])
    assert [INGESTED, INGESTED, INGESTED.replace(".123Z", ".124Z")] == seen


@settings(max_examples=300, deadline=None)
@given(head=st.binary(max_size=40), id_json=st.binary(max_size=20), line=st.binary(min_size=1, max_size=200),
       ingested=st.binary(max_size=30), suffix=st.binary(max_size=60), cut=st.integers(0, 199))
def test_the_entry_in_one_copy_equals_the_joined_one(head: bytes, id_json: bytes, line: bytes, ingested: bytes,
                                                     suffix: bytes, cut: int) -> None:
    """The C copy of the bulk entry (beside the line check) gives the Python join's bytes for any input."""
    end = cut % len(line)
    assert shipper_module._joined(head, id_json, line, end, ingested, suffix) == \
        shipper_module._entry(head, id_json, line, end, ingested, suffix)


@pytest.mark.parametrize("end", [-1, 5, 99])
def test_the_entry_refuses_an_offset_outside_the_line(end: int) -> None:
    """An id offset outside the line is a ValueError, not a read beyond it."""
    with pytest.raises(ValueError):
        shipper_module._entry(b"h", b'"i"', b"{...}", end, b"", b"}")


def test_the_entry_is_copied_in_c_in_this_installation() -> None:
    """Where the line check is built, the entry is copied by it (the benchmarks measure that one)."""
    assert shipper_module._entry is not shipper_module._joined
