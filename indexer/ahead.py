"""Create the coming days' daily indices ahead, so no shipper waits on index creation at midnight.

The first write into a day's index otherwise creates it: a cluster-state update (template applied,
shard allocated, primary started) that stalls every bulk request aimed at that day for up to seconds.
``auditlog setup`` and ``auditlog retention enforce`` (the periodic admin job) call ``create_ahead``
with admin rights, so today's and tomorrow's index of every retention class already exist when the
day's first event arrives.

Idempotent: an index that exists is left alone (``resource_already_exists_exception`` counts as
done, also when an agent or another admin job created it in the meantime). An index is only created
when its class's index template is installed and is the one Elasticsearch would apply
(``indexer.precedence``), so it never ends up without the audit mappings: a template of someone else's
at a higher priority over the class's names is ``REFUSED``, naming it (``retention enforce`` runs daily
and used to create tomorrow's indices through such a template, with dynamic mappings, silently).

"Exists" means an open index of that name the agents can write into. A name held by an alias or a data
stream is ``REFUSED`` (that day's events would go into someone else's index, or a data stream's backing
index, which retention never deletes), and so is a closed index or one with a write block (the agents'
writes would fail from the day's first event on): each with one line saying what holds the name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from elasticsearch import ApiError, Elasticsearch

from auditlog.indexer import precedence
from auditlog.indexer.retention import blocks_held
from auditlog.indexer.templates import index_template_name
from auditlog.indexer.tiers import RETENTION_DAYS, TierTable

#: Days created ahead, counted from the current UTC day (0 = today, 1 = tomorrow).
DAYS_AHEAD: tuple[int, ...] = (0, 1)

CREATED = "created"
EXISTS = "exists"
NO_TEMPLATE = "skipped: index template missing (run auditlog setup)"
#: not created (or not usable) for a reason of the cluster's that a person must settle: ``AheadIndex.detail``
REFUSED = "refused"


@dataclass(frozen=True)
class AheadIndex:
    """One index ``create_ahead`` looked at and its outcome: ``CREATED``, ``EXISTS``, ``NO_TEMPLATE`` or ``REFUSED``."""

    name: str
    retention_class: str
    day: date
    outcome: str
    detail: str = ""  # with REFUSED: one line saying what is wrong and what to do

    @property
    def problem(self) -> str | None:
        """Why the index was not created ahead, for a warning line; None when it was made or exists."""
        return {NO_TEMPLATE: NO_TEMPLATE, REFUSED: self.detail}.get(self.outcome)


def days_ahead(now: datetime) -> list[date]:
    """Return the UTC days whose indices should exist at ``now`` (pure).

    Args:
        now: a timezone-aware time.

    Returns:
        Today (UTC) and the following days in ``DAYS_AHEAD``.
    """
    today = now.astimezone(UTC).date()
    return [today + timedelta(days=offset) for offset in DAYS_AHEAD]


def create_ahead(client: Elasticsearch, tiers: TierTable, now: datetime, *, dry_run: bool = False) -> list[AheadIndex]:
    """Make sure today's and tomorrow's daily index of every retention class exists.

    Args:
        client: a client with index privilege ``create_index`` on the namespace (and ``view_index_metadata``
            plus cluster ``manage_index_templates`` or ``monitor`` to see the templates).
        tiers: the namespace.
        now: the current time (timezone-aware).
        dry_run: only report what would be created.

    Returns:
        One entry per class and day, in ``RETENTION_DAYS`` order then by day; ``REFUSED`` where another
        index template of a higher priority would shape the new index, or where the name is held by
        something the agents cannot (or must not) write into.

    Raises:
        elasticsearch.ApiError / elasticsearch.ConnectionError: when the cluster refuses or is unreachable.
    """
    days = days_ahead(now)
    results: list[AheadIndex] = []
    templates: list[dict[str, Any]] = []  # every index template, read once when one of ours is overridden
    taken = _taken(client, [tiers.index_for_day(cls, day) for cls in RETENTION_DAYS for day in days])
    for cls in RETENTION_DAYS:
        ours = index_template_name(tiers, cls)
        has_template = bool(client.indices.exists_index_template(name=ours))
        for day in days:
            name = tiers.index_for_day(cls, day)
            if not has_template:
                results.append(AheadIndex(name, cls, day, NO_TEMPLATE))
            elif name in taken:
                problem = taken[name]
                results.append(AheadIndex(name, cls, day, EXISTS) if problem is None
                               else AheadIndex(name, cls, day, REFUSED, problem))
            elif (winner := precedence.overridden(client, ours, name, templates)) is not None:
                results.append(AheadIndex(name, cls, day, REFUSED, winner.line()))
            else:
                if not dry_run:
                    _create(client, name)
                results.append(AheadIndex(name, cls, day, CREATED))
    return results


#: settings whose ``true`` makes Elasticsearch refuse every write into an index
WRITE_BLOCKS = ("write", "read_only", "read_only_allow_delete")


def _taken(client: Elasticsearch, names: list[str]) -> dict[str, str | None]:
    """Map each of ``names`` that exists to None (an open index the agents can write into) or what is wrong.

    From the cluster state (cluster privilege ``monitor``): it answers for closed indices and under
    ``index.blocks.metadata`` too, and names aliases and data streams.
    """
    answer = client.cluster.state(
        metric="metadata", index=",".join(names), expand_wildcards="all", ignore_unavailable=True,
        allow_no_indices=True, filter_path=["metadata.indices.*.state", "metadata.indices.*.aliases",
                                            "metadata.indices.*.settings.index.blocks",
                                            "metadata.data_stream.data_stream.*.indices.index_name"],
    )
    metadata = (answer.body or {}).get("metadata") or {}
    indices = metadata.get("indices") or {}
    streams = (metadata.get("data_stream") or {}).get("data_stream") or {}
    found: dict[str, str | None] = {}
    for name in names:
        if name in indices:
            found[name] = _unwritable(indices[name] or {})
        elif name in streams:
            backing = ", ".join(str(i.get("index_name")) for i in streams[name].get("indices") or [])
            found[name] = (f"the name is a data stream (backing index {backing}), not a daily index: that day's "
                           "events would go where retention never deletes them; remove it")
        else:
            holders = sorted(str(i) for i, body in indices.items() if name in ((body or {}).get("aliases") or []))
            if holders:
                found[name] = (f"the name is an alias of {', '.join(holders)}, not a daily index: that day's events "
                               "would go into another index, which retention never deletes; remove the alias")
    return found


def _unwritable(body: dict[str, Any]) -> str | None:
    if body.get("state") == "close":
        return "the index exists but is closed: the agents cannot write into it; open it (or delete it, if empty)"
    held = blocks_held(body, WRITE_BLOCKS)
    if held:
        return (f"the index exists with {' and '.join(f'{key}: true' for key in held)}: the agents cannot write into "
                "it; remove the block")
    return None


def _create(client: Elasticsearch, name: str) -> None:
    try:
        # wait_for_active_shards: the point is that the first write finds a started primary.
        client.indices.create(index=name, wait_for_active_shards="1")
    except ApiError as exc:
        if exc.meta.status == 400 and _error_type(exc) == "resource_already_exists_exception":
            return  # an agent or another admin job was quicker: the index exists, which is all we want
        raise


def _error_type(exc: ApiError) -> str | None:
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error")
    return str(error.get("type")) if isinstance(error, dict) else None
