"""Tamper evidence, the shared definitions: the event hash, the digest document and its signature.

Written by the agent (:mod:`agent.digest`) and checked by :mod:`indexer.verify`; both read every rule
from here so the two can never disagree.

- **Event hash**: SHA-256 of the exact ``_source`` bytes shipped (the bulk document, which for an
  emitter line is the line itself). Elasticsearch stores ``_source`` as sent and returns it byte for
  byte in a search response without ``filter_path``, so :mod:`indexer.verify` hashes the same bytes.
- **Digest**: one document per window (one events index, at most ``max_events`` events) listing the
  covered event ids and hashes in delivery order, per emitter stream the sequence ranges it covers and
  all ranges the agent delivered so far, the events' time span, and the link to the previous digest
  of the same agent (``prev`` = :func:`digest_hash` of it), signed with the agent's Ed25519 key over
  :func:`signed_bytes`.
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
    """Build the unsigned ``digest`` object of one window (pure, deterministic).

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
    streams: dict[str, list[int]] = {}
    for r in records:
        if r.stream is not None and r.seq is not None:
            streams.setdefault(r.stream, []).append(r.seq)
    stamps = [r.timestamp for r in records]
    return {
        "agent": agent,
        "key": public_key,
        "seq": seq,
        "prev": prev,
        "prev_index": prev_index,
        "index": index,
        "count": len(records),
        "first": min(stamps) if stamps else None,
        "last": max(stamps) if stamps else None,
        "ids": [r.id for r in records],
        "hashes": base64.b64encode(b"".join(r.hash for r in records)).decode(),
        "streams": {s: {"seqs": seq_ranges(v), "delivered": (delivered or {}).get(s, seq_ranges(v))}
                    for s, v in sorted(streams.items())},
    }


def signed_bytes(digest: dict[str, Any]) -> bytes:
    """Return the bytes a digest's signature covers: its ``digest`` object as sorted-key compact JSON."""
    return orjson.dumps(digest, option=orjson.OPT_SORT_KEYS)


def digest_hash(digest: dict[str, Any]) -> str:
    """Return the chain link to a digest: hex SHA-256 of :func:`signed_bytes`."""
    return hashlib.sha256(signed_bytes(digest)).hexdigest()


def digest_hashes(digest: dict[str, Any]) -> list[bytes]:
    """Split a digest's ``hashes`` field into the per-event hashes (in ``ids`` order).

    Raises:
        ValueError: when the field is not base64 of ``count`` hashes.
    """
    raw = base64.b64decode(digest["hashes"], validate=True)
    if len(raw) != HASH_BYTES * len(digest["ids"]):
        raise ValueError("hashes do not match ids")
    return [raw[i:i + HASH_BYTES] for i in range(0, len(raw), HASH_BYTES)]


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
