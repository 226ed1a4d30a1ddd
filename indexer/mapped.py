"""Whether the namespace's existing daily indices were shaped by auditlog's templates (their mappings).

:mod:`indexer.precedence` keeps setup and ``retention enforce`` from *creating* a daily index through
another template; this module finds the ones that already exist with other mappings: made before
``auditlog setup`` ran (an agent shipping first gets dynamic mappings), or through someone else's
template earlier. Nothing fails for such an index; it just stops working:

- ``organization.id`` dynamically mapped as ``text`` (+ ``.keyword``): a tenant key's document-level
  ``term`` query matches none of its events, so the customer sees nothing of those days;
- ``@timestamp`` or ``event.id`` of another type: sorting and paging (TUI, export) and ``verify`` break;
- a digest index's ``digest.index``/``digest.first``/``digest.last`` of another type: ``verify --proof``
  finds no digest for an event.

Our mappings carry no ``_meta`` of their own (the ``_meta`` of our templates is on the template, not
copied into the index), so the signal is the few field types the product relies on, compared with the
types our rendered templates give them (:data:`EVENT_FIELDS`, :data:`DIGEST_FIELDS`). The mappings are
read from the cluster state in one request (cluster privilege ``monitor``, which setup's and retention's
credentials hold; the writer key gets 403): ``GET <pattern>/_mapping`` fails as a whole (403) when one
index has ``index.blocks.metadata``, which a legal hold may set (``indexer.retention``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from elasticsearch import Elasticsearch

from auditlog.core.contract import F
from auditlog.indexer.templates import render_component_templates, render_digest_templates
from auditlog.indexer.tiers import TierTable

#: What a person does about such an index: either keeps the namespace's promises (docs/elastic-admin.md, 6.).
REMEDY = ("reindex it into a correctly mapped index (docs/elastic-admin.md, troubleshooting) or delete it once it is "
          "past retention")


def _type_at(properties: Mapping[str, Any], path: str) -> str | None:
    """The ``type`` of dotted field ``path`` in a mapping's ``properties`` (``object`` for one with properties)."""
    head, _, rest = path.partition(".")
    field = properties.get(head)
    if not isinstance(field, Mapping):
        return None
    if rest:
        inner = field.get("properties")
        return _type_at(inner, rest) if isinstance(inner, Mapping) else None
    kind = field.get("type")
    if kind is None and "properties" in field:
        return "object"
    return None if kind is None else str(kind)


def _expected(mapping: Mapping[str, Any], fields: tuple[str, ...]) -> dict[str, str]:
    properties = mapping["template"]["mappings"]["properties"]
    return {name: str(_type_at(properties, name)) for name in fields}


def _template_mappings() -> tuple[dict[str, Any], dict[str, Any]]:
    events = render_component_templates(TierTable())[1].body
    digests = render_digest_templates(TierTable(), ilm=False)[0].body
    return events, digests


_EVENTS, _DIGESTS = _template_mappings()
#: The event fields whose types the product relies on, with the type our template gives each (the tenant
#: boundary's term query, sorting and paging, verify).
EVENT_FIELDS: dict[str, str] = _expected(_EVENTS, (F.timestamp, F.tenant, F.id))
#: The digest fields ``verify --proof`` queries, with our template's type of each.
DIGEST_FIELDS: dict[str, str] = _expected(_DIGESTS, ("@timestamp", "digest.index", "digest.first", "digest.last"))


@dataclass(frozen=True)
class Misshapen:
    """An existing daily index whose mappings are not our template's: its name and each field found otherwise."""

    index: str
    wrong: tuple[tuple[str, str | None, str], ...]  # (field, its type or None when unmapped, the expected type)

    def line(self, more: int = 0) -> str:
        """One line for the operator: the index (and how many more), each field's type and ours, what to do."""
        also = f" (and {more} more daily indices)" if more else ""
        found = ", ".join(f"{field} is {kind or 'not mapped'} (expected {want})" for field, kind, want in self.wrong)
        return (f"daily index {self.index}{also} was not made from our template: {found}; tenant keys, sorting or "
                f"verify miss its events: {REMEDY}")


def misshapen(index: str, mapping: Mapping[str, Any], expected: Mapping[str, str]) -> Misshapen | None:
    """Tell whether an index's mapping gives the fields the product relies on the types our template gives (pure).

    Args:
        index: the index name (for the line).
        mapping: the index's mapping, ``{"properties": ...}`` (the cluster state's ``{"_doc": {...}}`` is unwrapped).
        expected: field (dotted) -> the type our template gives it (:data:`EVENT_FIELDS`, :data:`DIGEST_FIELDS`).

    Returns:
        ``None`` when every field has its expected type, else a :class:`Misshapen` naming the others.
    """
    if set(mapping) == {"_doc"} and isinstance(mapping["_doc"], Mapping):
        mapping = mapping["_doc"]
    properties = mapping.get("properties")
    properties = properties if isinstance(properties, Mapping) else {}
    wrong = tuple((field, found, want) for field, want in expected.items()
                  if (found := _type_at(properties, field)) != want)
    return Misshapen(index, wrong) if wrong else None


def find_misshapen(client: Elasticsearch, tiers: TierTable) -> list[Misshapen]:
    """List the namespace's existing daily event and digest indices whose mappings are not our template's.

    Args:
        client: a client with cluster privilege ``monitor`` (one cluster state request, open and closed indices).
        tiers: the namespace (only names that parse as its daily indices are looked at).

    Returns:
        One :class:`Misshapen` per such index, sorted by name (empty: every daily index is ours).

    Raises:
        elasticsearch.ApiError / ConnectionError: on refusal (403 without ``monitor``) or an unreachable cluster.
    """
    answer = client.cluster.state(
        metric="metadata", index=f"{tiers.read_pattern},{tiers.digest_pattern}", expand_wildcards="all",
        allow_no_indices=True, ignore_unavailable=True, filter_path="metadata.indices.*.mappings",
    )
    indices = ((answer.body or {}).get("metadata") or {}).get("indices") or {}
    found = []
    for name, body in sorted(indices.items()):
        if tiers.parse_index(name) is not None:
            expected = EVENT_FIELDS
        elif tiers.parse_digest_index(name) is not None:
            expected = DIGEST_FIELDS
        else:
            continue  # not a daily name of ours (retention reports unreadable ones)
        mapping = (body or {}).get("mappings") or {}
        wrong = misshapen(str(name), mapping if isinstance(mapping, Mapping) else {}, expected)
        if wrong is not None:
            found.append(wrong)
    return found
