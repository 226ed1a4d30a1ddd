"""Retention by the date in the index name: what is due when, and the enforcer that deletes it.

An index ``<prefix>-<class>-YYYY.MM.DD`` expires ``RETENTION_DAYS[class]`` days after 00:00 UTC of
the date in its name. That is exactly when ILM deletes it (delete phase ``min_age: <days>d`` with
``index.lifecycle.parse_origination_date: true``), so the enforcer and ILM agree to the day: an
enterprise index of 1 November is deleted on 1 December, 00:00 UTC. (The last events of a day are
therefore kept a little under ``days`` days; the first events a little over ``days - 1``.)

Digest indices (``<prefix>.digest-<class>-YYYY.MM.DD``, tamper evidence) expire one day after the
events they cover, so ``auditlog verify`` can still tell an expired day from a tampered one.

``enforce`` is for clusters without ILM (run it daily from cron or a systemd timer) and for audits
(``--dry-run`` lists what is overdue). Like curator it works by name, never by creation date, so
restored or re-indexed indices age correctly. It only ever touches indices whose names parse as one
of the namespace's daily indices, and deletes them by exact name (no wildcards).

An index that carries a class's name but whose date cannot be read (``audit-business-2026.13.45``,
a year written with fewer than four digits), lies before the year 1000 (``audit-business-0999.12.31``)
or whose deletion date lies beyond what a date can hold (``audit-business-9999.12.31``) is never
deleted: ``scan`` lists it as ``Unreadable`` with the reason, the commands print it as a warning,
and every other index is handled as usual.

An index whose block forbids deleting it (``index.blocks.read_only`` or ``index.blocks.metadata``: a legal
hold, or someone's mistake) is not deleted either: ``scan`` lists it as ``Blocked``, ``enforce`` leaves it
out and deletes every other expired index. One such index used to fail the whole request of up to 50
names, and every later one, so a single block kept a namespace's expired days indefinitely.

No request names more indices than fit Elasticsearch's request line (``http.max_initial_line_length``,
4 KiB by default, which refuses a longer one whole): ``_cat/indices`` leaves the blocked indices out of the
namespace's pattern while their names fit :data:`MAX_EXPRESSION_BYTES`, and past that asks for the other
indices by name in chunks that do; deletes go in such chunks too.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast
from urllib.parse import quote

from elasticsearch import Elasticsearch, NotFoundError

from auditlog.indexer import ilm
from auditlog.indexer.integrity import DIGEST_EXTRA_DAYS
from auditlog.indexer.templates import policy_name
from auditlog.indexer.tiers import RETENTION_DAYS, TierTable

#: Indices per DELETE request: keeps the URL short on namespaces with many days.
DELETE_CHUNK = 50
#: the longest index expression (percent-encoded, as the client sends it) one request names: the request line
#: around it (method, path, query string) must stay under Elasticsearch's ``http.max_initial_line_length``
#: (4 KiB by default), past which the whole request fails (``too_long_http_line_exception``)
MAX_EXPRESSION_BYTES = 3000
#: Index settings whose ``true`` makes Elasticsearch refuse to delete the index (403 ``cluster_block_exception``).
#: ``read_only_allow_delete``, ``write`` and ``read`` blocks allow it.
DELETE_BLOCKS = ("read_only", "metadata")


def blocks_held(body: Any, blocks: Iterable[str]) -> list[str]:
    """The settings among ``index.blocks.<block>`` that are ``true`` on an index of the cluster state (pure).

    Args:
        body: the index's entry in ``GET _cluster/state/metadata`` (``{"settings": {"index": {"blocks": ...}}}``).
        blocks: the blocks asked about, e.g. :data:`DELETE_BLOCKS`.

    Returns:
        Their full setting names, e.g. ``["index.blocks.read_only"]``.
    """
    found = (((body or {}).get("settings") or {}).get("index") or {}).get("blocks") or {}
    return [f"index.blocks.{block}" for block in blocks if str(found.get(block)).lower() == "true"]
#: Names dated before this year are out of range (listed with a warning, never deleted).
MIN_YEAR = 1000


@dataclass(frozen=True)
class DailyIndex:
    """One daily index of the namespace: name, class, date in the name, size."""

    name: str
    retention_class: str
    day: date
    docs: int = 0
    bytes: int = 0
    extra_days: int = 0  # digest indices outlive their events (indexer.integrity.DIGEST_EXTRA_DAYS)

    @property
    def due(self) -> datetime:
        """When the index expires: 00:00 UTC of its date plus the class's retention days (plus extra days)."""
        days = RETENTION_DAYS[self.retention_class] + self.extra_days
        return datetime.combine(self.day, time(), UTC) + timedelta(days=days)


@dataclass(frozen=True)
class Unreadable:
    """An index named like one of a class's daily indices whose date cannot be used, and why."""

    name: str
    reason: str


@dataclass(frozen=True)
class Blocked:
    """An index of the namespace (events or digests) that Elasticsearch would refuse to delete, and why."""

    name: str
    reason: str


@dataclass(frozen=True)
class Inventory:
    """What ``scan`` found: the usable daily indices, the ones whose names cannot be used, the undeletable ones."""

    indices: list[DailyIndex]
    unreadable: list[Unreadable]
    blocked: list[Blocked] = field(default_factory=list)


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


def classify(name: str, tiers: TierTable, docs: int = 0, size: int = 0) -> DailyIndex | Unreadable | None:
    """Tell whether ``name`` is a usable daily index of the namespace, an unusable one, or not ours (pure).

    Args:
        name: an index name.
        tiers: the namespace.
        docs: the index's document count.
        size: the index's store size in bytes.

    Returns:
        A ``DailyIndex``; an ``Unreadable`` when the name starts like a class's daily index but its
        date cannot be read, is before ``MIN_YEAR`` or its deletion date is past the year 9999;
        ``None`` for other indices.
    """
    parsed = tiers.parse_index(name)
    if parsed is None:
        cls = next((c for c in RETENTION_DAYS if name.startswith(f"{tiers.prefix}-{c}-")), None)
        if cls is None:
            return None
        stamp = name[len(f"{tiers.prefix}-{cls}-"):]
        return Unreadable(name, f"{stamp!r} is not a date written YYYY.MM.DD")
    cls, day = parsed
    if day.year < MIN_YEAR:
        # No event of ours is that old: the name comes from a bogus timestamp. Leave it to a person.
        return Unreadable(name, f"its date {day.isoformat()} is before the year {MIN_YEAR}")
    index = DailyIndex(name, cls, day, docs, size)
    try:
        index.due  # noqa: B018 - computing it is the check
    except OverflowError:
        return Unreadable(name, f"its deletion date ({day.isoformat()} + {RETENTION_DAYS[cls]} days) is past the "
                                "year 9999")
    return index


def scan(client: Elasticsearch, tiers: TierTable) -> Inventory:
    """List the namespace's daily indices (open and closed) with doc counts and store size.

    Args:
        client: a client with ``monitor`` on the namespace.
        tiers: the namespace.

    Returns:
        Usable daily indices sorted by class then day, and the unusable ones sorted by name;
        other indices matching the pattern are ignored. ``blocked``: the namespace's event and digest
        indices a block keeps from being deleted (:func:`deletion_blocks`).
    """
    everything = deletion_blocks(client, tiers)
    # only names of this namespace are reported (an alias of ours may also lead to someone else's index)
    blocked = [b for b in everything if classify(b.name, tiers) is not None or _digest(b.name, tiers) is not None]
    found: list[DailyIndex] = []
    unreadable: list[Unreadable] = []
    for row in _index_rows(client, tiers.read_pattern, everything):
        seen = classify(str(row["index"]), tiers, int(row.get("docs.count") or 0), int(row.get("store.size") or 0))
        if isinstance(seen, DailyIndex):
            found.append(seen)
        elif seen is not None:
            unreadable.append(seen)
    found.sort(key=lambda i: (list(RETENTION_DAYS).index(i.retention_class), i.day))
    unreadable.sort(key=lambda u: u.name)
    return Inventory(found, unreadable, blocked)


def deletion_blocks(client: Elasticsearch, tiers: TierTable) -> list[Blocked]:
    """List the namespace's event and digest indices whose settings forbid deleting them, by name.

    Read from the cluster state: ``_settings`` and ``_cat/indices`` themselves fail on an index with
    ``index.blocks.metadata``.

    Args:
        client: a client with cluster privilege ``monitor``.
        tiers: the namespace.

    Returns:
        One ``Blocked`` per index with a :data:`DELETE_BLOCKS` block ``true``, naming the settings.
    """
    answer = client.cluster.state(
        metric="metadata", index=f"{tiers.read_pattern},{tiers.digest_pattern}", expand_wildcards="all",
        allow_no_indices=True, ignore_unavailable=True, filter_path="metadata.indices.*.settings.index.blocks",
    )
    indices = ((answer.body or {}).get("metadata") or {}).get("indices") or {}
    found = []
    for name, body in indices.items():
        held = blocks_held(body, DELETE_BLOCKS)
        if held:
            found.append(Blocked(str(name), f"{' and '.join(f'{key}: true' for key in held)} forbids deleting it"))
    return sorted(found, key=lambda b: b.name)


def expressions(names: Iterable[str], limit: int = MAX_EXPRESSION_BYTES) -> list[str]:
    """``names`` joined by commas into as few index expressions as keep each within ``limit`` bytes encoded (pure).

    A name longer than ``limit`` on its own (none is: an index name has at most 255 bytes, 765 encoded) is an
    expression of its own.
    """
    out: list[str] = []
    chunk: list[str] = []
    size = 0
    for name in names:
        cost = len(quote(name, ",*")) + 1  # the client's encoding, and a comma
        if chunk and size + cost > limit + 1:
            out.append(",".join(chunk))
            chunk, size = [], 0
        chunk.append(name)
        size += cost
    return [*out, ",".join(chunk)] if chunk else out


def _cat_rows(client: Elasticsearch, expression: str) -> list[dict[str, Any]]:
    """``_cat/indices`` rows (name, docs, bytes) of ``expression``."""
    rows = client.cat.indices(
        index=expression, format="json", bytes="b", h="index,docs.count,store.size", expand_wildcards="all"
    )
    return cast("list[dict[str, Any]]", rows.body)  # format=json: a list of row objects


def _index_rows(client: Elasticsearch, pattern: str, blocked: list[Blocked]) -> list[dict[str, Any]]:
    """``_cat/indices`` rows (name, docs, bytes) of ``pattern``, every index but the blocked ones."""
    # _cat/indices refuses the whole request when one index has index.blocks.metadata: leave them out
    leave_out = "".join(f",-{b.name}" for b in blocked)
    counted_apart = [{"index": b.name} for b in blocked]  # counted without docs and size
    if len(quote(pattern + leave_out, ",*")) <= MAX_EXPRESSION_BYTES:
        return _cat_rows(client, pattern + leave_out) + counted_apart
    # too many to leave out in one request line: ask for the others by name (the cluster state lists them)
    answer = client.cluster.state(metric="metadata", index=pattern, expand_wildcards="all", allow_no_indices=True,
                                  ignore_unavailable=True, filter_path="metadata.indices.*.state")
    held = {b.name for b in blocked}
    names = sorted(set(((answer.body or {}).get("metadata") or {}).get("indices") or {}) - held)
    table: list[dict[str, Any]] = []
    for expression in expressions(names):
        try:
            table += _cat_rows(client, expression)
        except NotFoundError:  # one deleted since (another enforcer, ILM): ask for each alone, the gone one skipped
            for name in expression.split(","):
                with contextlib.suppress(NotFoundError):
                    table += _cat_rows(client, name)
    return table + counted_apart


def list_digest_indices(
    client: Elasticsearch, tiers: TierTable, blocked: list[Blocked] | None = None
) -> list[DailyIndex]:
    """List the namespace's digest indices (``<prefix>.digest-<class>-<day>``), due one day after their events.

    Args:
        client: a client with ``monitor`` on the digest indices.
        tiers: the namespace.
        blocked: indices with a block (:func:`deletion_blocks`), listed without asking for their size.

    Returns:
        Digest indices sorted by class then day.
    """
    found = []
    for row in _index_rows(client, tiers.digest_pattern, blocked or []):
        index = _digest(str(row["index"]), tiers, int(row.get("docs.count") or 0), int(row.get("store.size") or 0))
        if index is not None:
            found.append(index)
    return sorted(found, key=lambda i: (list(RETENTION_DAYS).index(i.retention_class), i.day))


def _digest(name: str, tiers: TierTable, docs: int = 0, size: int = 0) -> DailyIndex | None:
    """The digest index ``name`` with its due date, or None when it is not one (or its date is unusable)."""
    parsed = tiers.parse_digest_index(name)
    if parsed is None or parsed[1].year < MIN_YEAR or \
            parsed[1] > date.max - timedelta(days=RETENTION_DAYS[parsed[0]] + DIGEST_EXTRA_DAYS + 1):
        return None  # like an unusable events index name: never deleted
    return DailyIndex(name, parsed[0], parsed[1], docs, size, extra_days=DIGEST_EXTRA_DAYS)


def overdue_blocked(inventory: Inventory, tiers: TierTable, now: datetime) -> list[Blocked]:
    """Return the blocked indices of ``inventory`` that are due at ``now``: what ``enforce`` could not delete (pure)."""
    out = []
    for held in inventory.blocked:
        index = classify(held.name, tiers)
        index = index if isinstance(index, DailyIndex) else _digest(held.name, tiers)
        if index is not None and index.due <= now:
            out.append(held)
    return out


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


def status(
    client: Elasticsearch, tiers: TierTable, now: datetime | None = None, *, inventory: Inventory | None = None
) -> list[ClassStatus]:
    """Return the retention status of every class of the namespace.

    Args:
        client: a client with ``monitor`` on the namespace.
        tiers: the namespace.
        now: the current time (default: now, UTC); injectable for audits and tests.
        inventory: what ``scan`` found (scanned here when ``None``).

    Returns:
        One ``ClassStatus`` per retention class (unusable index names are not counted).
    """
    indices = (inventory or scan(client, tiers)).indices
    return summarize(indices, now or datetime.now(UTC), who_deletes(client, tiers))


def enforce(
    client: Elasticsearch,
    tiers: TierTable,
    now: datetime | None = None,
    *,
    dry_run: bool = False,
    inventory: Inventory | None = None,
    on_deleted: Callable[[list[DailyIndex]], None] | None = None,
) -> list[DailyIndex]:
    """Delete the namespace's expired daily indices (never an index whose name is unusable).

    Args:
        client: a client with ``delete_index`` on the namespace.
        tiers: the namespace.
        now: the current time (default: now, UTC); injectable for audits and tests.
        dry_run: only report what would be deleted.
        inventory: what ``scan`` found (scanned here when ``None``); its ``blocked`` indices are not deleted.
        on_deleted: called with each chunk once Elasticsearch deleted it (a later chunk may fail: what is
            gone by then is still said).

    Returns:
        The expired indices (deleted unless ``dry_run``), oldest first; not the blocked ones.

    Raises:
        elasticsearch.ApiError / elasticsearch.ConnectionError: a delete failed (earlier chunks are deleted).
    """
    inventory = inventory or scan(client, tiers)
    held = {b.name for b in inventory.blocked}
    # digest indices (tamper evidence) are deleted one day after the events they cover
    indices = inventory.indices + list_digest_indices(client, tiers, inventory.blocked)
    due = [i for i in expired(indices, now or datetime.now(UTC)) if i.name not in held]
    if not dry_run:
        for start in range(0, len(due), DELETE_CHUNK):
            batch = due[start:start + DELETE_CHUNK]
            for names in expressions(i.name for i in batch):  # 50 long names pass the request line: fewer then
                # ignore_unavailable: another enforcer (or ILM) may have deleted one in the meantime.
                client.indices.delete(index=names, ignore_unavailable=True)
                if on_deleted is not None:
                    gone = set(names.split(","))
                    on_deleted([i for i in batch if i.name in gone])
    return due
