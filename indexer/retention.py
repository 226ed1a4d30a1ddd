"""Retention by the date in the index name: what is due when, and the enforcer that deletes it.

An index ``<prefix>-<class>-YYYY.MM.DD`` expires ``RETENTION_DAYS[class]`` days after 00:00 UTC of
the date in its name. That is exactly when ILM deletes it (delete phase ``min_age: <days>d`` with
``index.lifecycle.parse_origination_date: true``), so the enforcer and ILM agree to the day: an
enterprise index of 1 November is deleted on 1 December, 00:00 UTC. (The last events of a day are
therefore kept a little under ``days`` days; the first events a little over ``days - 1``.)

``enforce`` is for clusters without ILM (run it daily from cron or a systemd timer) and for audits
(``--dry-run`` lists what is overdue). Like curator it works by name, never by creation date, so
restored or re-indexed indices age correctly. It only ever touches indices whose names parse as one
of the namespace's daily indices, and deletes them by exact name (no wildcards).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast

from elasticsearch import Elasticsearch

from auditlog.indexer import ilm
from auditlog.indexer.templates import policy_name
from auditlog.indexer.tiers import RETENTION_DAYS, TierTable

#: Indices per DELETE request: keeps the URL short on namespaces with many days.
DELETE_CHUNK = 50


@dataclass(frozen=True)
class DailyIndex:
    """One daily index of the namespace: name, class, date in the name, size."""

    name: str
    retention_class: str
    day: date
    docs: int = 0
    bytes: int = 0

    @property
    def due(self) -> datetime:
        """When the index expires: 00:00 UTC of its date plus the class's retention days."""
        return datetime.combine(self.day, time(), UTC) + timedelta(days=RETENTION_DAYS[self.retention_class])


@dataclass(frozen=True)
class ClassStatus:
    """Retention status of one class: its indices, oldest day, totals, next deletion and who deletes."""

    retention_class: str
    retention_days: int
    indices: int
    oldest_day: date | None
    docs: int
    bytes: int
    next_due: datetime | None
    overdue: int
    managed_by: str

    def as_dict(self) -> dict[str, object]:
        """Return a JSON-friendly dict (dates as ISO strings)."""
        return {
            "class": self.retention_class,
            "retention_days": self.retention_days,
            "indices": self.indices,
            "oldest_day": self.oldest_day.isoformat() if self.oldest_day else None,
            "docs": self.docs,
            "bytes": self.bytes,
            "next_deletion_due": self.next_due.isoformat() if self.next_due else None,
            "overdue": self.overdue,
            "managed_by": self.managed_by,
        }


def expired(indices: Iterable[DailyIndex], now: datetime) -> list[DailyIndex]:
    """Return the indices that are due at ``now``, oldest first (pure).

    Args:
        indices: daily indices.
        now: the current time (timezone-aware).

    Returns:
        Indices whose ``due`` is not after ``now``.
    """
    return sorted((i for i in indices if i.due <= now), key=lambda i: (i.day, i.name))


def list_indices(client: Elasticsearch, tiers: TierTable) -> list[DailyIndex]:
    """List the namespace's daily indices (open and closed) with doc counts and store size.

    Args:
        client: a client with ``monitor`` on the namespace.
        tiers: the namespace.

    Returns:
        Daily indices sorted by class then day; other indices matching the pattern are ignored.
    """
    rows = client.cat.indices(
        index=tiers.read_pattern, format="json", bytes="b", h="index,docs.count,store.size", expand_wildcards="all"
    )
    found = []
    table = cast("list[dict[str, Any]]", rows.body)  # format=json: a list of row objects
    for row in table:
        parsed = tiers.parse_index(str(row["index"]))
        if parsed is None:
            continue
        cls, day = parsed
        found.append(DailyIndex(str(row["index"]), cls, day, int(row.get("docs.count") or 0),
                                int(row.get("store.size") or 0)))
    return sorted(found, key=lambda i: (list(RETENTION_DAYS).index(i.retention_class), i.day))


def summarize(indices: list[DailyIndex], now: datetime, managed_by: dict[str, str]) -> list[ClassStatus]:
    """Aggregate daily indices into one status per retention class (pure).

    Args:
        indices: the namespace's daily indices.
        now: the current time.
        managed_by: class -> who deletes (``ILM policy <name>`` or ``enforcer``).

    Returns:
        One ``ClassStatus`` per class in ``RETENTION_DAYS`` order, also for classes without indices.
    """
    statuses = []
    for cls, days in RETENTION_DAYS.items():
        mine = [i for i in indices if i.retention_class == cls]
        statuses.append(ClassStatus(
            retention_class=cls,
            retention_days=days,
            indices=len(mine),
            oldest_day=min((i.day for i in mine), default=None),
            docs=sum(i.docs for i in mine),
            bytes=sum(i.bytes for i in mine),
            next_due=min((i.due for i in mine), default=None),
            overdue=len(expired(mine, now)),
            managed_by=managed_by[cls],
        ))
    return statuses


def who_deletes(client: Elasticsearch, tiers: TierTable) -> dict[str, str]:
    """Tell per class whether an installed ILM policy or the enforcer deletes expired indices."""
    if not ilm.has_ilm(client):
        return dict.fromkeys(RETENTION_DAYS, "enforcer")
    result = {}
    for cls in RETENTION_DAYS:
        name = policy_name(tiers, cls)
        result[cls] = f"ILM policy {name}" if ilm.installed_policy_version(client, name) is not None else "enforcer"
    return result


def status(client: Elasticsearch, tiers: TierTable, now: datetime | None = None) -> list[ClassStatus]:
    """Return the retention status of every class of the namespace.

    Args:
        client: a client with ``monitor`` on the namespace.
        tiers: the namespace.
        now: the current time (default: now, UTC); injectable for audits and tests.

    Returns:
        One ``ClassStatus`` per retention class.
    """
    return summarize(list_indices(client, tiers), now or datetime.now(UTC), who_deletes(client, tiers))


def enforce(
    client: Elasticsearch, tiers: TierTable, now: datetime | None = None, *, dry_run: bool = False
) -> list[DailyIndex]:
    """Delete the namespace's expired daily indices.

    Args:
        client: a client with ``delete_index`` on the namespace.
        tiers: the namespace.
        now: the current time (default: now, UTC); injectable for audits and tests.
        dry_run: only report what would be deleted.

    Returns:
        The expired indices (deleted unless ``dry_run``), oldest first.
    """
    due = expired(list_indices(client, tiers), now or datetime.now(UTC))
    if not dry_run:
        for start in range(0, len(due), DELETE_CHUNK):
            names = ",".join(i.name for i in due[start:start + DELETE_CHUNK])
            # ignore_unavailable: another enforcer (or ILM) may have deleted one in the meantime.
            client.indices.delete(index=names, ignore_unavailable=True)
    return due
