"""The event contract v1: validate() reasons, the published JSON Schema agreeing with it, expand_dotted, timestamps."""

from __future__ import annotations

import copy
import ipaddress
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditlog.agent.contract import (
    ACTIONS_KNOWN,
    SCHEMA_ID,
    ContractError,
    Problem,
    _timestamp_reason,
    action_ok,
    expand_dotted,
    format_timestamp,
    id_ok,
    make_validator,
    parse_timestamp,
    timestamp_ok,
    validate,
)
from auditlog.core.contract import CONTRACT, Field

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "schema" / "audit-event-v1.json"
DELETE: Any = object()


def valid_event() -> dict[str, Any]:
    """A complete valid event with every contract field."""
    return {
        "@timestamp": "2024-05-01T10:00:00.123456Z",
        "event": {"id": "018f3a7e-2c4b-7d10-9a3e-5b6c7d8e9f01", "action": "update", "outcome": "success"},
        "audit": {
            "source": "appointments",
            "tier": "enterprise",
            "changes": {"start": {"old": "10:00", "new": "11:00"}},
            "changed_fields": ["start"],
            "login_type": "password",
        },
        "organization": {"id": "org-4711", "name": "Praxis Dr. Muster"},
        "user": {"id": "w-17", "name": "Anna", "email": "anna@example.com", "roles": ["admin"]},
        "source": {"ip": "203.0.113.7"},
        "url": {"full": "https://app.example.com/appointments/4711"},
        "user_agent": {"original": "Mozilla/5.0"},
        "message": "moved appointment 4711",
    }


@pytest.fixture(scope="module")
def schema_validator() -> jsonschema.protocols.Validator:
    """The published schema with format checking on (date-time, ipv4, ipv6)."""
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def with_field(event: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """Return a deep copy of ``event`` with the dotted ``path`` set to ``value`` (or removed for DELETE)."""
    out = copy.deepcopy(event)
    node = out
    parts = ["@timestamp"] if path == "@timestamp" else path.split(".")
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    if value is DELETE:
        node.pop(parts[-1], None)
    else:
        node[parts[-1]] = value
    return out


def names(problems: list[Problem], path: str) -> bool:
    """Whether some problem names ``path`` or a part inside it."""
    return any(p.field == path or p.field.startswith((path + ".", path + "[")) for p in problems)


# ---------------------------------------------------------------------------------------------- examples


def test_complete_event_is_valid() -> None:
    """A complete event has no problems."""
    assert validate(valid_event()) == []


def test_minimal_event_is_valid() -> None:
    """Only the required fields are needed."""
    event = {
        "@timestamp": "2024-05-01T12:00:00+02:00",
        "event": {"action": "auth"},
        "audit": {"source": "login", "tier": "basic"},
        "organization": {"id": "org-1"},
    }
    assert validate(event) == []


def test_nulls_in_optional_fields_are_valid() -> None:
    """Optional fields may be null, as other languages' serialisers write them."""
    event = valid_event()
    event["event"]["outcome"] = None
    event["user"] = None
    event["audit"]["changes"] = None
    event["message"] = None
    assert validate(event) == []


def test_unknown_fields_are_kept_valid() -> None:
    """Unknown extra fields anywhere are allowed."""
    event = valid_event()
    event["labels"] = {"team": "x"}
    event["event"]["dataset"] = "audit"
    assert validate(event) == []


def test_ipv6_source_is_valid() -> None:
    """An IPv6 source address is accepted."""
    assert validate(with_field(valid_event(), "source.ip", "2001:db8::1")) == []


@pytest.mark.parametrize(("path", "value"), [("@timestamp", "\u0662\u0660\u0662\u0664-05-01T10:00:00Z"),
                                             ("source.ip", "\u0661.\u0661.\u0661.\u0661")])
def test_non_ascii_digits_are_refused(path: str, value: str) -> None:
    """Digits of other scripts (here Arabic-Indic) are not digits to the schema or to Elasticsearch."""
    assert [p.field for p in validate(with_field(valid_event(), path, value))] == [path]


def test_problem_str_names_field_and_reason() -> None:
    """str(Problem) reads "field: reason"."""
    assert str(Problem("event.action", "missing")) == "event.action: missing"


def test_missing_required_fields_are_each_named() -> None:
    """An empty object names every required part."""
    assert [p.field for p in validate({})] == ["@timestamp", "event", "audit", "organization"]


def test_non_object_is_rejected_at_root() -> None:
    """A JSON array is not an event."""
    assert [Problem("$", "expected a JSON object, got array")] == validate([])  # type: ignore[arg-type]


def test_wrong_type_reason_names_json_type_and_value() -> None:
    """A number where a string belongs says so."""
    problems = validate(with_field(valid_event(), "audit.tier", 3))
    assert [Problem("audit.tier", "expected a non-empty string, got number 3")] == problems


@pytest.mark.parametrize("outcome", [{"ok": True}, ["success"]])
def test_outcome_of_an_unhashable_type_is_a_problem_not_an_error(outcome: object) -> None:
    """An object or list as event.outcome is reported as a problem of that field, never raised as a TypeError."""
    problems = validate(with_field(valid_event(), "event.outcome", outcome))
    assert [p.field for p in problems] == ["event.outcome"]


def test_unknown_outcome_is_explained() -> None:
    """An outcome outside success/failure/unknown lists the allowed values."""
    problems = validate(with_field(valid_event(), "event.outcome", "ok"))
    assert [p.field for p in problems] == ["event.outcome"]
    assert "success" in problems[0].reason


def test_changes_not_old_new_is_explained() -> None:
    """A change entry without "new" names the entry and the missing key."""
    problems = validate(with_field(valid_event(), "audit.changes", {"start": {"old": "10:00"}}))
    assert [Problem("audit.changes.start", 'must be exactly {"old": v, "new": v}: lacks \'new\'')] == problems


def test_changes_pair_list_is_rejected() -> None:
    """A raw [old, new] pair is not the contract's form (the emitter converts tuples before writing)."""
    problems = validate(with_field(valid_event(), "audit.changes", {"start": ["10:00", "11:00"]}))
    assert [p.field for p in problems] == ["audit.changes.start"]


def test_dotted_key_gets_a_hint() -> None:
    """A flat "event.action" key is reported with the advice to nest it."""
    event = valid_event()
    del event["event"]
    event["event.action"] = "update"
    problems = validate(event)
    assert [p.field for p in problems] == ["event.action"]
    assert "expand_dotted" in problems[0].reason


def test_uppercase_action_is_rejected() -> None:
    """Actions are lowercase verbs."""
    assert [p.field for p in validate(with_field(valid_event(), "event.action", "Update"))] == ["event.action"]


def test_event_id_longer_than_512_is_rejected() -> None:
    """An id Elasticsearch cannot take as _id is rejected."""
    assert [p.field for p in validate(with_field(valid_event(), "event.id", "x" * 513))] == ["event.id"]


@pytest.mark.parametrize(
    ("timestamp", "fragment"),
    [
        ("2023-02-29T10:00:00Z", "day 29 does not exist in 2023-02"),
        ("2024-05-01 10:00:00Z", "uppercase 'T'"),
        ("2024-05-01T10:00:00", "no UTC offset"),
        ("2024-05-01T10:00:00z", "uppercase 'Z'"),
        ("2024-05-01T10:00:60Z", "leap second"),
        ("2024-05-01T10:00:00+0200", "needs a colon"),
        ("2024-05-01T10:00:00.1234567890Z", "1-9 digits"),
        ("2024-13-01T10:00:00Z", "month 13"),
        ("2024-05-01T24:00:00Z", "hour 24"),
        ("2024-5-01T10:00:00Z", "zero-padded"),
        ("yesterday", "not an RFC 3339 date-time"),
    ],
)
def test_bad_timestamp_reason(timestamp: str, fragment: str) -> None:
    """Each kind of bad timestamp gets a reason saying what is wrong."""
    problems = validate(with_field(valid_event(), "@timestamp", timestamp))
    assert [p.field for p in problems] == ["@timestamp"]
    assert fragment in problems[0].reason


def test_trusted_timestamp_object_is_not_rechecked() -> None:
    """A producer's own timestamp object (trusted_timestamp) skips the format check on the fast path."""
    stamp = "".join(["2024-05-01T10:00:00", ".000000Z"])
    assert validate(with_field(valid_event(), "@timestamp", stamp), trusted_timestamp=stamp) == []


def test_equal_but_other_timestamp_object_is_checked() -> None:
    """Trust is by identity: an equal string that is another object is checked in full."""
    trusted = "".join(["yester", "day"])
    problems = validate(with_field(valid_event(), "@timestamp", "yesterday"), trusted_timestamp=trusted)
    assert [p.field for p in problems] == ["@timestamp"]


def test_leap_day_is_valid() -> None:
    """29 February exists in leap years."""
    assert validate(with_field(valid_event(), "@timestamp", "2024-02-29T23:59:59.999999999-05:30")) == []


# ---------------------------------------------------------------------------------------------- schema


def test_schema_is_published_with_contract_id(schema_validator: jsonschema.protocols.Validator) -> None:
    """The schema file carries the id the code names and its own example is valid for both."""
    schema = schema_validator.schema
    assert schema["$id"] == SCHEMA_ID
    for example in schema["examples"]:
        assert list(schema_validator.iter_errors(example)) == []
        assert validate(example) == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("@timestamp", DELETE),
        ("@timestamp", 1714557600),
        ("@timestamp", "2023-02-29T10:00:00Z"),
        ("@timestamp", "2024-05-01T10:00:00"),
        ("@timestamp", "2024-05-01t10:00:00z"),
        ("@timestamp", "2024-05-01T10:00:60Z"),
        ("@timestamp", "0000-05-01T10:00:00Z"),
        ("event", DELETE),
        ("event", "update"),
        ("event.action", DELETE),
        ("event.action", ""),
        ("event.action", "Update"),
        ("event.action", "move it"),
        ("event.action", None),
        ("event.id", ""),
        ("event.id", "has space"),
        ("event.id", 42),
        ("event.outcome", "ok"),
        ("event.outcome", True),
        ("event.kind", 1),
        ("event.category", 1),
        ("event.type", [1]),
        ("audit", DELETE),
        ("audit.source", DELETE),
        ("audit.source", ""),
        ("audit.tier", None),
        ("audit.changes", []),
        ("audit.changes", {"f": "x"}),
        ("audit.changes", {"f": {"old": 1}}),
        ("audit.changes", {"f": {"old": 1, "new": 2, "why": 3}}),
        ("audit.changed_fields", "start"),
        ("audit.changed_fields", [1]),
        ("audit.login_type", 1),
        ("audit.stream", ""),
        ("audit.stream", 7),
        ("audit.seq", 0),
        ("audit.seq", "3"),
        ("audit.seq", 1.5),
        ("organization", None),
        ("organization.id", DELETE),
        ("organization.id", 4711),
        ("organization.name", 1),
        ("user", "anna"),
        ("user.id", 17),
        ("user.roles", "admin"),
        ("user.roles", [1]),
        ("source", "1.2.3.4"),
        ("source.ip", "999.0.0.1"),
        ("source.ip", "localhost"),
        ("source.ip", "01.2.3.4"),
        ("url.full", 1),
        ("user_agent.original", []),
        ("message", {"text": "x"}),
    ],
)
def test_schema_and_validator_reject_the_same_mutation(
    schema_validator: jsonschema.protocols.Validator, path: str, value: Any
) -> None:
    """Breaking one field makes both the schema and validate() reject, and validate() names that field."""
    event = with_field(valid_event(), path, value)
    problems = validate(event)
    assert not schema_validator.is_valid(event)
    assert names(problems, path), problems


# ---------------------------------------------------------------------------------------------- properties

_json_scalar = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=12)
_json = st.recursive(
    _json_scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
_zones = st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30))])


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    """RFC 3339 timestamps in the contract's profile, with 0-9 fraction digits and assorted offsets."""
    moment = draw(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=_zones))
    digits = draw(st.integers(0, 9))
    fraction = "." + "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=digits, max_size=digits)))
    offset = moment.strftime("%z")
    zone = "Z" if offset == "+0000" else f"{offset[:3]}:{offset[3:]}"
    return f"{moment.year:04d}" + moment.strftime("-%m-%dT%H:%M:%S") + (fraction if digits else "") + zone


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.just(DELETE) | st.none() | strategy


@st.composite
def valid_events(draw: st.DrawFn) -> dict[str, Any]:
    """Events that honour the contract, with optional parts present, null or absent."""
    text = st.text(max_size=15)
    nonempty = st.text(min_size=1, max_size=15)
    event: dict[str, Any] = {
        "@timestamp": draw(timestamps()),
        "event": {"action": draw(st.from_regex(r"[a-z0-9][a-z0-9_.:-]{0,15}", fullmatch=True))},
        "audit": {"source": draw(nonempty), "tier": draw(nonempty)},
        "organization": {"id": draw(nonempty)},
    }
    optional = {
        "event.id": _maybe(st.from_regex(r"[!-~]{1,40}", fullmatch=True)),
        "event.outcome": _maybe(st.sampled_from(["success", "failure", "unknown"])),
        "event.kind": _maybe(text),
        "event.category": _maybe(text | st.lists(text, max_size=2)),
        "audit.changes": _maybe(
            st.dictionaries(text, st.fixed_dictionaries({"old": _json, "new": _json}), max_size=3)
        ),
        "audit.changed_fields": _maybe(st.lists(text, max_size=3)),
        "audit.stream": _maybe(nonempty),
        "audit.seq": _maybe(st.integers(1, 2**53)),
        "organization.name": _maybe(text),
        "user.id": _maybe(text),
        "user.email": _maybe(text),
        "user.roles": _maybe(st.lists(text, max_size=2)),
        "source.ip": _maybe(st.ip_addresses().map(str)),
        "url.full": _maybe(text),
        "user_agent.original": _maybe(text),
        "message": _maybe(text),
        "labels": _maybe(_json),
    }
    for path, strategy in optional.items():
        value = draw(strategy)
        if value is not DELETE:
            event = with_field(event, path, value)
    return event


# one way to break each field; hypothesis picks the field and the bad value
_MUTATIONS: dict[str, st.SearchStrategy[Any]] = {
    "@timestamp": st.just(DELETE) | st.integers() | st.sampled_from(["2024-02-30T00:00:00Z", "2024-01-01T00:00"]),
    "event": st.just(DELETE) | st.text() | st.lists(st.integers(), max_size=2),
    "event.action": st.just(DELETE) | st.just("") | st.from_regex(r"[A-Z ][a-z]{0,5}", fullmatch=True) | st.integers(),
    "event.id": st.just("") | st.from_regex(r"[a-z]{1,5} [a-z]{1,5}", fullmatch=True) | st.integers(),
    "event.outcome": st.text(min_size=1).filter(lambda s: s not in ("success", "failure", "unknown")) | st.booleans(),
    "audit": st.just(DELETE) | st.none() | st.integers(),
    "audit.source": st.just(DELETE) | st.just("") | st.none() | st.integers(),
    "audit.tier": st.just(DELETE) | st.just("") | st.lists(st.text(), max_size=2),
    "audit.changes": st.lists(st.integers(), max_size=2)
    | st.dictionaries(st.text(max_size=5), st.integers() | st.fixed_dictionaries({"old": st.integers()}), min_size=1),
    "organization.id": st.just(DELETE) | st.just("") | st.integers(),
    "user.roles": st.text() | st.lists(st.integers(), min_size=1, max_size=2),
    "source.ip": st.sampled_from(["256.1.1.1", "1.2.3", "::g", "host"]) | st.integers(),
    "message": st.integers() | st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
}


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(event=valid_events())
def test_property_valid_events_pass_schema_and_validator(
    schema_validator: jsonschema.protocols.Validator, event: dict[str, Any]
) -> None:
    """Every generated contract event is accepted by both the schema and validate()."""
    assert validate(event) == []
    assert [e.message for e in schema_validator.iter_errors(event)] == []


@settings(max_examples=250, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(event=valid_events(), data=st.data())
def test_property_one_broken_field_fails_both_and_is_named(
    schema_validator: jsonschema.protocols.Validator, event: dict[str, Any], data: st.DataObject
) -> None:
    """Breaking one field of a valid event makes both reject, and validate() names the broken field."""
    path = data.draw(st.sampled_from(sorted(_MUTATIONS)), label="path")
    broken = with_field(event, path, data.draw(_MUTATIONS[path], label="value"))
    problems = validate(broken)
    assert not schema_validator.is_valid(broken)
    assert names(problems, path), problems


# ---------------------------------------------------------------------------------------------- dotted keys


def test_expand_dotted_nests_top_level_keys() -> None:
    """Dotted top-level keys become nested objects; @timestamp stays."""
    flat = {"@timestamp": "t", "event.action": "update", "audit.source": "slots", "audit.tier": "basic"}
    expected = {"@timestamp": "t", "event": {"action": "update"}, "audit": {"source": "slots", "tier": "basic"}}
    assert expected == expand_dotted(flat)


def test_expand_dotted_returns_nested_input_itself() -> None:
    """An already nested object is returned without a copy."""
    event = valid_event()
    assert event is expand_dotted(event)


def test_expand_dotted_merges_without_mutating_input() -> None:
    """Mixed dotted and nested keys merge into a new object; the input's nested dicts are untouched."""
    nested = {"id": "1"}
    mixed = {"event": nested, "event.action": "update"}
    assert expand_dotted(mixed) == {"event": {"id": "1", "action": "update"}}
    assert nested == {"id": "1"}


def test_expand_dotted_keeps_dots_in_change_names() -> None:
    """Field names inside audit.changes keep their dots."""
    flat = {"audit.changes": {"address.street": {"old": "a", "new": "b"}}}
    assert expand_dotted(flat) == {"audit": {"changes": {"address.street": {"old": "a", "new": "b"}}}}


def test_expand_dotted_conflict_names_the_key() -> None:
    """A dotted key under a non-object value raises ContractError naming the key."""
    with pytest.raises(ContractError) as caught:
        expand_dotted({"event": "x", "event.action": "update"})
    assert [p.field for p in caught.value.problems] == ["event.action"]


# ---------------------------------------------------------------------------------------------- timestamps


def test_parse_timestamp_keeps_offset_and_truncates_to_microseconds() -> None:
    """Nanosecond fractions are truncated and the offset kept."""
    expected = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert expected == parse_timestamp("2024-05-01T12:00:00.123456789+02:00")


def test_parse_timestamp_rejects_with_reason() -> None:
    """A bad timestamp raises ValueError with the validator's reason."""
    with pytest.raises(ValueError, match="no UTC offset"):
        parse_timestamp("2024-05-01T12:00:00")


def test_format_timestamp_is_utc_z() -> None:
    """Formatting converts to UTC with microseconds and a Z."""
    moment = datetime(2024, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    assert format_timestamp(moment) == "2024-05-01T10:00:00.000000Z"


def test_format_timestamp_rejects_naive() -> None:
    """A naive datetime is refused instead of guessed."""
    with pytest.raises(ValueError, match="naive"):
        format_timestamp(datetime(2024, 5, 1))


def _ipaddress_accepts(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


@settings(max_examples=400, deadline=None)
@given(text=st.text(alphabet="0123456789abcdefABCDEF:.%", max_size=24) | st.ip_addresses().map(str))
def test_property_source_ip_agrees_with_ipaddress(text: str) -> None:
    """source.ip is accepted exactly when the standard library (and so the schema's format) accepts it."""
    problems = validate(with_field(valid_event(), "source.ip", text))
    assert (problems == []) == _ipaddress_accepts(text)


@settings(max_examples=300)
@given(st.one_of(timestamps(), st.text(max_size=30)), st.text(max_size=20), st.text(max_size=20))
def test_field_checks_agree_with_validate(timestamp: str, action: str, event_id: str) -> None:
    """timestamp_ok, action_ok and id_ok accept exactly what validate accepts in those fields."""
    def accepted(path: str, value: str) -> bool:
        return validate(with_field(valid_event(), path, value)) == []

    got = (timestamp_ok(timestamp), action_ok(action), id_ok(event_id))
    assert got == (accepted("@timestamp", timestamp), accepted("event.action", action), accepted("event.id", event_id))


@settings(max_examples=500)
@given(st.one_of(timestamps(), timestamps().map(lambda t: t[:-1] + "z"),
                 st.text(alphabet="0123456789-:.TZ+", max_size=30),
                 st.dates().map(lambda d: f"{d.year:04d}-{d.month:02d}-{d.day:02d}T23:59:60Z"),
                 st.sampled_from(["2024-02-29T00:00:00Z", "2023-02-29T00:00:00Z", "0000-01-01T00:00:00Z",
                                  "2026-04-31T10:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01T10:00:00+24:00"])))
def test_timestamp_ok_agrees_with_the_full_diagnosis(text: str) -> None:
    """The day-remembering timestamp_ok accepts exactly the timestamps the detailed check finds no fault with."""
    assert timestamp_ok(text) == (_timestamp_reason(text) is None)


# ---------------------------------------------------------------------------------------------- other contracts


TICKET = Field("audit.ticket", pattern=r"[A-Z]+-[0-9]+", rule="a ticket key like 'OPS-12'")


@pytest.mark.parametrize(("value", "problems"), [("OPS-12", []), ("ops-12", ["audit.ticket"]), (12, ["audit.ticket"])])
def test_validator_of_a_contract_with_a_pattern_field_checks_it(value: Any, problems: list[str]) -> None:
    """make_validator turns a new field's pattern into a check that accepts a match and names anything else."""
    check = make_validator(CONTRACT.with_field(TICKET))
    assert problems == [p.field for p in check(with_field(valid_event(), "audit.ticket", value))]


def test_pattern_reason_quotes_the_fields_rule() -> None:
    """A value that misses a field's pattern is explained with the field's rule in words."""
    check = make_validator(CONTRACT.with_field(TICKET))
    problems = check(with_field(valid_event(), "audit.ticket", "ops-12"))
    assert [Problem("audit.ticket", "must be a ticket key like 'OPS-12', got 'ops-12'")] == problems


def test_actions_known_remembers_valid_verbs_only() -> None:
    """A verb action_ok accepted is remembered as True in ACTIONS_KNOWN; a refused one is not remembered."""
    action_ok("remembered.verb")
    action_ok("Refused Verb")
    assert (ACTIONS_KNOWN.get("remembered.verb"), ACTIONS_KNOWN.get("Refused Verb")) == (True, None)
