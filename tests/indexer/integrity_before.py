"""The digest-body code as it was before the agent's seal was made cheaper (main at 5ef1561), kept verbatim as
the reference the current code must match byte for byte (``test_integrity.py``)."""

from __future__ import annotations

import base64
import hashlib
import itertools
import operator
from collections.abc import Sequence
from typing import Any

from auditlog.indexer.integrity import DIGEST_VERSION, SHORT_HASH_BYTES, UNKNOWN_HASH, Columns, _encode_ints


def hash_root(hashes: list[bytes]) -> str:
    return hashlib.sha256(b"".join(hashes)).hexdigest()


_short = operator.itemgetter(slice(0, SHORT_HASH_BYTES))


def _ascending_ranges(ns: Sequence[int]) -> list[list[int]]:
    """Ranges of strictly ascending numbers; the breaks are found by C-level maps, not a loop per number."""
    if not ns:
        return []
    # a range starts wherever a number is not its predecessor + 1
    starts = [0, *itertools.compress(range(1, len(ns)), map(operator.ne, ns[1:], map((1).__add__, ns))), len(ns)]
    return [[ns[a], ns[b - 1]] for a, b in itertools.pairwise(starts)]


def by_stream(streams: Sequence[str | None], seqs: Sequence[int | None]) -> list[tuple[str, list[int], list[int]]]:
    """Order the numbered events by stream and number (pure; C-level sorts and maps, no loop per event).

    A later event under a number already taken is left out (a digest lists it by id).

    Args:
        streams: each event's ``audit.stream`` (``None``: not numbered).
        seqs: each event's ``audit.seq`` (``None``: not numbered).

    Returns:
        Per stream, by name: the positions of its events by ascending number (the first event under
        each number), and those numbers.
    """
    count = len(streams)
    numbered: Sequence[int] = range(count)
    if None in streams or None in seqs:  # other producers' events carry no number
        numbered = [i for i in range(count) if streams[i] is not None and seqs[i] is not None]
    names = set(streams) if len(numbered) == count else set(map(streams.__getitem__, numbered))
    if len(names) == 1:
        groups = [(str(names.pop()), list(numbered))]
    else:
        rank = {name: n for n, name in enumerate(sorted(names))}  # type: ignore[type-var]
        codes = list(map(rank.__getitem__, map(streams.__getitem__, numbered)))
        order = sorted(range(len(codes)), key=codes.__getitem__)  # stable: delivery order within a stream
        groups = [(str(streams[numbered[group[0]]]), list(map(numbered.__getitem__, group)))
                  for group in (list(g) for _code, g in itertools.groupby(order, key=codes.__getitem__))]
    out: list[tuple[str, list[int], list[int]]] = []
    get_seq = seqs.__getitem__
    for stream, positions in groups:
        numbers: list[int] = list(map(get_seq, positions))  # type: ignore[arg-type]
        if not all(map(operator.lt, numbers, itertools.islice(numbers, 1, None))):  # not shipped in order
            positions.sort(key=get_seq)  # type: ignore[arg-type]  # stable: the first under a number stays first
            numbers = list(map(get_seq, positions))  # type: ignore[arg-type]
            fresh = [True, *map(operator.ne, itertools.islice(numbers, 1, None), numbers)]
            positions, numbers = list(itertools.compress(positions, fresh)), list(itertools.compress(numbers, fresh))
        out.append((stream, positions, numbers))
    return out


def encode_seqs(numbers: list[int]) -> str:
    """Encode strictly ascending numbers: base64 of a MessagePack array of the first and the gaps (pure).

    ``[3, 4, 7]`` -> ``[3, 1, 3]``. MessagePack writes an integer below 128 as one byte, and both ways
    run in C (msgspec), with no Python loop per number.
    """
    if not numbers:
        return base64.b64encode(_encode_ints([])).decode()
    gaps = [numbers[0], *map(operator.sub, itertools.islice(numbers, 1, None), numbers)]
    return base64.b64encode(_encode_ints(gaps)).decode()


def window_body(
    *,
    agent: str,
    public_key: str,
    seq: int,
    prev: str | None,
    prev_index: str | None,
    index: str,
    events: Columns,
    at: Sequence[int] | None = None,
    delivered: dict[str, list[list[int]]] | None = None,
) -> dict[str, Any]:
    """Build the unsigned ``digest`` object of one window in format :data:`DIGEST_VERSION` (pure, deterministic).

    Events that carry a stream number are listed by position: per stream (sorted by name) its numbers
    in ascending order, as ``seqs`` (:func:`encode_seqs`: the first number and the gaps to the next,
    one byte each while below 128: one stream's numbers in one events index are often every second or
    third, and a run of gaps of 1 compresses to almost nothing); the others (and a second event with a
    number already listed) by ``ids``, in delivery order, after them.
    ``hashes`` holds each listed event's hash cut to ``width`` bytes in that order, ``root`` the
    SHA-256 of the full hashes in that order, ``unknown`` the positions whose hash the agent could not
    know (:data:`UNKNOWN_HASH`). The work is done by C-level sorts and maps over the columns, not a
    Python loop per event: the agent seals every event it ships.

    Args:
        agent: the agent's key id.
        public_key: the agent's raw Ed25519 public key, base64 (verify uses it unless a key is pinned).
        seq: the digest's position in the agent's chain, from 1.
        prev: :func:`digest_hash` of the previous digest (``None`` for the first).
        prev_index: the index holding the previous digest.
        index: the events index every event belongs to.
        events: the covered events, in delivery order (or columns holding them).
        at: the covered events' positions in ``events``, in delivery order (``None``: all of them); the
            agent's seal passes each window's positions rather than copying every column.
        delivered: per stream (at least those of these events), every sequence range this agent has
            delivered so far (this digest included). It outlives expired digests: a hole in it is a
            line that never arrived, while numbers that expired with their day are still accounted for.

    Returns:
        The ``digest`` object.
    """
    count = len(events.hashes) if at is None else len(at)

    def column(values: list[Any]) -> list[Any]:
        return values if at is None else list(map(values.__getitem__, at))

    streams, seqs = column(events.streams), column(events.seqs)
    listed: list[int] = []
    runs: dict[str, dict[str, Any]] = {}
    for stream, positions, numbers in by_stream(streams, seqs):
        known = (delivered or {}).get(stream)
        runs[stream] = {"seqs": encode_seqs(numbers),
                        "delivered": known if known is not None else _ascending_ranges(numbers)}
        listed += positions
    by_id = sorted(set(range(count)).difference(listed)) if len(listed) < count else []
    if at is not None:  # positions in the window -> positions in the columns
        listed, by_id = list(map(at.__getitem__, listed)), list(map(at.__getitem__, by_id))
    full = list(map(events.hashes.__getitem__, listed + by_id))
    times = events.times if at is None else list(map(events.times.__getitem__, at))
    return {
        "v": DIGEST_VERSION,
        "agent": agent,
        "key": public_key,
        "seq": seq,
        "prev": prev,
        "prev_index": prev_index,
        "index": index,
        "count": count,
        "first": min(times) if times else None,
        "last": max(times) if times else None,
        "streams": runs,
        "ids": list(map(events.ids.__getitem__, by_id)),
        "width": SHORT_HASH_BYTES,
        "hashes": base64.b64encode(b"".join(map(_short, full))).decode(),
        "unknown": [i for i, h in enumerate(full) if h == UNKNOWN_HASH] if UNKNOWN_HASH in full else [],
        "root": hash_root(full),
    }

def stream_ranges(streams: Sequence[str | None], seqs: Sequence[int | None]) -> dict[str, list[list[int]]]:
    """Per stream the sequence ranges of the numbered events among ``streams``/``seqs`` (pure)."""
    return {stream: _ascending_ranges(numbers) for stream, _positions, numbers in by_stream(streams, seqs)}
