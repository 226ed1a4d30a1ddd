"""The contract's enrichment rules applied once for the emitter and the agent: categories and changed fields."""

from __future__ import annotations

from typing import Any

from auditlog.agent.enrichment import CATEGORY_KEYS, CHANGED_FIELDS, ActionCategories, changed_fields_of


def test_category_keys_come_from_the_rules_on_the_action() -> None:
    """The keys filled from event.action are the definition's: kind, category and type."""
    assert ("kind", "category", "type") == CATEGORY_KEYS


def test_changed_fields_rule_applies_when_changes_are_given() -> None:
    """audit.changed_fields is filled only when audit.changes is non-empty."""
    assert ("audit.changed_fields", "audit.changes") == (CHANGED_FIELDS.path, CHANGED_FIELDS.when)


def test_missing_categories_are_filled_from_the_action() -> None:
    """An event object with only an action gets the ECS categorisation of its verb."""
    ev = {"action": "delete"}
    ActionCategories().fill(ev)
    assert {"action": "delete", "kind": "event", "category": ["configuration"], "type": ["deletion"]} == ev


def test_given_categories_win() -> None:
    """A category the event carries is kept; only the missing keys are added."""
    ev = {"action": "delete", "category": ["iam"]}
    ActionCategories().fill(ev)
    assert {"action": "delete", "kind": "event", "category": ["iam"], "type": ["deletion"]} == ev


def test_filled_lists_are_fresh_per_event() -> None:
    """Two events of the same verb never share a list, so changing one leaves the other alone."""
    categories = ActionCategories()
    first: dict[str, Any] = {"action": "update"}
    second: dict[str, Any] = {"action": "update"}
    categories.fill(first)
    categories.fill(second)
    first["type"].append("x")
    assert ["change"] == second["type"]


def test_changed_fields_are_the_sorted_keys() -> None:
    """changed_fields_of sorts the change names."""
    assert ["end", "start"] == changed_fields_of({"start": {}, "end": {}})


def test_changed_fields_of_mixed_key_types_sort_by_text() -> None:
    """Keys of mixed types (an app's mistake the renderer reports) still sort, by their text."""
    assert [1, "a"] == changed_fields_of({"a": {}, 1: {}})


def test_shared_lists_fill_the_same_values() -> None:
    """Without fresh lists (the agent's choice) an event gets the same categories, and given ones still win."""
    categories = ActionCategories(fresh_lists=False)
    bare: dict[str, Any] = {"action": "delete"}
    given: dict[str, Any] = {"action": "delete", "type": ["end"]}
    categories.fill(bare)
    categories.fill(given)
    assert ({"action": "delete", "kind": "event", "category": ["configuration"], "type": ["deletion"]},
            {"action": "delete", "kind": "event", "category": ["configuration"], "type": ["end"]}) == (bare, given)
