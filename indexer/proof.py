"""One event's proof: the hash of its stored bytes and the signed digest that lists it (TUI, exports)."""

from __future__ import annotations

import binascii
from dataclasses import dataclass

from elasticsearch import Elasticsearch

from auditlog.indexer.integrity import Listing, digest_listing, event_hash, signature_problem
from auditlog.indexer.rawsource import read_stamp, scan, scan_sources
from auditlog.indexer.tiers import TierTable


@dataclass(frozen=True)
class Proof:
    """Why one event is (or is not) proven: its hash now, and the signed digest that lists it."""

    event_id: str
    index: str | None
    hash: str | None
    digest_id: str | None = None
    signed_hash: str | None = None
    agent: str | None = None
    digest_seq: int | None = None
    signature: str | None = None

    @property
    def status(self) -> str:
        """``proven``, ``altered``, ``not yet in a digest``, ``missing`` or ``bad digest signature``."""
        if self.hash is None:
            return "missing"
        if self.digest_id is None:
            return "not yet in a digest"
        if self.signature:
            return "bad digest signature"
        # a format-2/3 digest signs the hash's first bytes (its root covers the rest; verify checks it)
        return "proven" if self.signed_hash and self.hash.startswith(self.signed_hash) else "altered"

    def pairs(self) -> list[tuple[str, str]]:
        """(label, value) rows for a detail view or an export's Metadata sheet."""
        rows = [("Proof", self.status), ("Event hash (SHA-256)", self.hash or "-")]
        if self.digest_id is not None:
            rows += [("Digest", f"{self.digest_id} (agent {self.agent}, seq {self.digest_seq})"),
                     ("Signed hash", self.signed_hash or "-")]
        if self.signature:
            rows.append(("Digest signature", self.signature))
        return rows


def event_proof(client: Elasticsearch, tiers: TierTable, event_id: str,
                pubkeys: list[bytes] | None = None) -> Proof:
    """Look up one event's stored bytes and the digest that lists it.

    Args:
        client: a client built with :func:`indexer.rawsource.raw_client_options`.
        tiers: the namespace.
        event_id: the event's ``_id``.
        pubkeys: pinned keys (``None``: the digest's own key).

    Returns:
        The proof (its ``status`` says whether it holds).
    """
    index: str | None = None
    found: str | None = None
    stamp = read_stamp(None)
    for page in scan_sources(client, tiers.read_pattern, {"ids": {"values": [event_id]}}):
        for hit in page:
            index = hit._index
            found = event_hash(hit._source).hex() if hit._source else None
            stamp = read_stamp(hit._source)
    if index is None or stamp.timestamp is None:
        return Proof(event_id, index, found)
    # digests are not searchable by event (their listings are most of their size): find the windows around it
    parsed = tiers.parse_index(index)
    where = tiers.digest_index_for_day(*parsed) if parsed is not None else tiers.digest_pattern
    near = {"bool": {"filter": [{"term": {"digest.index": index}},
                                {"range": {"digest.first": {"lte": stamp.timestamp}}},
                                {"range": {"digest.last": {"gte": stamp.timestamp}}}]}}
    for hits, _spans in scan(client, where, near):
        for h in hits:
            body = (h.get("_source") or {}).get("digest") or {}
            try:
                listing = digest_listing(body)
                position = _position(listing, event_id, stamp.stream, stamp.seq)
            except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
                continue
            if position is None:
                continue
            signed = None if position in listing.unknown else listing.signed(position).hex()
            why = signature_problem(body, (h.get("_source") or {}).get("signature"), pubkeys)
            return Proof(event_id, index, found, h["_id"], signed, str(body.get("agent")), body.get("seq"), why)
    return Proof(event_id, index, found)


def _position(listing: Listing, event_id: str, stream: str | None, seq: int | None) -> int | None:
    """Where a digest lists the event: by id, else by its stream number (``None``: not in this digest)."""
    if event_id in listing.ids:
        return listing.numbered + listing.ids.index(event_id)
    if stream is None or seq is None:
        return None
    for s, a, b, at in listing.runs:
        if s == stream and a <= seq <= b:
            return at + seq - a
    return None
