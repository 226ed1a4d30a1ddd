"""Tamper evidence, the shared definitions: the event hash, the digest document and its signature.

Written by the agent (:mod:`agent.digest`) and checked by :mod:`indexer.verify`; both read every rule
from here so the two can never disagree.

- **Event hash**: SHA-256 of the exact ``_source`` bytes shipped (the bulk document, which for an
  emitter line is the line itself). Elasticsearch stores ``_source`` as sent and returns it byte for
  byte in a search response without ``filter_path``, so :mod:`indexer.verify` hashes the same bytes.
- **Digest**: one document per window (one events index, at most ``max_events`` events) listing the
  covered events, per emitter stream the sequence ranges it covers and the ranges the agent delivered
  so far (the newest :data:`HISTORY_HOLES` holes, and back to its own: :func:`recent_ranges`), the events' time
  span, and the link to the previous digest of the same agent (``prev`` = :func:`digest_hash` of it),
  signed with the agent's Ed25519 key over :func:`signed_bytes`. Format 3
  (:data:`DIGEST_VERSION`, ``"v": 3``) lists numbered events by their stream position (per stream the
  numbers as MessagePack gaps) and the rest by id, each with the first :data:`SHORT_HASH_BYTES` bytes
  of its hash, plus a ``root`` over the full hashes; format 2 (``"v": 2``) had the numbers as varint
  runs and 4-byte hashes, format 1 (no ``v``) every id with its full hash. :func:`digest_listing`
  reads all three, and one agent's chain may hold all three.
- **Names**: digests of events index ``<prefix>-<class>-<day>`` go to
  :meth:`~indexer.tiers.TierTable.digest_index_for_day` (``<prefix>.digest-<class>-<day>``) with
  ``_id`` = :func:`digest_id`; they are kept one day longer than the events (:data:`DIGEST_EXTRA_DAYS`).
"""

from __future__ import annotations

import base64
import binascii
import bisect
import hashlib
import itertools
import operator
import struct
from collections.abc import Iterable, Sequence
from typing import Any, Literal, NamedTuple

import msgspec
import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from auditlog.core.ranges import ascending_ranges

try:  # built by pip install (optional: without a C compiler the install goes on and Python does the same work)
    from auditlog.indexer import _layout
except ImportError:  # pragma: no cover - only where the extension could not be built
    _layout = None  # type: ignore[assignment]
#: whether the seal's bookkeeping (:func:`seal_layout`, :func:`window_layout`, :func:`stream_ranges`) runs in C here
NATIVE_LAYOUT = _layout is not None

#: digests outlive the events they cover by this many days, so an expired day still has its proof.
DIGEST_EXTRA_DAYS = 1
#: length of an event hash in bytes (SHA-256).
HASH_BYTES = 32
#: the digest format the agent writes (1: ids and full hashes; 2: positions as runs, 4-byte hashes and a
#: root; 3: positions as gaps, 2-byte hashes and a root).
DIGEST_VERSION = 3
#: bytes of each event's hash a format-3 digest lists. They only name which event changed: a random edit
#: keeps them with odds of 1 in 65,536, and then verify names the window, not the event. The ``root``
#: over the full hashes is what proves the window. Format 2 listed 4 bytes, which do not compress: as
#: stored they made digests 1.46 % of the events' bytes.
SHORT_HASH_BYTES = 2
#: the hash a digest lists for an event Elasticsearch answered 409 (already stored by an earlier attempt
#: of a crashed run): the agent's re-sent bytes differ (``event.ingested``, ``agent.ephemeral_id``) and
#: it may not read the stored ones, so the digest proves the event's presence, not its content.
UNKNOWN_HASH = bytes(HASH_BYTES)


def event_hash(source: bytes | memoryview) -> bytes:
    """Return the canonical hash of one event: SHA-256 of its exact ``_source`` bytes.

    Args:
        source: the document as shipped to (and returned by) Elasticsearch.

    Returns:
        32 bytes.
    """
    return hashlib.sha256(source).digest()


def key_id(public_raw: bytes) -> str:
    """Return the short id of an agent's public key (first 16 hex digits of its SHA-256)."""
    return hashlib.sha256(public_raw).hexdigest()[:16]


def digest_id(agent: str, seq: int) -> str:
    """Return the ``_id`` of an agent's ``seq``-th digest (create-only: a second write is a 409)."""
    return f"{agent}-{seq:012d}"


def seq_ranges(seqs: Iterable[int]) -> list[list[int]]:
    """Compress sequence numbers into sorted inclusive ``[first, last]`` ranges (pure)."""
    return ascending_ranges(sorted(set(seqs)))


def merge_ranges(*parts: list[list[int]]) -> list[list[int]]:
    """Union of inclusive ``[first, last]`` range lists, merged where they touch or overlap (pure)."""
    out: list[list[int]] = []
    for a, b in sorted((int(r[0]), int(r[1])) for part in parts for r in part):
        if out and a <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return out


#: holes of a stream's earlier history a digest carries at most besides its own events' ranges (see
#: :func:`recent_ranges`): about 16 bytes each, so a stream with many lost lines no longer grows every digest
HISTORY_HOLES = 1000
#: holes of a stream's history the agent keeps (``digest_streams``), so a seal of an old number (a dead letter
#: replayed, a file caught up on late) can carry the ranges around it
HISTORY_REACH = 10 * HISTORY_HOLES


def recent_ranges(delivered: list[list[int]], own: list[list[int]], limit: int = HISTORY_HOLES) -> list[list[int]]:
    """What a digest carries of a stream's delivered ranges: the newest history, from its own oldest number on.

    Every digest used to carry every range delivered so far, so each hole (a line that never arrived) made
    every later digest of the stream 16 bytes longer, without bound: 100,000 dead-lettered lines of one
    stream made each digest 1.7 MB, and ``verify`` merged all of it once per digest. Now a digest carries the
    stream's newest ``limit + 1`` ranges (``limit`` holes), and when its own events lie further back (an old dead
    letter replayed), every range from the one holding its oldest number on: so the ranges around its numbers
    are carried too, and no hole is made up there. Nothing is claimed that was not delivered (the result is a
    suffix of ``delivered``), each delivered number is in the digest that sealed it, so the union ``verify``
    takes over the digests it reads is exact while they last. What is given up: once the digests of a stretch
    have expired, holes older than the newest ``limit`` are no longer remembered by later digests, so ``verify``
    sees numbers there as outside its digests (neither delivered nor a gap), or, where more than ``limit``
    holes lie between surviving digests, as one gap; so too around a number sealed more than
    :data:`HISTORY_REACH` holes after its neighbours (which the agent no longer remembers). Pure.

    Args:
        delivered: the ranges delivered so far as the agent remembers them, the seal's own merged in (ascending).
        own: the ranges of the numbers this seal covers (within ``delivered``).
        limit: holes of the history carried at least (more when ``own`` reaches further back).

    Returns:
        A suffix of ``delivered``.
    """
    start = max(0, len(delivered) - (limit + 1))
    if own and start and own[0][0] < delivered[start][0]:
        # the range holding the seal's oldest number (delivered holds every own number)
        start = bisect.bisect_right(delivered, own[0][0], key=operator.itemgetter(0)) - 1
    return delivered[max(start, 0):]


def holes(ranges: list[list[int]]) -> list[tuple[int, int]]:
    """Return the inclusive ``(first, last)`` runs missing between merged ranges (pure)."""
    return [(x[1] + 1, y[0] - 1) for x, y in itertools.pairwise(ranges) if y[0] > x[1] + 1]


class Record(NamedTuple):
    """What a digest keeps of one delivered event (one event's row of :class:`Columns`)."""

    events_index: str
    id: str
    hash: bytes
    timestamp: str
    stream: str | None = None
    seq: int | None = None


class Columns(NamedTuple):
    """What digests keep of delivered events, one list per field: the agent's hot path makes no object per event."""

    indices: list[str]
    ids: list[str]
    hashes: list[bytes]
    times: list[str]
    streams: list[str | None]
    seqs: list[int | None]

    @classmethod
    def of(cls, records: Iterable[Record]) -> Columns:
        """Turn records into columns."""
        rows = list(records)
        if not rows:
            return cls([], [], [], [], [], [])
        indices, ids, hashes, times, streams, seqs = map(list, zip(*rows, strict=True))
        return cls(indices, ids, hashes, times, streams, seqs)

    @classmethod
    def joined(cls, parts: list[Columns]) -> Columns:
        """Concatenate columns in order."""
        if len(parts) == 1:
            return parts[0]
        out: list[list[Any]] = [[], [], [], [], [], []]
        for part in parts:
            for mine, theirs in zip(out, part, strict=True):
                mine += theirs  # type: ignore[arg-type]  # a NamedTuple's items are typed object when iterated
        return cls(*out)

    def pick(self, positions: Sequence[int]) -> Columns:
        """The events at ``positions``, in that order."""
        picked: list[list[Any]] = [list(map(column.__getitem__, positions)) for column in self]
        return Columns(*picked)

    def records(self) -> list[Record]:
        """The same events as records."""
        return [Record(*row) for row in zip(*self, strict=True)]


def stream_ranges(streams: Sequence[str | None], seqs: Sequence[int | None]) -> dict[str, list[list[int]]]:
    """Per stream the sequence ranges of the numbered events among ``streams``/``seqs`` (pure)."""
    found = _layout.ranges(streams, seqs) if _layout is not None else None
    return dict(found) if found is not None else stream_ranges_py(streams, seqs)


def stream_ranges_py(streams: Sequence[str | None], seqs: Sequence[int | None]) -> dict[str, list[list[int]]]:
    """The reference for :func:`stream_ranges` (which runs in C where ``_layout`` is built and reads the columns)."""
    return {stream: ascending_ranges(numbers) for stream, _positions, numbers in by_stream(streams, seqs)}


class Layout(NamedTuple):
    """What one digest window lists, in its order (:func:`window_layout`)."""

    runs: list[tuple[str, list[int]]]  # per stream, by name: its first number, then the gap to each next (ascending)
    by_id: list[int]  # column positions of every other event, in window order
    joined: bytes  # the full hashes of the numbered events (stream by stream), then of the others, end to end
    first: str | None  # the smallest timestamp (None for an empty window)
    last: str | None  # the largest


def window_layout(events: Columns, at: Sequence[int] | None = None) -> Layout:
    """Lay out one window's events as a digest lists them (pure; see :func:`window_body` for the rules).

    One C call (``_layout.window``) where the extension is built and reads the columns exactly, else
    :func:`window_layout_py`; tests/indexer/test_layout.py holds the two equal on any columns.

    Raises:
        ValueError: when a listed hash is not :data:`HASH_BYTES` long.
        IndexError: when a position is outside the columns.
    """
    if _layout is not None:
        if at is None:  # the reference reads whole columns then: the C side only columns of one length
            even = len(events.hashes) == len(events.streams) == len(events.seqs) == len(events.times)
            laid = _layout.window(None, 0, len(events.hashes), events.streams, events.seqs, events.hashes,
                                  events.times) if even else None
        elif type(at) is range and at.step == 1:
            laid = _layout.window(None, at.start, at.stop, events.streams, events.seqs, events.hashes, events.times)
        else:
            laid = _layout.window(at, 0, 0, events.streams, events.seqs, events.hashes, events.times)
        if laid is not None:
            return Layout(*laid)
    return window_layout_py(events, at)


def window_layout_py(events: Columns, at: Sequence[int] | None = None) -> Layout:
    """The reference for :func:`window_layout`: C-level sorts and maps over the columns (:func:`by_stream`).

    Raises:
        ValueError: when a listed hash is not :data:`HASH_BYTES` long.
    """
    count = len(events.hashes) if at is None else len(at)

    def column(values: list[Any]) -> list[Any]:
        return values if at is None else list(map(values.__getitem__, at))

    runs: list[tuple[str, list[int]]] = []
    listed: list[int] = []
    for stream, positions, numbers in by_stream(column(events.streams), column(events.seqs)):
        runs.append((stream, _gaps(numbers)))
        listed += positions
    by_id = sorted(set(range(count)).difference(listed)) if len(listed) < count else []
    if at is not None:  # positions in the window -> positions in the columns
        listed, by_id = list(map(at.__getitem__, listed)), list(map(at.__getitem__, by_id))
    joined = b"".join(map(events.hashes.__getitem__, listed + by_id))
    if len(joined) != HASH_BYTES * count:
        raise ValueError("an event hash is not 32 bytes")
    # sorted, not min() and max(): times come nearly in order, so the sort is about one pass of its
    # specialised string compare, about half the instructions of the two generic scans
    times = sorted(events.times if at is None else map(events.times.__getitem__, at))
    return Layout(runs, by_id, joined, times[0] if times else None, times[-1] if times else None)


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
    names = set(streams)  # also answers whether a stream is missing, without a second scan of the column
    if None in names or None in seqs:  # other producers' events carry no number
        numbered = [i for i in range(count) if streams[i] is not None and seqs[i] is not None]
        names = set(map(streams.__getitem__, numbered))
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
        # a group as long as the columns is every event in order (the usual seal: one emitter, all numbered)
        numbers: list[int] = list(seqs) if len(positions) == count else list(map(get_seq, positions))  # type: ignore[arg-type]
        if not all(map(operator.lt, numbers, itertools.islice(numbers, 1, None))):  # not shipped in order
            positions.sort(key=get_seq)  # type: ignore[arg-type]  # stable: the first under a number stays first
            numbers = list(map(get_seq, positions))  # type: ignore[arg-type]
            fresh = [True, *map(operator.ne, itertools.islice(numbers, 1, None), numbers)]
            positions, numbers = list(itertools.compress(positions, fresh)), list(itertools.compress(numbers, fresh))
        out.append((stream, positions, numbers))
    return out


def per_index(indices: list[str]) -> list[tuple[str, Sequence[int]]]:
    """Group event positions by events index, each group in delivery order (pure; C-level sort, no loop per event).

    Args:
        indices: the events index of each event, in delivery order.

    Returns:
        ``(index, positions)`` per index, by index name.
    """
    names = dict.fromkeys(indices)
    if len(names) <= 1:
        return [(name, range(len(indices))) for name in names]
    rank = {name: n for n, name in enumerate(sorted(names))}
    codes = list(map(rank.__getitem__, indices))
    order = sorted(range(len(indices)), key=codes.__getitem__)  # stable: delivery order within an index
    return [(name, list(group)) for name, group in zip(sorted(names), (
        list(g) for _code, g in itertools.groupby(order, key=codes.__getitem__)), strict=True)]


class Sealed(NamedTuple):
    """A seal's windows laid out, and its streams' ranges (:func:`seal_layout`)."""

    windows: list[tuple[str, int, Layout]]  # (events index, count, layout) per window, in chain order
    ranges: dict[str, list[list[int]]]  # per stream, by name, the ranges of its numbers (:func:`stream_ranges`)
    ids: Sequence[str]  # the seal's ids end to end, which the layouts' ``by_id`` positions point into


def seal_layout(parts: list[Columns], step: int) -> Sealed:
    """Cut a seal's events into digest windows and lay each out: per events index (by name), ``step`` at a time.

    One C call (``_layout.seal``: one pass over the column parts as they were loaded, where a call per
    window reads the events' objects index by index and joining the parts touches each of them again)
    where the extension is built and reads the columns exactly, else :func:`seal_layout_py` over the parts
    joined; tests/indexer/test_layout.py holds the two equal.

    Args:
        parts: the seal's events in delivery order, as column parts (the pending rows' columns).
        step: the most events a window lists (:attr:`agent.digest_writer.DigestSettings.max_events`), at least 1.

    Returns:
        ``(index, count, layout)`` per window, in the order the writer chains them, the streams' ranges over
        every event (:func:`stream_ranges`), and the ids the layouts point into.

    Raises:
        ValueError: when a hash is not :data:`HASH_BYTES` long, or ``step`` is below 1.
    """
    if step < 1:
        raise ValueError("a window lists at least one event")
    native = _layout is not None and all(type(part) is Columns for part in parts)  # what the reference reads too
    laid = _layout.seal(parts, step) if native else None
    if laid is None:
        return seal_layout_py(Columns.joined(parts), step)
    windows = [(index, count, Layout(*layout)) for index, count, layout in laid[0]]
    by_id = any(layout.by_id for _index, _count, layout in windows)  # only events without a stream number
    return Sealed(windows, dict(laid[1]), [i for part in parts for i in part.ids] if by_id else [])


def seal_layout_py(events: Columns, step: int) -> Sealed:
    """The reference for :func:`seal_layout` over the parts joined: :func:`per_index`, cut ``step`` at a time,
    each :func:`window_layout_py`, and :func:`stream_ranges_py`."""
    return Sealed([(index, len(chunk), window_layout_py(events, chunk))
                   for index, positions in per_index(events.indices)
                   for chunk in (positions[start:start + step] for start in range(0, len(positions), step))],
                  stream_ranges_py(events.streams, events.seqs), events.ids)


def digest_body(
    *,
    agent: str,
    public_key: str,
    seq: int,
    prev: str | None,
    prev_index: str | None,
    index: str,
    records: list[Record],
    delivered: dict[str, list[list[int]]] | None = None,
) -> dict[str, Any]:
    """Build the unsigned ``digest`` object of one window from records (see :func:`window_body`).

    Args:
        agent: the agent's key id.
        public_key: the agent's raw Ed25519 public key, base64.
        seq: the digest's position in the agent's chain, from 1.
        prev: :func:`digest_hash` of the previous digest (``None`` for the first).
        prev_index: the index holding the previous digest.
        index: the events index every record belongs to.
        records: the covered events, in delivery order.
        delivered: per stream, every sequence range this agent has delivered so far.

    Returns:
        The ``digest`` object.
    """
    return window_body(agent=agent, public_key=public_key, seq=seq, prev=prev, prev_index=prev_index, index=index,
                       events=Columns.of(records), delivered=delivered)


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
    know (:data:`UNKNOWN_HASH`). The columns are laid out by :func:`window_layout` (one C call where the
    extension is built, else C-level sorts and maps), not a Python loop per event: the agent seals every
    event it ships.

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
        delivered: per stream (at least those of these events), the sequence ranges this agent has
            delivered so far (this digest included; the agent bounds them with :func:`recent_ranges`). It outlives
            expired digests: a hole in it is a
            line that never arrived, while numbers that expired with their day are still accounted for.

    Returns:
        The ``digest`` object.

    Raises:
        ValueError: when a listed hash is not :data:`HASH_BYTES` long (the short hashes are cut from
            the hashes laid end to end).
    """
    count = len(events.hashes) if at is None else len(at)
    return layout_body(agent=agent, public_key=public_key, seq=seq, prev=prev, prev_index=prev_index, index=index,
                       count=count, laid=window_layout(events, at), ids=events.ids, delivered=delivered)


def layout_body(
    *,
    agent: str,
    public_key: str,
    seq: int,
    prev: str | None,
    prev_index: str | None,
    index: str,
    count: int,
    laid: Layout,
    ids: Sequence[str],
    delivered: dict[str, list[list[int]]] | None = None,
) -> dict[str, Any]:
    """Build the unsigned ``digest`` object of one window already laid out (:func:`window_body` has the rules).

    Args:
        agent, public_key, seq, prev, prev_index, index: the window's place in the chain, as for :func:`window_body`.
        count: how many events the window covers.
        laid: the window's events as :func:`window_layout` or :func:`seal_layout` lays them out.
        ids: the ids column the layout's ``by_id`` positions point into.
        delivered: per stream, the sequence ranges this agent has delivered so far (see :func:`window_body`).

    Returns:
        The ``digest`` object.
    """
    runs: dict[str, dict[str, Any]] = {}
    for stream, gaps in laid.runs:
        known = (delivered or {}).get(stream)
        runs[stream] = {"seqs": encode_gaps(gaps),
                        "delivered": known if known is not None else ascending_ranges(list(itertools.accumulate(gaps)))}
    joined = laid.joined  # one copy serves the short hashes, the unknown ones and the root
    return {
        "v": DIGEST_VERSION,
        "agent": agent,
        "key": public_key,
        "seq": seq,
        "prev": prev,
        "prev_index": prev_index,
        "index": index,
        "count": count,
        "first": laid.first,
        "last": laid.last,
        "streams": runs,
        "ids": list(map(ids.__getitem__, laid.by_id)),
        "width": SHORT_HASH_BYTES,
        "hashes": base64.b64encode(_short_hashes(joined)).decode(),
        "unknown": _unknown_positions(joined),
        "root": hash_root((joined,)),  # the hashes already joined: a one-item join hands them back uncopied
    }


#: a native memoryview item as wide as a short hash ("H": 2 bytes)
_SHORT_FORMAT: Literal["H"] = "H"
if struct.calcsize(_SHORT_FORMAT) != SHORT_HASH_BYTES:  # SHORT_HASH_BYTES changed: pick the format of that width
    raise ImportError("_SHORT_FORMAT is not SHORT_HASH_BYTES wide")


def _short_hashes(joined: bytes) -> bytes:
    """The first :data:`SHORT_HASH_BYTES` of each hash in ``joined`` (full hashes end to end), concatenated.

    One strided copy in C: viewed as items of the short width, a hash's first item is every
    ``HASH_BYTES // SHORT_HASH_BYTES``-th, and the copy takes their bytes as they are (no byte order
    applies). It replaces cutting a bytes object per event and joining those.
    """
    return bytes(memoryview(joined).cast(_SHORT_FORMAT)[::HASH_BYTES // SHORT_HASH_BYTES])


def _unknown_positions(joined: bytes) -> list[int]:
    """The positions of :data:`UNKNOWN_HASH` among ``joined`` (full hashes end to end).

    A substring search rules them out in one C-level pass; a hit (almost always an unknown hash, rarely
    zeros across two hashes) is confirmed hash by hash.
    """
    if joined.find(UNKNOWN_HASH) < 0:
        return []
    return [i for i in range(len(joined) // HASH_BYTES)
            if joined[i * HASH_BYTES:(i + 1) * HASH_BYTES] == UNKNOWN_HASH]


def encode_seqs(numbers: list[int]) -> str:
    """Encode strictly ascending numbers: base64 of a MessagePack array of the first and the gaps (pure).

    ``[3, 4, 7]`` -> ``[3, 1, 3]``. MessagePack writes an integer below 128 as one byte, and both ways
    run in C (msgspec), with no Python loop per number.
    """
    return encode_gaps(_gaps(numbers))


def encode_gaps(gaps: list[int]) -> str:
    """:func:`encode_seqs` of numbers given as the first and the gaps to each next one (what a layout holds)."""
    return base64.b64encode(_encode_ints(gaps)).decode()


def _gaps(numbers: list[int]) -> list[int]:
    """Ascending numbers as the first and the gap to each next one (``[3, 4, 7]`` -> ``[3, 1, 3]``)."""
    if not numbers:
        return []
    return [numbers[0], *map(operator.sub, itertools.islice(numbers, 1, None), numbers)]


def decode_seqs(text: str) -> list[int]:
    """Read :func:`encode_seqs` back into the numbers.

    Raises:
        ValueError: when the text is not base64 of a MessagePack array of a number >= 0 and gaps >= 1.
    """
    try:
        gaps = _decode_ints(base64.b64decode(text, validate=True))
    except msgspec.DecodeError as exc:
        raise ValueError(f"bad seqs: {exc}") from None
    if gaps and (gaps[0] < 0 or (len(gaps) > 1 and min(itertools.islice(gaps, 1, None)) < 1)):
        raise ValueError("seqs not strictly ascending")
    return list(itertools.accumulate(gaps))


_encode_ints = msgspec.msgpack.Encoder().encode
_decode_ints = msgspec.msgpack.Decoder(list[int]).decode


def encode_runs(ranges: list[list[int]]) -> str:
    """Encode sorted, disjoint ``[first, last]`` ranges compactly: base64 of LEB128 varints (format 2; pure).

    The numbers are the first range's start, then per range its length minus one and the distance
    from its end to the next range's start: ``[[3, 4], [7, 7]]`` -> 3, 1, 3, 0.
    """
    out = bytearray()
    previous = 0
    for a, b in ranges:
        for n in (a - previous, b - a):
            while n >= 0x80:
                out.append((n & 0x7F) | 0x80)
                n >>= 7
            out.append(n)
        previous = b
    return base64.b64encode(bytes(out)).decode()


def decode_runs(text: str) -> list[list[int]]:
    """Read :func:`encode_runs` back into ranges.

    Raises:
        ValueError: when the text is not base64 of complete varint pairs.
    """
    numbers: list[int] = []
    n = shift = 0
    for byte in base64.b64decode(text, validate=True):
        n |= (byte & 0x7F) << shift
        if byte & 0x80:
            shift += 7
            continue
        numbers.append(n)
        n = shift = 0
    if shift or len(numbers) % 2:
        raise ValueError("truncated runs")
    ranges: list[list[int]] = []
    previous = 0
    for i in range(0, len(numbers), 2):
        a = previous + numbers[i]
        b = a + numbers[i + 1]
        if ranges and a <= previous:
            raise ValueError("runs overlap")
        ranges.append([a, b])
        previous = b
    return ranges


def hash_root(hashes: Iterable[bytes]) -> str:
    """Return a v2/v3 digest's ``root``: hex SHA-256 of the listed events' full hashes, concatenated in order."""
    return hashlib.sha256(b"".join(hashes)).hexdigest()


class Listing(NamedTuple):
    """What one digest lists, position by position (both formats): where each event is and its signed hash.

    Positions ``0 .. numbered - 1`` are stream numbers (``runs``), the rest are ``ids`` in order.
    """

    runs: list[tuple[str, int, int, int]]  # (stream, first seq, last seq, position of first), by stream
    ids: list[str]
    hashes: bytes  # ``width`` bytes per position
    width: int
    unknown: frozenset[int]
    root: str | None  # v2, v3: the full hashes' root; v1 lists full hashes (None)

    @property
    def numbered(self) -> int:
        """How many positions are stream numbers (the runs are in position order: where the last one ends)."""
        if not self.runs:
            return 0
        _s, a, b, at = self.runs[-1]
        return at + b - a + 1

    def __len__(self) -> int:
        return self.numbered + len(self.ids)

    def signed(self, position: int) -> bytes:
        """The signed (possibly shortened) hash at ``position``."""
        return self.hashes[position * self.width:(position + 1) * self.width]

    def where(self, position: int) -> str:
        """Name the event at ``position``: ``stream S seq N`` or its id."""
        if position >= self.numbered:
            return self.ids[position - self.numbered]
        # bisected, not a walk over the runs: verify names every unseen position, and a digest (a forged one
        # too) may hold a run per event: a walk made that quadratic (40,000 runs: minutes)
        i = bisect.bisect_right(self.runs, position, key=operator.itemgetter(3)) - 1
        if i >= 0 and position >= 0:
            stream, a, b, at = self.runs[i]
            if position <= at + b - a:
                return f"stream {stream} seq {a + position - at}"
        raise IndexError(position)


def digest_listing(digest: dict[str, Any]) -> Listing:
    """Read what a digest (format 1, 2 or 3) lists.

    Format 1 (no ``v``) lists every event by id with its full hash; format 3 see :func:`window_body`;
    format 2 is format 3 with each stream's numbers as ``runs`` (:func:`encode_runs`) instead of ``seqs``.

    Raises:
        ValueError: when ``hashes`` does not hold one hash per listed event (or the fields are malformed).
    """
    version = digest.get("v", 1)
    raw = base64.b64decode(digest["hashes"], validate=True)
    ids = [str(i) for i in digest["ids"]]
    if version == 1:
        if len(raw) != HASH_BYTES * len(ids):
            raise ValueError("hashes do not match ids")
        unknown = frozenset(i for i in range(len(ids)) if raw[i * HASH_BYTES:(i + 1) * HASH_BYTES] == UNKNOWN_HASH)
        return Listing([], ids, raw, HASH_BYTES, unknown, None)
    if version not in (2, 3):
        raise ValueError(f"unknown digest format {version}")
    width = int(digest["width"])
    if not 1 <= width <= HASH_BYTES:
        raise ValueError("bad hash width")
    runs: list[tuple[str, int, int, int]] = []
    at = 0
    for stream, info in sorted(digest["streams"].items()):
        ranges = decode_runs(info["runs"]) if version == 2 else ascending_ranges(decode_seqs(info["seqs"]))
        for a, b in ranges:
            if b < a:
                raise ValueError("bad seq range")
            runs.append((str(stream), a, b, at))
            at += b - a + 1
    if len(raw) != width * (at + len(ids)):
        raise ValueError("hashes do not match the listed events")
    listed = at + len(ids)  # a position outside the listing (only a forged digest names one) is no position
    unknown = frozenset(p for i in digest.get("unknown") or () if 0 <= (p := int(i)) < listed)
    return Listing(runs, ids, raw, width, unknown, str(digest["root"]))


def signed_bytes(digest: dict[str, Any]) -> bytes:
    """Return the bytes a digest's signature covers: its ``digest`` object as sorted-key compact JSON."""
    return orjson.dumps(digest, option=orjson.OPT_SORT_KEYS)


def digest_hash(digest: dict[str, Any]) -> str:
    """Return the chain link to a digest: hex SHA-256 of :func:`signed_bytes`."""
    return hashlib.sha256(signed_bytes(digest)).hexdigest()


def digest_hashes(digest: dict[str, Any]) -> list[bytes]:
    """Split a digest's ``hashes`` field into the signed per-event hashes, position by position.

    Raises:
        ValueError: when the field does not hold one hash per listed event.
    """
    listing = digest_listing(digest)
    return [listing.signed(i) for i in range(len(listing))]


def load_public_keys(pem: bytes) -> list[bytes]:
    """Read one or more PEM public keys (``auditlog agent key --public`` output) as raw Ed25519 keys.

    Raises:
        ValueError: when no Ed25519 public key is found.
    """
    keys = []
    marker = b"-----END PUBLIC KEY-----"
    for chunk in pem.split(marker):
        if b"-----BEGIN PUBLIC KEY-----" not in chunk:
            continue
        key = serialization.load_pem_public_key(chunk + marker + b"\n")
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("not an Ed25519 public key")
        keys.append(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))
    if not keys:
        raise ValueError("no PEM public key found")
    return keys


def signature_problem(body: dict[str, Any], signature: Any, pinned: list[bytes] | None) -> str | None:
    """Return why a digest's signature does not hold, or ``None`` when it does.

    Args:
        body: the ``digest`` object.
        signature: the document's ``signature`` (base64).
        pinned: raw public keys the digest must be signed with (``None``: the key the digest names).

    Returns:
        ``None``, or one line (bad signature, unpinned key, id not matching the key).
    """
    try:
        key = base64.b64decode(body["key"], validate=True)
        sig = base64.b64decode(signature, validate=True)
    except (KeyError, binascii.Error, TypeError, ValueError):
        return "no readable public key or signature"
    if pinned is not None and key not in pinned:
        return "signed by a key that is not pinned (--pubkey)"
    if key_id(key) != body.get("agent"):
        return "agent id does not match its public key"
    try:
        Ed25519PublicKey.from_public_bytes(key).verify(sig, signed_bytes(body))
    except (InvalidSignature, ValueError):
        return "bad signature"
    return None
