"""ECS categorisation from event.action."""

from __future__ import annotations

import pytest

from auditlog.agent.categorize import DEFAULT_CATEGORY, categorize


@pytest.mark.parametrize(
    ("action", "category", "kind"),
    [
        ("auth", "authentication", "start"),
        ("logout", "authentication", "end"),
        ("create", "configuration", "creation"),
        ("update", "configuration", "change"),
        ("delete", "configuration", "deletion"),
        ("export", "configuration", "access"),
    ],
)
def test_seed_verbs_map_to_ecs(action: str, category: str, kind: str) -> None:
    """Each known verb gets its ECS category and type."""
    assert categorize(action) == {"kind": "event", "category": [category], "type": [kind]}


def test_namespaced_verb_uses_last_segment() -> None:
    """appointment.update is categorised like update."""
    assert categorize("appointment.update") == categorize("update")


def test_unknown_verb_gets_documented_default() -> None:
    """A verb the table does not know gets configuration/info."""
    category, kind = DEFAULT_CATEGORY
    assert categorize("frobnicate") == {"kind": "event", "category": [category], "type": [kind]}


def test_result_lists_are_fresh() -> None:
    """Mutating one result does not change the next."""
    first = categorize("update")
    first["category"].append("x")
    assert categorize("update")["category"] == ["configuration"]
