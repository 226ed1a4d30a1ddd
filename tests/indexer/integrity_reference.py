"""Digest format 3 spelled out with plain loops, straight from its definition in ``indexer/integrity.py``.

The reference the agent's C-level code (``window_body``, ``stream_ranges``) must match byte for byte
(``test_integrity.py``): slow and obvious rather than fast, so a shortcut in the real code that changes a
digest shows up as a difference.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
from collections.abc import Sequence
from typing import Any

import msgspec

from auditlog.indexer.integrity import DIGEST_VERSION, SHORT_HASH_BYTES, UNKNOWN_HASH, Columns


def _ranges(numbers: list[int]) -> list[list[int]]:
    """Sorted distinct numbers as inclusive ``[first, last]`` runs."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return runs


def _first_under_each_number(streams: Sequence[str | None], seqs: Sequence[int | None],
                             positions: Sequence[int]) -> tuple[dict[str, dict[int, int]], list[int]]:
    """Per stream the position of the first event delivered under each number; every other position in order."""
    numbered: dict[str, dict[int, int]] = {}
    others: list[int] = []
    for p in positions:
        stream, number = streams[p], seqs[p]
        if stream is None or number is None or number in numbered.get(stream, {}):
            others.append(p)
        else:
            numbered.setdefault(stream, {})[number] = p
    return numbered, others


def stream_ranges(streams: Sequence[str | None], seqs: Sequence[int | None]) -> dict[str, list[list[int]]]:
    """Per stream the ranges of its numbers."""
    numbered, _others = _first_under_each_number(streams, seqs, range(len(streams)))
    return {stream: _ranges(sorted(taken)) for stream, taken in sorted(numbered.items())}


def window_body(*, agent: str, public_key: str, seq: int, prev: str | None, prev_index: str | None, index: str,
                events: Columns, at: Sequence[int] | None = None,
                delivered: dict[str, list[list[int]]] | None = None) -> dict[str, Any]:
    """One window's unsigned digest: numbered events by stream name and number, then the rest by id."""
    positions = list(range(len(events.hashes))) if at is None else list(at)
    numbered, by_id = _first_under_each_number(events.streams, events.seqs, positions)
    listed: list[int] = []
    runs: dict[str, dict[str, Any]] = {}
    for stream in sorted(numbered):
        numbers = sorted(numbered[stream])
        listed += [numbered[stream][n] for n in numbers]
        gaps = [numbers[0]] + [b - a for a, b in itertools.pairwise(numbers)]
        known = (delivered or {}).get(stream)
        runs[stream] = {"seqs": base64.b64encode(msgspec.msgpack.encode(gaps)).decode(),
                        "delivered": known if known is not None else _ranges(numbers)}
    full = [events.hashes[p] for p in listed + by_id]
    times = [events.times[p] for p in positions]
    return {
        "v": DIGEST_VERSION, "agent": agent, "key": public_key, "seq": seq, "prev": prev, "prev_index": prev_index,
        "index": index, "count": len(positions),
        "first": min(times) if times else None, "last": max(times) if times else None,
        "streams": runs,
        "ids": [events.ids[p] for p in by_id],
        "width": SHORT_HASH_BYTES,
        "hashes": base64.b64encode(b"".join(h[:SHORT_HASH_BYTES] for h in full)).decode(),
        "unknown": [i for i, h in enumerate(full) if h == UNKNOWN_HASH],
        "root": hashlib.sha256(b"".join(full)).hexdigest(),
    }
