"""One event's proof: the hash of its stored bytes and the signed digest that lists it (TUI, exports)."""

from __future__ import annotations

import binascii
from dataclasses import dataclass

from elasticsearch import Elasticsearch

from auditlog.indexer.integrity import digest_hashes, event_hash, signature_problem
from auditlog.indexer.rawsource import scan
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
        return "proven" if self.signed_hash == self.hash else "altered"

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
    stamp: str | None = None
    for hits, spans in scan(client, tiers.read_pattern, {"ids": {"values": [event_id]}}):
        for h, span in zip(hits, spans, strict=True):
            index = h["_index"]
            found = event_hash(span).hex() if span is not None else None
            value = (h.get("_source") or {}).get("@timestamp")
            stamp = value if isinstance(value, str) else None
    if index is None or stamp is None:
        return Proof(event_id, index, found)
    # digest ids are not indexed (they are most of a digest's size): find the windows around the event
    parsed = tiers.parse_index(index)
    where = tiers.digest_index_for_day(*parsed) if parsed is not None else tiers.digest_pattern
    near = {"bool": {"filter": [{"term": {"digest.index": index}}, {"range": {"digest.first": {"lte": stamp}}},
                                {"range": {"digest.last": {"gte": stamp}}}]}}
    for hits, _spans in scan(client, where, near):
        for h in hits:
            body = (h.get("_source") or {}).get("digest") or {}
            ids = list(body.get("ids") or [])
            if event_id not in ids:
                continue
            try:
                signed = digest_hashes(body)[ids.index(event_id)].hex()
            except (ValueError, KeyError, binascii.Error):
                signed = None
            why = signature_problem(body, (h.get("_source") or {}).get("signature"), pubkeys)
            return Proof(event_id, index, found, h["_id"], signed, str(body.get("agent")), body.get("seq"), why)
    return Proof(event_id, index, found)
