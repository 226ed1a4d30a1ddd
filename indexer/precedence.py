"""Whether the namespace's index templates are the ones Elasticsearch applies to its new daily indices.

Elasticsearch applies exactly one composable index template to a new index: the matching one of the
highest priority. A template someone else installed whose patterns also match ours (``audit*``, ``*``) at
a higher priority than :data:`~indexer.templates.INDEX_TEMPLATE_PRIORITY` therefore wins silently: the
daily indices are created without auditlog's mappings (dynamic ones instead: ``organization.id`` as
text, every ``audit.changes`` key a field of its own), filters and the tenant boundary's term queries
stop matching, and nothing fails. ``auditlog setup`` and ``auditlog agent check`` ask the cluster which
template a day's index would get (``_index_template/_simulate_index``) and say so in one line.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from datetime import date
from typing import Any

from elasticsearch import Elasticsearch

from auditlog.indexer.templates import INDEX_TEMPLATE_PRIORITY, digest_name, index_template_name
from auditlog.indexer.tiers import RETENTION_DAYS, TierTable


@dataclass(frozen=True)
class Shadowed:
    """One of our index templates that another one overrides for the index names it is meant for."""

    ours: str
    index: str
    winners: tuple[str, ...]  # the other matching templates of a higher priority, "name (priority N, patterns ..)"

    def line(self, more: int = 0) -> str:
        """One line for the operator: what overrides what (and how many more of ours), what it means, what to do."""
        by = ", ".join(self.winners) or "another index template"
        also = f" (and {more} more of ours)" if more else ""
        return (f"index template {by} overrides {self.ours} for {self.index}{also}: new daily indices would lack "
                f"our mappings; give it a priority below {INDEX_TEMPLATE_PRIORITY} or narrower patterns, then run "
                "setup again")


def our_templates(tiers: TierTable, day: date) -> list[tuple[str, str]]:
    """Return ``(template, index name of day)`` for every index template of the namespace (events, digests)."""
    classes = sorted(RETENTION_DAYS)
    return ([(index_template_name(tiers, cls), tiers.index_for_day(cls, day)) for cls in classes]
            + [(digest_name(tiers, cls), tiers.digest_index_for_day(cls, day)) for cls in classes])


def winners_over(templates: list[dict[str, Any]], index: str, ours: str) -> tuple[str, ...]:
    """Name the templates in a ``GET _index_template`` answer that match ``index`` at a priority above ours (pure).

    Args:
        templates: the answer's ``index_templates`` entries (``name``, ``index_template``).
        index: the index name.
        ours: our template's name (left out).

    Returns:
        ``"name (priority N, patterns a, b)"`` per template, highest priority first.
    """
    found: list[tuple[int, str]] = []
    for entry in templates:
        body = entry.get("index_template") or {}
        patterns = [str(p) for p in body.get("index_patterns") or []]
        priority = body.get("priority") or 0
        if entry.get("name") == ours or not isinstance(priority, int) or priority <= INDEX_TEMPLATE_PRIORITY:
            continue
        if any(fnmatch.fnmatchcase(index, p) for p in patterns):
            found.append((priority, f"{entry.get('name')} (priority {priority}, patterns {', '.join(patterns)})"))
    return tuple(text for _, text in sorted(found, key=lambda f: -f[0]))


def shadowed(client: Elasticsearch, tiers: TierTable, day: date) -> list[Shadowed]:
    """Return our index templates that Elasticsearch would not apply to the index of ``day`` they are meant for.

    Args:
        client: a client with ``manage_index_templates`` (simulating and reading templates).
        tiers: the namespace.
        day: the day whose index names are asked about.

    Returns:
        One :class:`Shadowed` per overridden template (empty: ours apply).

    Raises:
        elasticsearch.ApiError / ConnectionError: on refusal or when the cluster is unreachable.
    """
    everything: list[dict[str, Any]] = []  # every index template, read once, when one of ours is overridden
    found = (overridden(client, ours, index, everything) for ours, index in our_templates(tiers, day))
    return [one for one in found if one is not None]


def overridden(
    client: Elasticsearch, ours: str, index: str, everything: list[dict[str, Any]] | None = None
) -> Shadowed | None:
    """Tell whether Elasticsearch would shape a new index ``index`` by another template than ``ours``.

    Args:
        client: a client with ``manage_index_templates``.
        ours: our index template meant for ``index``.
        index: the index name.
        everything: a cache of ``GET _index_template``'s entries shared between calls (filled when empty).

    Returns:
        A :class:`Shadowed` naming the winners, or ``None`` when ours applies (or overlaps nothing).

    Raises:
        elasticsearch.ApiError / ConnectionError: on refusal or when the cluster is unreachable.
    """
    answer = client.indices.simulate_index_template(name=index, filter_path="overlapping").body
    overlapping = {str(o.get("name")) for o in (answer or {}).get("overlapping") or [] if isinstance(o, dict)}
    if ours not in overlapping:  # ours is the template applied (or overlaps nothing)
        return None
    everything = [] if everything is None else everything
    if not everything:
        everything += list(client.indices.get_index_template().body.get("index_templates") or [])
    return Shadowed(ours, index, winners_over(everything, index, ours))
