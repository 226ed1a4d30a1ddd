"""The one contract definition: its consistency checks and the worked "adding a field" example of the docs."""

from __future__ import annotations

from typing import Any

import jsonschema
import msgspec
import orjson
import pytest

from auditlog.agent.contract import make_validator, validate
from auditlog.agent.fastpath import line_type
from auditlog.agent.processors import FieldMapper
from auditlog.core.contract import CONTRACT, F, Field
from auditlog.core.schema import json_schema
from auditlog.tui.export.rows import extra_fields
from auditlog.tui.screens.detail import meta_fields

#: the worked example of docs/architecture.md ("Adding things: a new event field"), character for character.
OBJECT_ID = Field("audit.object_id", max_length=128, alias="object_id", context=True, label="Object ID",
                  description="Id of the object acted on (appointment, slot, ...).")
EXTENDED = CONTRACT.with_field(OBJECT_ID)


def emitter_event(**audit: Any) -> dict[str, Any]:
    """An event as the emitter writes it (ids and categories included), with extra ``audit`` fields."""
    return {
        "@timestamp": "2026-01-02T03:04:05.000006Z",
        "event": {"id": "ev-1", "action": "update", "kind": "event", "category": ["configuration"],
                  "type": ["change"]},
        "audit": {"source": "appointments", "tier": "enterprise", **audit},
        "organization": {"id": "org-1"},
    }


def test_every_named_path_is_a_contract_field() -> None:
    """Each F attribute names a field of the definition."""
    paths = {f.path for f in CONTRACT}
    named = {value for name, value in vars(F).items() if not name.startswith("_")}
    assert set() == named - paths


def test_a_path_named_twice_is_refused() -> None:
    """A contract cannot declare the same path twice."""
    with pytest.raises(ValueError, match="each path once"):
        CONTRACT.with_field(Field("audit.tier"))


def test_an_alias_used_twice_is_refused() -> None:
    """Two fields cannot share a friendly keyword."""
    with pytest.raises(ValueError, match="alias"):
        CONTRACT.with_field(Field("audit.object_id", alias="tenant"))


def test_a_path_deeper_than_one_object_is_refused() -> None:
    """Fields live at the top or in one top-level object."""
    with pytest.raises(ValueError, match="top-level key"):
        CONTRACT.with_field(Field("audit.object.id"))


def test_new_field_goes_after_its_objects_last_field() -> None:
    """with_field keeps an object's fields together (the order of schema properties and problems)."""
    paths = [f.path for f in EXTENDED]
    assert paths.index("audit.seq") + 1 == paths.index("audit.object_id")


def test_example_validator_accepts_the_field() -> None:
    """The extended contract's validator accepts an event carrying the new field."""
    assert [] == make_validator(EXTENDED)(emitter_event(object_id="appt-4711"))


def test_example_validator_names_a_bad_value() -> None:
    """The extended contract's validator refuses a value beyond the field's limit, naming the field."""
    problems = make_validator(EXTENDED)(emitter_event(object_id="x" * 129))
    assert ["audit.object_id"] == [p.field for p in problems]


def test_example_v1_validator_keeps_the_field_as_an_unknown_extra() -> None:
    """Contract v1 itself allows the same event (unknown fields are kept), so adding the field breaks no producer."""
    assert [] == validate(emitter_event(object_id="x" * 129))


def test_example_struct_decodes_the_field() -> None:
    """The pass-through's typed decode of the extended contract reads the new field."""
    line = orjson.dumps(emitter_event(object_id="appt-4711"))
    assert "appt-4711" == msgspec.json.decode(line, type=line_type(EXTENDED)).audit.object_id


def test_example_v1_struct_leaves_the_field_to_the_full_path() -> None:
    """v1's typed decode refuses the field it does not know (the line then takes the full path)."""
    line = orjson.dumps(emitter_event(object_id="appt-4711"))
    with pytest.raises(msgspec.ValidationError, match="object_id"):
        msgspec.json.decode(line, type=line_type(CONTRACT))


def test_example_schema_publishes_the_field() -> None:
    """The generated schema of the extended contract accepts the field and refuses a wrong type for it."""
    schema = jsonschema.Draft202012Validator(json_schema(EXTENDED))
    assert (True, False) == (schema.is_valid(emitter_event(object_id="appt-4711")),
                             schema.is_valid(emitter_event(object_id=4711)))


def test_example_emitter_maps_the_alias() -> None:
    """The emitter's friendly keyword for the field lands at its path."""
    out = FieldMapper(aliases=EXTENDED.aliases())(None, "update", {"object_id": "appt-4711"})
    assert {"object_id": "appt-4711"} == out["audit"]


def test_example_field_may_be_bound_per_request() -> None:
    """A context field of the definition is among the emitter's context keys."""
    assert "audit.object_id" in EXTENDED.context_keys()


def test_example_detail_view_shows_the_field() -> None:
    """The TUI's Meta rows end with the new labelled field."""
    assert ("Object ID", "audit.object_id") == meta_fields(EXTENDED)[-1]


def test_example_export_gives_the_field_a_column() -> None:
    """The export adds one column for the new labelled field, and none for contract v1."""
    assert (["audit.object_id"], []) == ([f.path for f in extra_fields(EXTENDED)], list(extra_fields(CONTRACT)))



def test_a_type_the_validator_cannot_check_is_refused_when_built() -> None:
    """A field type without a check in the validator stops make_validator, not a later event."""
    odd = CONTRACT.with_field(Field("audit.score", type="number"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"audit\.score"):
        make_validator(odd)


def test_a_type_the_pass_through_cannot_decode_is_refused_when_built() -> None:
    """A field type without a msgspec type stops line_type."""
    odd = CONTRACT.with_field(Field("audit.score", type="number"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"audit\.score"):
        line_type(odd)
