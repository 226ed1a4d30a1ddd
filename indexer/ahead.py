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
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from elasticsearch import ApiError, Elasticsearch

from auditlog.indexer import precedence
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
        index template of a higher priority would shape the new index.

    Raises:
        elasticsearch.ApiError / elasticsearch.ConnectionError: when the cluster refuses or is unreachable.
    """
    days = days_ahead(now)
    results: list[AheadIndex] = []
    templates: list[dict[str, Any]] = []  # every index template, read once when one of ours is overridden
    for cls in RETENTION_DAYS:
        ours = index_template_name(tiers, cls)
        has_template = bool(client.indices.exists_index_template(name=ours))
        for day in days:
            name = tiers.index_for_day(cls, day)
            if not has_template:
                results.append(AheadIndex(name, cls, day, NO_TEMPLATE))
            elif client.indices.exists(index=name, expand_wildcards="all", allow_no_indices=True):
                results.append(AheadIndex(name, cls, day, EXISTS))
            elif (winner := precedence.overridden(client, ours, name, templates)) is not None:
                results.append(AheadIndex(name, cls, day, REFUSED, winner.line()))
            else:
                if not dry_run:
                    _create(client, name)
                results.append(AheadIndex(name, cls, day, CREATED))
    return results


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
