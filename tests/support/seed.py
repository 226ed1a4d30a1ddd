"""Bulk-index realistic audit events into a test namespace, fast, and remember what went in.

Events come from the product's own fabrication (``auditlog.demo.data.fabricate``) and go through the
agent's own enrichment stage (``agent.enrich.Enricher``: ``audit.changed_fields``, ECS categorisation,
routing), which also yields the agent's delivery shape: bulk ``create`` with ``_id = event.id`` into
the event's daily index, under the namespace's real templates (``indexer.setup.install_templates``).
The namespace is refreshed once at the end, so 50,000 events take seconds.

``SeedSummary`` is the test oracle: counts computed from the events themselves, independently of
Elasticsearch, to compare query results with.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from elasticsearch import Elasticsearch

from auditlog.agent.contract import parse_timestamp
from auditlog.agent.enrich import Enricher
from auditlog.demo.data import fabricate
from auditlog.indexer.query.filter import Filter
from auditlog.indexer.setup import install_templates
from auditlog.indexer.tiers import TierTable

#: (tenant, action, source, worker or None) of one event: what dimension filters select on.
Key = tuple[str, str, str, str | None]


@dataclass
class SeedSummary:
    """What was indexed: the ids and the count of each (tenant, action, source, worker) combination."""

    ids: set[str] = field(default_factory=set)
    keys: Counter[Key] = field(default_factory=Counter)
    oldest: datetime | None = None
    newest: datetime | None = None

    @property
    def count(self) -> int:
        """Number of events indexed."""
        return len(self.ids)

    def add(self, event: dict[str, Any]) -> None:
        """Account for one indexed event."""
        self.ids.add(event["event"]["id"])
        user = event.get("user") or {}
        self.keys[(event["organization"]["id"], event["event"]["action"], event["audit"]["source"],
                   user.get("id"))] += 1
        moment = parse_timestamp(event["@timestamp"])
        self.oldest = moment if self.oldest is None else min(self.oldest, moment)
        self.newest = moment if self.newest is None else max(self.newest, moment)

    def expected(self, flt: Filter) -> int:
        """Count the events a filter on tenant / workers / actions / sources selects (no time or text).

        Raises:
            ValueError: when the filter has a time range or free text (the summary cannot answer those).
        """
        if flt.since or flt.until or flt.text:
            raise ValueError("SeedSummary answers tenant/worker/action/source filters only")
        return sum(
            n for (tenant, action, source, worker), n in self.keys.items()
            if (not flt.tenants or tenant in flt.tenants)
            and (not flt.actions or action in flt.actions)
            and (not flt.sources or source in flt.sources)
            and (not flt.workers or worker in flt.workers)
        )

    def values(self, position: int) -> Counter[str | None]:
        """Events per value of one key position (0 tenant, 1 action, 2 source, 3 worker)."""
        out: Counter[str | None] = Counter()
        for key, n in self.keys.items():
            out[key[position]] += n
        return out


_ENRICH = Enricher(TierTable(), redactor=None)


def enrich(event: dict[str, Any]) -> dict[str, Any]:
    """Add what the agent adds before shipping (``audit.changed_fields``, ECS categorisation), in place."""
    _ENRICH(event, "seed", 0)  # the agent's own enrichment stage; its bulk entry is not needed here
    return event


def realistic_events(count: int, *, seed: int, start: datetime, end: datetime) -> Iterator[dict[str, Any]]:
    """Yield ``count`` enriched, deterministic events of every tier in ``[start, end)``."""
    for event in fabricate(count, seed=seed, start=start, end=end):
        yield enrich(event)


def seed_events(
    client: Elasticsearch, tiers: TierTable, events: Iterable[dict[str, Any]], *, chunk_size: int = 5_000
) -> SeedSummary:
    """Index ``events`` into their daily indices of ``tiers`` (templates installed first), then refresh once.

    Args:
        client: the Elasticsearch client.
        tiers: the namespace to write into.
        events: nested contract events, each with ``event.id``.
        chunk_size: events per bulk request.

    Returns:
        The oracle of what was indexed.

    Raises:
        RuntimeError: when any bulk item fails (with the first failures in the message).
    """
    install_templates(client, tiers)
    to_bulk = Enricher(tiers, redactor=None)
    summary = SeedSummary()
    lines: list[bytes] = []

    def flush() -> None:
        if not lines:
            return
        # NDJSON bytes go through as they are (typed as a list of actions, accepted as a body).
        response = client.bulk(operations=b"".join(lines), refresh=False)  # type: ignore[arg-type]
        if response.get("errors"):
            failed = [item for item in response["items"] if "error" in next(iter(item.values()))]
            raise RuntimeError(f"{len(failed)} bulk items failed, e.g. {failed[:3]}")
        lines.clear()

    for n, event in enumerate(events):
        entry = to_bulk(event, "seed", n)
        if not isinstance(entry, bytes):
            raise RuntimeError(f"event {event['event'].get('id')} cannot be routed: {entry}")
        lines.append(entry)
        summary.add(event)
        if len(lines) >= chunk_size:
            flush()
    flush()
    client.indices.refresh(index=tiers.read_pattern, allow_no_indices=True)
    return summary


def cleanup_namespace(client: Elasticsearch, tiers: TierTable) -> None:
    """Delete the namespace's indices and templates, its digests' too (what the ``namespace`` fixture does)."""
    prefix = tiers.prefix
    for pattern in (f"{prefix}-*", f"{prefix}.digest-*"):  # events, and the digests that prove them
        client.options(ignore_status=404).indices.delete(index=pattern, expand_wildcards="all", allow_no_indices=True)
        client.options(ignore_status=404).indices.delete_index_template(name=pattern)
    client.options(ignore_status=404).cluster.delete_component_template(name=f"{prefix}-*")


@contextmanager
def seeded_namespace(
    client: Elasticsearch, events: Iterable[dict[str, Any]], *, label: str = "seed"
) -> Iterator[tuple[TierTable, SeedSummary]]:
    """A namespace of its own holding ``events``, deleted afterwards (for module-scoped fixtures).

    Args:
        client: the Elasticsearch client.
        events: what to index.
        label: part of the prefix, to recognise leftovers.

    Yields:
        The namespace and the oracle.
    """
    tiers = TierTable(prefix=f"t{uuid.uuid4().hex[:10]}-{label}")
    try:
        yield tiers, seed_events(client, tiers, events)
    finally:
        cleanup_namespace(client, tiers)
