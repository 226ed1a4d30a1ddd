"""Event ids: UUIDv7 for new events (RFC 9562, section 5.7) and deterministic ids for lines without one.

``uuid7()`` layout: 48-bit Unix time in milliseconds, version ``7``, 12 bits of sub-millisecond time
in ``rand_a`` (RFC 9562 section 6.2, method 3: "replace leftmost random bits with increased clock
precision", about 244 ns steps), the variant bits ``10`` and 62 random bits. Ids therefore sort by
creation time to a fraction of a microsecond without any shared counter or lock (the emitter calls this
per event from any thread); uniqueness rests on the 62 random bits per 244 ns step.

Randomness comes from a private ``random.Random`` seeded from ``os.urandom`` and reseeded in every
forked child (``os.register_at_fork``): forked web workers never share a sequence, and an app calling
``random.seed()`` cannot make ids repeat. (A CSPRNG call per id costs more than the rest of the emitter;
ids must be unique, not secret.)

``deterministic_id(identity, offset)`` is a UUIDv5 (SHA-1, RFC 9562 section 5.5) of the line's file identity
and byte offset under a fixed namespace: the agent re-derives the same id after a crash, so a re-sent
line is a 409 in Elasticsearch, not a duplicate.
"""

from __future__ import annotations

import os
import random
import time
import uuid
from datetime import UTC, datetime

__all__ = ["ID_NAMESPACE", "deterministic_id", "uuid7", "uuid7_datetime"]

#: namespace of deterministic ids (a UUIDv5 of the project's URN; never change it: ids would change).
ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:auditlog:event-id")

_rng = random.Random(int.from_bytes(os.urandom(16), "big"))
_bits = _rng.getrandbits


def _reseed() -> None:
    _rng.seed(int.from_bytes(os.urandom(16), "big"))


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reseed)

_VARIANT = 0b10 << 62


def uuid7() -> str:
    """Return a new UUIDv7 as a lowercase hyphenated string.

    Returns:
        e.g. ``"019363f5-8a2c-7d41-9b0e-5c1f2a3b4c5d"``.
    """
    ns = time.time_ns()
    # first 64 bits: unix_ts_ms (48) | ver 7 (4) | sub-millisecond fraction scaled to 12 bits (RFC 9562 method 3);
    # // and % instead of divmod: no tuple per id
    head = ((ns // 1_000_000 << 16) | 0x7000 | (ns % 1_000_000 * 4096 // 1_000_000)).to_bytes(8, "big").hex("-", 2)
    # last 64 bits: variant 10 (2) | rand_b (62); two 64-bit halves format faster than one 128-bit int.
    # bytes.hex() inserts the dashes in C: head "xxxx-xxxx-xxxx-xxxx" loses its first one, the tail is
    # grouped 2-6 bytes from the right ("xxxx-xxxxxxxxxxxx"); cheaper than slicing five groups.
    tail = (_VARIANT | _bits(62)).to_bytes(8, "big").hex("-", 6)
    return f"{head[:4]}{head[5:]}-{tail}"


def uuid7_datetime(value: str) -> datetime:
    """Return the creation time a UUIDv7 carries (UTC, millisecond precision).

    Raises:
        ValueError: when ``value`` is not a UUID of version 7.
    """
    parsed = uuid.UUID(value)
    if parsed.version != 7:
        raise ValueError(f"not a UUIDv7 (version {parsed.version}): {value!r}")
    return datetime.fromtimestamp((parsed.int >> 80) / 1000, tz=UTC)


def deterministic_id(identity: str, offset: int) -> str:
    """Return the id of the line at byte ``offset`` of the file with ``identity`` (stable across runs).

    Args:
        identity: the file identity string (device + inode + fingerprint, as the agent forms it).
        offset: the byte offset where the line starts.

    Returns:
        A UUIDv5 string.

    Raises:
        ValueError: when ``identity`` is empty or ``offset`` is negative.
    """
    if not identity:
        raise ValueError("identity must not be empty")
    if offset < 0:
        raise ValueError(f"offset must be >= 0, got {offset}")
    return str(uuid.uuid5(ID_NAMESPACE, f"{identity}\n{offset}"))
