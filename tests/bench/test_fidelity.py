"""The bench's fidelity check names what a shipper changed in a document, and nothing it merely added."""

from __future__ import annotations

from bench.fidelity import FidelityTally, differences


def test_identical_document_has_no_difference() -> None:
    """A document equal to its line is faithful."""
    line = {"event": {"id": "e1"}, "audit": {"changes": {"start": {"old": None, "new": "10:00"}}}}
    doc = {"event": {"id": "e1"}, "audit": {"changes": {"start": {"old": None, "new": "10:00"}}}}
    assert [] == differences(line, doc)


def test_fields_added_by_the_shipper_are_not_differences() -> None:
    """Extra fields (host.name, agent.*) in the document are ignored."""
    assert [] == differences({"message": "m"}, {"message": "m", "host": {"name": "h"}, "agent": {"type": "filebeat"}})


def test_dropped_null_is_named_with_changes_keys_generalised() -> None:
    """A null that the shipper dropped inside audit.changes is one kind, whatever the changed field."""
    line = {"audit": {"changes": {"start": {"old": None, "new": "a"}, "end": {"old": "b", "new": None}}}}
    doc = {"audit": {"changes": {"start": {"new": "a"}, "end": {"old": "b"}}}}
    assert ["audit.changes.*.old: null dropped", "audit.changes.*.new: null dropped"] == differences(line, doc)


def test_changed_value_and_type_are_differences() -> None:
    """A different value, or the same digits as another type, is a change."""
    assert ["message: changed", "n: changed"] == differences({"message": "a", "n": 1}, {"message": "b", "n": "1"})


def test_dotted_key_in_the_line_matches_a_nested_field() -> None:
    """``{"user.id": "u"}`` in the line and ``{"user": {"id": "u"}}`` in the document are the same field."""
    assert [] == differences({"user.id": "u"}, {"user": {"id": "u"}})


def test_tally_counts_documents_once_and_kinds_per_document() -> None:
    """Two documents with the same dropped null count as two altered documents and one kind seen twice."""
    tally = FidelityTally()
    line = {"audit": {"changes": {"a": {"old": None, "new": 1}, "b": {"old": None, "new": 2}}}}
    doc = {"audit": {"changes": {"a": {"new": 1}, "b": {"new": 2}}}}
    tally.add(line, doc)
    tally.add(line, doc)
    tally.add({"m": 1}, {"m": 1})
    assert 2 == tally.altered
    assert {"audit.changes.*.old: null dropped": 2} == tally.top()
