"""Event ids: UUIDv7 for new events (RFC 9562, section 5.7) and deterministic ids for lines without one.

``uuid7()`` layout: 48-bit Unix time in milliseconds, version ``7``, a 12-bit ``rand_a`` used as a
counter (RFC 9562 section 6.2, method 1) so ids made by one process in the same millisecond still sort in
creation order, the variant bits ``10`` and 62 random bits. The counter starts each millisecond at a random
value below 2048 (leaving headroom); if it runs out, the timestamp is advanced by a millisecond rather
than breaking the order. If the clock steps back, the last timestamp is kept, so ids never go backwards
within a process.

Randomness comes from a private ``random.Random`` seeded from ``os.urandom`` and reseeded in every
forked child (``os.register_at_fork``): forked web workers never share a sequence, and an app calling
``random.seed()`` cannot make ids repeat. (A CSPRNG call per id costs more than the rest of the emitter;
ids are unique, not secret.)

``deterministic_id(identity, offset)`` is a UUIDv5 (SHA-1, RFC 9562 section 5.5) of the line's file identity
and byte offset under a fixed namespace: the agent re-derives the same id after a crash, so a re-sent
line is a 409 in Elasticsearch, not a duplicate.
"""

from __future__ import annotations

import os
import random
import threading
import time
import uuid
from datetime import UTC, datetime

__all__ = ["ID_NAMESPACE", "deterministic_id", "uuid7", "uuid7_datetime"]

#: namespace of deterministic ids (a UUIDv5 of the project's URN; never change it: ids would change).
ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:auditlog:event-id")

_rng = random.Random(int.from_bytes(os.urandom(16), "big"))
_lock = threading.Lock()
_last_ms = 0
_counter = 0


def _reseed() -> None:
    global _last_ms, _counter
    _rng.seed(int.from_bytes(os.urandom(16), "big"))
    _last_ms = 0
    _counter = 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reseed)


def uuid7() -> str:
    """Return a new UUIDv7 as a lowercase hyphenated string, monotonic within this process.

    Returns:
        e.g. ``"019363f5-8a2c-7d41-9b0e-5c1f2a3b4c5d"``.
    """
    global _last_ms, _counter
    now_ms = time.time_ns() // 1_000_000
    with _lock:
        if now_ms > _last_ms:
            _last_ms = now_ms
            _counter = _rng.getrandbits(11)
        else:
            _counter += 1
            if _counter > 0xFFF:  # out of counter space this millisecond: borrow the next one
                _last_ms += 1
                _counter = _rng.getrandbits(11)
        ms, counter = _last_ms, _counter
        tail = _rng.getrandbits(62)
    value = (ms << 80) | (0x7 << 76) | (counter << 64) | (0b10 << 62) | tail
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


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
