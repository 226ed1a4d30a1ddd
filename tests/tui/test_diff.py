"""Tests for tui.diff: audit.changes -> Raw rows."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from auditlog.tui.diff import ChangeKind, ChangeRow, diff_changes

json_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=6)
changes_st = st.dictionaries(st.text(max_size=10), st.fixed_dictionaries({"old": json_values, "new": json_values}),
                             max_size=8)


def test_changed_field() -> None:
    """A field with different old and new values is a change from old to new."""
    assert [ChangeRow("start", ChangeKind.CHANGED, "10:00", "11:00")] == diff_changes(
        {"start": {"old": "10:00", "new": "11:00"}})


def test_added_field_without_old() -> None:
    """A field whose old side is absent is added."""
    assert [ChangeRow("note", ChangeKind.ADDED, None, "hi")] == diff_changes({"note": {"new": "hi"}})


def test_removed_field_with_null_new() -> None:
    """A field whose new side is null is removed."""
    assert [ChangeRow("note", ChangeKind.REMOVED, "hi", None)] == diff_changes({"note": {"old": "hi", "new": None}})


def test_unchanged_field() -> None:
    """A field logged with equal old and new values is unchanged."""
    assert [ChangeRow("n", ChangeKind.UNCHANGED, 3, 3)] == diff_changes({"n": {"old": 3, "new": 3}})


def test_bool_to_int_is_a_change() -> None:
    """True -> 1 is a change of type even though Python compares them equal."""
    expected = ChangeKind.CHANGED
    assert expected == diff_changes({"f": {"old": True, "new": 1}})[0].kind


def test_malformed_entry_is_shown_as_added() -> None:
    """An entry that is not an old/new object is shown as its new value, never dropped."""
    assert [ChangeRow("x", ChangeKind.ADDED, None, 5)] == diff_changes({"x": 5})


def test_no_changes() -> None:
    """Missing or non-object changes give no rows."""
    expected: tuple[list[ChangeRow], list[ChangeRow]] = ([], [])
    assert expected == (diff_changes(None), diff_changes(["not", "a", "dict"]))  # type: ignore[arg-type]


@given(changes_st)
def test_one_sorted_row_per_field(changes: dict[str, Any]) -> None:
    """Every field yields exactly one row, in field order."""
    assert sorted(changes) == [row.field for row in diff_changes(changes)]


@given(changes_st)
def test_rows_keep_values_and_kind_matches(changes: dict[str, Any]) -> None:
    """Rows carry the logged values and the kind agrees with which sides are present and equal."""
    for row in diff_changes(changes):
        assert (changes[row.field]["old"], changes[row.field]["new"]) == (row.old, row.new)
        expected = (ChangeKind.UNCHANGED if row.old is None and row.new is None
                    else ChangeKind.ADDED if row.old is None
                    else ChangeKind.REMOVED if row.new is None
                    else ChangeKind.CHANGED if (row.old != row.new or (type(row.old) is not type(row.new)
                                                                        and bool in (type(row.old), type(row.new))))
                    else ChangeKind.UNCHANGED)
        assert expected == row.kind
