"""The emitter's structlog processors, one behaviour each (chains inspected with structlog.testing.LogCapture)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import orjson
import pytest
import structlog.contextvars
from structlog.testing import LogCapture

from auditlog.agent.contract import ContractError, validate
from auditlog.agent.emitter import AuditEmitter, build_processors
from auditlog.agent.processors import (
    NO_MESSAGE,
    AuditContext,
    Categorizer,
    ChangeRecorder,
    ContractValidator,
    EventIdentifier,
    FieldMapper,
    OrjsonRenderer,
    UtcTimestamper,
)
from auditlog.agent.redact import REDACTED, Redactor


class _Discard:
    def write(self, line: bytes) -> None:
        raise AssertionError("LogCapture should have dropped the event before writing")

    def close(self) -> None:
        pass


def captured(**call: Any) -> dict[str, Any]:
    """Run one update() through the real chain with LogCapture instead of the renderer; return the event dict."""
    capture = LogCapture()
    emitter = AuditEmitter(_Discard(), [*build_processors(Redactor())[:-1], capture], strict=True)
    emitter.logger().update(call.pop("message", None), **call)
    assert len(capture.entries) == 1
    return dict(capture.entries[0])


# ---------------------------------------------------------------------------------------------- FieldMapper


def test_field_mapper_sets_action_from_verb_method() -> None:
    """The logger method name becomes event.action."""
    assert FieldMapper()(None, "update", {"message": NO_MESSAGE})["event"] == {"action": "update"}


def test_field_mapper_maps_friendly_names_to_contract_paths() -> None:
    """source/tier/tenant/worker_id land in audit/organization/user."""
    out = FieldMapper()(None, "auth", {"source": "login", "tier": "basic", "tenant": "org-1", "worker_id": "w-1"})
    assert (out["audit"], out["organization"], out["user"]) == (
        {"source": "login", "tier": "basic"},
        {"id": "org-1"},
        {"id": "w-1"},
    )


def test_field_mapper_puts_timestamp_first() -> None:
    """@timestamp is the first key of every line."""
    assert next(iter(FieldMapper()(None, "update", {"tenant": "org-1"}))) == "@timestamp"


def test_field_mapper_copies_caller_objects() -> None:
    """A nested object the caller passed is copied, so filling it in never touches the caller's dict."""
    user = {"id": "w-1"}
    out = FieldMapper()(None, "update", {"user": user, "worker_name": "Anna"})
    assert (out["user"], user) == ({"id": "w-1", "name": "Anna"}, {"id": "w-1"})


def test_field_mapper_dotted_key_never_fills_the_callers_extra_object() -> None:
    """labels={...} plus "labels.env" nests both, leaving the caller's labels dict as it was."""
    labels = {"team": "care"}
    out = FieldMapper()(None, "update", {"labels": labels, "labels.env": "prod"})
    assert (out["labels"], labels) == ({"team": "care", "env": "prod"}, {"team": "care"})


def test_field_mapper_treats_source_object_as_ecs_source() -> None:
    """source="x" is audit.source; source={"ip": ...} is the ECS source object."""
    out = FieldMapper()(None, "update", {"source": {"ip": "10.0.0.1"}, "audit.source": "slots"})
    assert (out["source"], out["audit"]) == ({"ip": "10.0.0.1"}, {"source": "slots"})


def test_field_mapper_drops_none_values() -> None:
    """An optional field passed as None is left out of the line."""
    assert "user" not in FieldMapper()(None, "update", {"worker_name": None})


def test_field_mapper_nests_deeper_dotted_keys() -> None:
    """Keys with several dots go through expand_dotted."""
    out = FieldMapper()(None, "update", {"labels.team.name": "care"})
    assert out["labels"] == {"team": {"name": "care"}}


def test_field_mapper_conflict_raises_contract_error() -> None:
    """A dotted key under a non-object value is a contract problem naming the key."""
    with pytest.raises(ContractError) as caught:
        FieldMapper()(None, "update", {"labels": "x", "labels.team": "care"})
    assert [p.field for p in caught.value.problems] == ["labels.team"]


def test_field_mapper_collects_interleaved_fields_of_one_object() -> None:
    """Fields of one object given apart (other objects in between) still land in that one object."""
    out = FieldMapper()(None, "update", {"worker_id": "w-1", "tenant": "org-1", "worker_name": "Anna", "ip": "::1"})
    assert (out["user"], out["organization"], out["source"]) == ({"id": "w-1", "name": "Anna"}, {"id": "org-1"},
                                                                 {"ip": "::1"})


def test_field_mapper_value_replacing_an_object_conflicts_with_later_fields() -> None:
    """A plain value given for an object between two of its fields is a conflict, not a lost field."""
    with pytest.raises(ContractError) as caught:
        FieldMapper()(None, "update", {"worker_id": "w-1", "user": "bob", "worker_name": "Anna"})
    assert [p.field for p in caught.value.problems] == ["worker_name"]


def test_field_mapper_rejects_bad_alias_at_construction() -> None:
    """An alias that does not name a contract path is a configuration error."""
    with pytest.raises(ValueError, match="dotted contract path"):
        FieldMapper(aliases={"who": "user"})


# ---------------------------------------------------------------------------------------------- AuditContext


def test_context_fills_missing_fields() -> None:
    """Tenant and tier bound with structlog.contextvars appear in the event."""
    with structlog.contextvars.bound_contextvars(**{"organization.id": "org-7", "audit.tier": "business"}):
        out = AuditContext()(None, "update", {"audit": {"source": "slots"}})
    assert out == {"audit": {"source": "slots", "tier": "business"}, "organization": {"id": "org-7"}}


def test_context_never_overrides_call_values() -> None:
    """A value given in the call wins over the bound one."""
    with structlog.contextvars.bound_contextvars(**{"organization.id": "org-7"}):
        out = AuditContext()(None, "update", {"organization": {"id": "org-9"}})
    assert out["organization"] == {"id": "org-9"}


def test_context_ignores_unrelated_structlog_context() -> None:
    """Keys an app binds for its own logs stay out of audit events."""
    with structlog.contextvars.bound_contextvars(request_id="r-1"):
        out = AuditContext()(None, "update", {})
    assert out == {}


def test_context_fills_in_documented_key_order() -> None:
    """Bound fields are added in CONTEXT_KEYS order, whatever order they were bound in."""
    with structlog.contextvars.bound_contextvars(**{"user.id": "w-1"}), \
            structlog.contextvars.bound_contextvars(**{"audit.tier": "basic", "organization.id": "org-7"}):
        out = AuditContext()(None, "update", {})
    assert ["audit", "organization", "user"] == list(out)  # the contract definition's field order


def test_context_fills_when_the_app_binds_many_other_values() -> None:
    """With more unrelated context than the scan limit, bound audit fields are still found."""
    others = {f"app_key_{i}": i for i in range(40)}
    with structlog.contextvars.bound_contextvars(**others, **{"organization.id": "org-7"}):
        out = AuditContext()(None, "update", {"audit": {"source": "slots"}})
    assert out == {"audit": {"source": "slots"}, "organization": {"id": "org-7"}}


def test_context_rejects_undotted_key() -> None:
    """Context keys must be contract paths."""
    with pytest.raises(ValueError, match="dotted contract path"):
        AuditContext(keys=["tenant"])


# ---------------------------------------------------------------------------------------------- stamps and ids


def test_timestamper_writes_utc_rfc3339_now() -> None:
    """A missing @timestamp becomes now in UTC with microseconds and Z."""
    before = datetime.now(UTC)
    stamp = UtcTimestamper()(None, "update", {"@timestamp": None})["@timestamp"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", stamp)
    assert before - timedelta(seconds=1) <= datetime.fromisoformat(stamp) <= datetime.now(UTC)


def test_timestamper_keeps_given_string() -> None:
    """A given timestamp string is kept as it is (validation judges it)."""
    assert UtcTimestamper()(None, "x", {"@timestamp": "2024-05-01T12:00:00+02:00"})["@timestamp"] == (
        "2024-05-01T12:00:00+02:00"
    )


def test_timestamper_formats_aware_datetime_in_utc() -> None:
    """A datetime with a zone is written in UTC."""
    moment = datetime(2024, 5, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    assert UtcTimestamper()(None, "x", {"@timestamp": moment})["@timestamp"] == "2024-05-01T10:00:00.000000Z"


def test_timestamper_refuses_naive_datetime() -> None:
    """A naive datetime is a contract problem, not a guess."""
    with pytest.raises(ContractError, match="@timestamp"):
        UtcTimestamper()(None, "x", {"@timestamp": datetime(2024, 5, 1)})


def test_timestamper_remembers_only_generated_stamps() -> None:
    """``last`` is the stamp the timestamper made, never a given one."""
    stamper = UtcTimestamper()
    made = stamper(None, "x", {"@timestamp": None})["@timestamp"]
    stamper(None, "x", {"@timestamp": "2024-05-01T12:00:00+02:00"})
    assert stamper.last is made


def test_validator_checks_timestamps_its_stamper_did_not_make() -> None:
    """With a stamper attached, a given bad timestamp is still refused."""
    stamper = UtcTimestamper()
    stamper(None, "x", {"@timestamp": None})
    event = {"@timestamp": "2024-05-01 10:00:00Z", "event": {"action": "update"},
             "audit": {"source": "slots", "tier": "basic"}, "organization": {"id": "org-1"}}
    with pytest.raises(ContractError) as caught:
        ContractValidator(stamper)(None, "x", event)
    assert [p.field for p in caught.value.problems] == ["@timestamp"]


def test_identifier_adds_uuid7() -> None:
    """A missing event.id becomes a UUIDv7."""
    out = EventIdentifier()(None, "x", {"event": {"action": "update"}})
    assert uuid.UUID(out["event"]["id"]).version == 7


def test_identifier_keeps_given_id() -> None:
    """A given event.id is kept."""
    assert EventIdentifier()(None, "x", {"event": {"id": "abc"}})["event"]["id"] == "abc"


# ---------------------------------------------------------------------------------------------- ECS, changes


def test_categorizer_adds_ecs_fields() -> None:
    """update gets kind event, category configuration, type change."""
    out = Categorizer()(None, "x", {"event": {"action": "update"}})
    assert out["event"] == {"action": "update", "kind": "event", "category": ["configuration"], "type": ["change"]}


def test_categorizer_keeps_given_values() -> None:
    """A category the app set itself wins."""
    out = Categorizer()(None, "x", {"event": {"action": "update", "category": ["iam"]}})
    assert out["event"]["category"] == ["iam"]


def test_change_recorder_turns_pairs_into_old_new() -> None:
    """(old, new) tuples become {"old", "new"} objects."""
    out = ChangeRecorder()(None, "x", {"audit": {"changes": {"start": ("10:00", "11:00")}}})
    assert out["audit"]["changes"] == {"start": {"old": "10:00", "new": "11:00"}}


def test_change_recorder_sets_sorted_changed_fields() -> None:
    """audit.changed_fields is the sorted list of changed field names."""
    out = ChangeRecorder()(None, "x", {"audit": {"changes": {"b": (1, 2), "a": (1, 2)}}})
    assert out["audit"]["changed_fields"] == ["a", "b"]


def test_change_recorder_redacts_secrets() -> None:
    """Secret fields are redacted when a redactor is configured."""
    out = ChangeRecorder(Redactor())(None, "x", {"audit": {"changes": {"password": ("a", "b")}}})
    assert out["audit"]["changes"] == {"password": {"old": REDACTED, "new": REDACTED}}


def test_change_recorder_rejects_wrong_pair_length() -> None:
    """A change pair with three items names the field."""
    with pytest.raises(ContractError, match=r"audit\.changes\.start"):
        ChangeRecorder()(None, "x", {"audit": {"changes": {"start": (1, 2, 3)}}})


def test_change_recorder_rejects_non_redactor() -> None:
    """Passing something else as the redactor fails at construction."""
    with pytest.raises(TypeError, match="Redactor"):
        ChangeRecorder(redactor=["password"])  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- validate, render


def test_validator_raises_with_event_attached() -> None:
    """A bad event raises ContractError carrying the problems and the event."""
    event = {"@timestamp": "nope"}
    with pytest.raises(ContractError) as caught:
        ContractValidator()(None, "x", event)
    assert (caught.value.event, caught.value.problems[0].field) == (event, "@timestamp")


def test_renderer_writes_one_json_line() -> None:
    """The renderer returns UTF-8 JSON bytes ending in exactly one newline."""
    line = OrjsonRenderer()(None, "x", {"message": "grüß dich\nzweite zeile"})
    assert (line.count(b"\n"), orjson.loads(line)) == (1, {"message": "grüß dich\nzweite zeile"})


def test_renderer_writes_decimals_as_strings() -> None:
    """Decimal values are written exactly, as strings."""
    assert orjson.loads(OrjsonRenderer()(None, "x", {"price": Decimal("10.50")})) == {"price": "10.50"}


def test_renderer_unserialisable_value_is_contract_error() -> None:
    """An object JSON cannot hold is a contract problem, not a crash inside the app."""
    with pytest.raises(ContractError, match="not JSON-serialisable"):
        OrjsonRenderer()(None, "x", {"thing": object()})


@pytest.mark.parametrize("number", [float("nan"), float("inf"), -float("inf")])
def test_renderer_refuses_non_finite_numbers(number: float) -> None:
    """NaN and infinities (which orjson would write as null) are refused, naming the field."""
    with pytest.raises(ContractError) as caught:
        OrjsonRenderer()(None, "x", {"audit": {"changes": {"ratio": {"old": 1.0, "new": number}}}})
    assert caught.value.problems[0].field == "audit.changes.ratio.new"


def test_renderer_refuses_integers_beyond_64_bits() -> None:
    """An integer the readers could not decode is refused, not written."""
    with pytest.raises(ContractError, match="64-bit"):
        OrjsonRenderer()(None, "x", {"count": 2**64})


# ---------------------------------------------------------------------------------------------- the whole chain


def test_chain_builds_a_valid_contract_event() -> None:
    """The full chain (before rendering) turns an app call into a valid nested event."""
    with structlog.contextvars.bound_contextvars(**{"organization.id": "org-1", "audit.tier": "enterprise"}):
        event = captured(message="moved", source="appointments", changes={"start": ("10:00", "11:00")})
    assert validate(event) == []
    summary = (event["message"], event["audit"]["changed_fields"], event["event"]["type"])
    assert summary == ("moved", ["start"], ["change"])
