"""Replicas per retention class from the data nodes (pure choice)."""

from __future__ import annotations

import pytest

from auditlog.indexer.replicas import choose_replicas


def test_one_data_node_gets_no_replicas() -> None:
    """On a single data node every class gets 0 replicas (a replica could never be assigned)."""
    assert {"enterprise": 0, "business": 0, "professional": 0} == {
        c.retention_class: c.replicas for c in choose_replicas(1)}


def test_two_or_more_data_nodes_get_one_replica() -> None:
    """With two or more data nodes every class gets 1 replica."""
    assert [(1, 1, 1), (1, 1, 1)] == [tuple(c.replicas for c in choose_replicas(n)) for n in (2, 3)]


def test_override_fixes_one_class_and_leaves_the_others() -> None:
    """An operator's number for one class wins; the other classes follow the data nodes."""
    assert [("enterprise", 2), ("business", 1), ("professional", 1)] == [
        (c.retention_class, c.replicas) for c in choose_replicas(3, {"enterprise": 2})]


def test_reason_names_the_data_nodes() -> None:
    """The reason printed by setup says how many data nodes the choice came from."""
    assert "3 data nodes" == choose_replicas(3)[0].reason


def test_override_beyond_the_nodes_says_copies_stay_unassigned() -> None:
    """A number of replicas the cluster cannot place is applied, and the reason says the cluster stays yellow."""
    assert "copies stay unassigned (yellow)" in choose_replicas(1, {"business": 1})[1].reason


def test_unknown_class_is_refused() -> None:
    """An override for a class that does not exist is a ValueError naming it."""
    with pytest.raises(ValueError, match="'gold'"):
        choose_replicas(3, {"gold": 1})
