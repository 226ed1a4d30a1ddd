"""Digest writer's pure part: events grouped per events index before they are cut into windows."""

from __future__ import annotations

from auditlog.agent.digest_writer import per_index


def test_per_index_groups_positions_by_index_in_delivery_order() -> None:
    """Each index gets its events' positions in the order they were delivered, indices by name."""
    assert per_index(["b", "a", "b", "a", "c"]) == [("a", [1, 3]), ("b", [0, 2]), ("c", [4])]


def test_per_index_of_one_index_is_every_position() -> None:
    """A seal over one index keeps every position, in order."""
    assert [(i, list(p)) for i, p in per_index(["x", "x", "x"])] == [("x", [0, 1, 2])]
