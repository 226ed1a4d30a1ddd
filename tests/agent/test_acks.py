"""Contiguous acknowledgement: checkpoints advance only past fully acknowledged prefixes."""

from __future__ import annotations

from auditlog.agent.acks import AckTracker


def test_in_order_acks_advance() -> None:
    """Acknowledging the oldest batch advances its files to its end."""
    t = AckTracker()
    t.register(1, {"a": 10})
    t.register(2, {"a": 20})
    assert t.ack(1, ["a"]) == {"a": 10}


def test_out_of_order_ack_waits_for_the_gap() -> None:
    """A later batch acknowledged first does not move the checkpoint until the earlier one is."""
    t = AckTracker()
    t.register(1, {"a": 10, "b": 5})
    t.register(2, {"a": 20})
    assert t.ack(2, ["a"]) == {}
    assert t.ack(1, ["a", "b"]) == {"a": 20, "b": 5}
    assert t.in_flight() == 0


def test_files_are_independent() -> None:
    """A pending batch of one file does not hold back another file."""
    t = AckTracker()
    t.register(1, {"a": 10})
    t.register(2, {"b": 7})
    assert t.ack(2, ["b"]) == {"b": 7}
