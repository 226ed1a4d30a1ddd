"""Event ids: UUIDv7 per RFC 9562 and deterministic ids for lines without one."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from auditlog.agent.ids import deterministic_id, uuid7, uuid7_datetime


def test_uuid7_has_version_7_and_rfc_variant() -> None:
    """The version nibble is 7 and the variant bits are 10."""
    value = uuid.UUID(uuid7())
    assert (value.version, value.variant) == (7, uuid.RFC_4122)


def test_uuid7_is_lowercase_hyphenated() -> None:
    """The text form is the canonical 8-4-4-4-12 lowercase hex."""
    text = uuid7()
    assert str(uuid.UUID(text)) == text


def test_uuid7_carries_the_creation_time() -> None:
    """The 48-bit timestamp is the current Unix time in milliseconds."""
    before = datetime.now(UTC)
    created = uuid7_datetime(uuid7())
    after = datetime.now(UTC)
    assert before - timedelta(milliseconds=1) <= created <= after


def test_uuid7_values_are_unique() -> None:
    """Ids made one after the other never repeat."""
    ids = [uuid7() for _ in range(50_000)]
    assert len(set(ids)) == len(ids)


def test_uuid7_time_prefix_follows_creation_order() -> None:
    """The time part (48-bit ms + 12-bit fraction) of successive ids never decreases."""
    prefixes = [uuid7()[:18] for _ in range(20_000)]
    assert sorted(prefixes) == prefixes


def test_uuid7_forked_child_gets_its_own_randomness() -> None:
    """A forked worker does not repeat the parent's random sequence (ids stay unique across workers)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_end)
        os.write(write_end, ",".join(uuid7()[19:] for _ in range(200)).encode())
        os._exit(0)
    os.close(write_end)
    parent_tails = {uuid7()[19:] for _ in range(200)}
    with os.fdopen(read_end, "rb") as pipe:
        child_tails = set(pipe.read().decode().split(","))
    os.waitpid(pid, 0)
    assert set() == parent_tails & child_tails


def test_uuid7_datetime_rejects_other_versions() -> None:
    """Reading the time of a UUIDv4 is an error."""
    with pytest.raises(ValueError, match="not a UUIDv7"):
        uuid7_datetime(str(uuid.uuid4()))


def test_deterministic_id_is_stable() -> None:
    """The same file identity and offset always give the same id."""
    assert deterministic_id("2049:131:ab12", 4096) == deterministic_id("2049:131:ab12", 4096)


def test_deterministic_id_differs_by_offset_and_identity() -> None:
    """Another offset or another file gives another id."""
    ids = {deterministic_id("2049:131:ab12", 0), deterministic_id("2049:131:ab12", 1)}
    ids.add(deterministic_id("2049:132:ab12", 0))
    assert len(ids) == 3


def test_deterministic_id_is_a_uuid5() -> None:
    """The id is a name-based UUIDv5, a valid contract event.id."""
    assert uuid.UUID(deterministic_id("x", 0)).version == 5


@pytest.mark.parametrize(("identity", "offset"), [("", 0), ("x", -1)])
def test_deterministic_id_rejects_bad_input(identity: str, offset: int) -> None:
    """An empty identity or a negative offset is refused."""
    with pytest.raises(ValueError):
        deterministic_id(identity, offset)
