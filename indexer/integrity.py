"""Tamper evidence, the shared definitions: the event hash, the digest document and its signature.

Written by the agent (:mod:`agent.digest`) and checked by :mod:`indexer.verify`; both read every rule
from here so the two can never disagree.

- **Event hash**: SHA-256 of the exact ``_source`` bytes shipped (the bulk document, which for an
  emitter line is the line itself). Elasticsearch stores ``_source`` as sent and returns it byte for
  byte in a search response without ``filter_path``, so :mod:`indexer.verify` hashes the same bytes.
- **Digest**: one document per window (one events index, at most ``max_events`` events) listing the
  covered events, per emitter stream the sequence ranges it covers and all ranges the agent delivered
  so far, the events' time span, and the link to the previous digest of the same agent (``prev`` =
  :func:`digest_hash` of it), signed with the agent's Ed25519 key over :func:`signed_bytes`. Format 2
  (:data:`DIGEST_VERSION`, ``"v": 2``) lists numbered events by their stream position and the rest by
  id, each with the first :data:`SHORT_HASH_BYTES` bytes of its hash, plus a ``root`` over the full
  hashes (about 5.3 bytes per event instead of ~80); format 1 (no ``v``, written before) listed every
  id with its full hash. :func:`digest_listing` reads both.
- **Names**: digests of events index ``<prefix>-<class>-<day>`` go to
  :meth:`~indexer.tiers.TierTable.digest_index_for_day` (``<prefix>.digest-<class>-<day>``) with
  ``_id`` = :func:`digest_id`; they are kept one day longer than the events (:data:`DIGEST_EXTRA_DAYS`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
from collections.abc import Iterable
from typing import Any, NamedTuple

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

#: digests outlive the events they cover by this many days, so an expired day still has its proof.
DIGEST_EXTRA_DAYS = 1
#: length of an event hash in bytes (SHA-256).
HASH_BYTES = 32
#: the digest format the agent writes (1: ids and full hashes; 2: positions, shortened hashes and a root).
DIGEST_VERSION = 2
#: bytes of each event's hash a format-2 digest lists: enough to name an edited event (a random edit
#: keeps them with odds of 1 in 4 billion); the ``root`` over the full hashes is what proves the window.
SHORT_HASH_BYTES = 4
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
    out: list[list[int]] = []
    for n in sorted(set(seqs)):
        if out and out[-1][1] == n - 1:
            out[-1][1] = n
        else:
            out.append([n, n])
    return out


def merge_ranges(*parts: list[list[int]]) -> list[list[int]]:
    """Union of inclusive ``[first, last]`` range lists, merged where they touch or overlap (pure)."""
    out: list[list[int]] = []
    for a, b in sorted((int(r[0]), int(r[1])) for part in parts for r in part):
        if out and a <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return out


def holes(ranges: list[list[int]]) -> list[tuple[int, int]]:
    """Return the inclusive ``(first, last)`` runs missing between merged ranges (pure)."""
    return [(x[1] + 1, y[0] - 1) for x, y in itertools.pairwise(ranges) if y[0] > x[1] + 1]


class Record(NamedTuple):
    """What a digest keeps of one delivered event (a tuple: the agent makes one per event)."""

    events_index: str
    id: str
    hash: bytes
    timestamp: str
    stream: str | None = None
    seq: int | None = None


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
    """Build the unsigned ``digest`` object of one window in format :data:`DIGEST_VERSION` (pure, deterministic).

    Events that carry a stream number are listed by position: per stream (sorted by name) its numbers
    in ascending order, as ``runs`` (:func:`encode_runs`: one stream's numbers in one events index are
    often every second or third, so a list of ranges would cost more than the hashes); the others
    (and a second event with a number already listed) by ``ids``, in delivery order, after them.
    ``hashes`` holds each listed event's hash cut to ``width`` bytes in that order, ``root`` the
    SHA-256 of the full hashes in that order, ``unknown`` the positions whose hash the agent could not
    know (:data:`UNKNOWN_HASH`).

    Args:
        agent: the agent's key id.
        public_key: the agent's raw Ed25519 public key, base64 (verify uses it unless a key is pinned).
        seq: the digest's position in the agent's chain, from 1.
        prev: :func:`digest_hash` of the previous digest (``None`` for the first).
        prev_index: the index holding the previous digest.
        index: the events index every record belongs to.
        records: the covered events, in delivery order.
        delivered: per stream of these records, every sequence range this agent has delivered so far
            (this digest included). It outlives expired digests: a hole in it is a line that never
            arrived, while numbers that expired with their day are still accounted for.

    Returns:
        The ``digest`` object.
    """
    numbered: dict[str, dict[int, Record]] = {}
    by_id: list[Record] = []
    for r in records:
        if r.stream is not None and r.seq is not None:
            slot = numbered.setdefault(r.stream, {})
            if r.seq not in slot:
                slot[r.seq] = r
                continue
        by_id.append(r)
    ordered: list[Record] = []
    streams: dict[str, dict[str, Any]] = {}
    for stream in sorted(numbered):
        slot = numbered[stream]
        seqs = sorted(slot)
        ordered += [slot[n] for n in seqs]
        ranges = seq_ranges(seqs)
        streams[stream] = {"runs": encode_runs(ranges), "delivered": (delivered or {}).get(stream, ranges)}
    ordered += by_id
    full = [r.hash for r in ordered]
    stamps = [r.timestamp for r in records]
    return {
        "v": DIGEST_VERSION,
        "agent": agent,
        "key": public_key,
        "seq": seq,
        "prev": prev,
        "prev_index": prev_index,
        "index": index,
        "count": len(records),
        "first": min(stamps) if stamps else None,
        "last": max(stamps) if stamps else None,
        "streams": streams,
        "ids": [r.id for r in by_id],
        "width": SHORT_HASH_BYTES,
        "hashes": base64.b64encode(b"".join([h[:SHORT_HASH_BYTES] for h in full])).decode(),
        "unknown": [i for i, h in enumerate(full) if h == UNKNOWN_HASH] if UNKNOWN_HASH in full else [],
        "root": hash_root(full),
    }


def encode_runs(ranges: list[list[int]]) -> str:
    """Encode sorted, disjoint ``[first, last]`` ranges compactly: base64 of LEB128 varints (pure).

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
    """Return a v2 digest's ``root``: hex SHA-256 of the listed events' full hashes, concatenated in order."""
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
    root: str | None  # v2: the full hashes' root; v1 lists full hashes (None)

    @property
    def numbered(self) -> int:
        """How many positions are stream numbers."""
        return sum(b - a + 1 for _s, a, b, _p in self.runs)

    def __len__(self) -> int:
        return self.numbered + len(self.ids)

    def signed(self, position: int) -> bytes:
        """The signed (possibly shortened) hash at ``position``."""
        return self.hashes[position * self.width:(position + 1) * self.width]

    def where(self, position: int) -> str:
        """Name the event at ``position``: ``stream S seq N`` or its id."""
        if position >= self.numbered:
            return self.ids[position - self.numbered]
        for stream, a, b, at in self.runs:
            if at <= position <= at + b - a:
                return f"stream {stream} seq {a + position - at}"
        raise IndexError(position)


def digest_listing(digest: dict[str, Any]) -> Listing:
    """Read what a digest (format 1 or 2) lists.

    Format 1 (no ``v``) lists every event by id with its full hash; format 2 see :func:`digest_body`.

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
    if version != DIGEST_VERSION:
        raise ValueError(f"unknown digest format {version}")
    width = int(digest["width"])
    if not 1 <= width <= HASH_BYTES:
        raise ValueError("bad hash width")
    runs: list[tuple[str, int, int, int]] = []
    at = 0
    for stream, info in sorted(digest["streams"].items()):
        for a, b in decode_runs(info["runs"]):
            if b < a:
                raise ValueError("bad seq range")
            runs.append((str(stream), a, b, at))
            at += b - a + 1
    if len(raw) != width * (at + len(ids)):
        raise ValueError("hashes do not match the listed events")
    return Listing(runs, ids, raw, width, frozenset(int(i) for i in digest.get("unknown") or ()),
                   str(digest["root"]))


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
