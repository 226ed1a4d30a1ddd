"""Who may open which view: the customer view is for tenants on a tier in ``CUSTOMER_VIEW_TIERS``.

The seed: the audit-log dashboard is Enterprise-only; other tiers' events are kept for support.
Customers authenticate with a tenant key (``indexer.keys``): the key's own metadata names the tenant,
Elasticsearch filters every read to it, and ``key_view`` opens that tenant's customer view, which the
user cannot leave. Entitlement comes from the key, which is made only for enterprise tenants.

Support staff (reader key) may open a tenant's customer view with ``--tenant``; then the tenant's
tier is read from its own newest event (``audit.tier``), since events carry it and there is no
separate tenant registry. The customer view reads only that tier's retention class
(``TierTable.class_pattern``), fixed to the tenant.
"""

from __future__ import annotations

from dataclasses import dataclass

from elasticsearch import Elasticsearch

from auditlog.core.contract import F
from auditlog.indexer.keys import TENANT_CLASS, key_scope
from auditlog.indexer.query.dsl import SORT, TENANT_FIELD
from auditlog.indexer.tiers import CUSTOMER_VIEW_TIERS, TierTable


class AccessDenied(Exception):
    """The requested view is not available for this tenant; the message says why and what to do."""


@dataclass(frozen=True)
class CustomerView:
    """A tenant allowed the customer view, its tier and the index pattern it may read."""

    tenant: str
    tier: str
    index: str
    #: set when a tenant key opened the view: the namespace the key was made for
    namespace: str | None = None


def tenant_tier(client: Elasticsearch, tiers: TierTable, tenant: str) -> str | None:
    """Return the tier recorded on ``tenant``'s newest event, ``None`` when it has no events.

    Raises:
        elasticsearch.ApiError / elasticsearch.ConnectionError: when the cluster fails.
    """
    response = client.search(
        index=tiers.read_pattern,
        allow_no_indices=True,
        query={"term": {TENANT_FIELD: tenant}},
        sort=SORT[:1],
        size=1,
        source_includes=[F.tier],
        track_total_hits=False,
    )
    hits = response.get("hits", {}).get("hits", [])
    if not hits:
        return None
    source = hits[0].get("_source")
    audit = source.get("audit") if isinstance(source, dict) else None
    # One odd newest event (``audit`` not an object) must not break the view: no tier, not an error.
    tier = audit.get("tier") if isinstance(audit, dict) else None
    return str(tier) if tier else None


def customer_view(client: Elasticsearch, tiers: TierTable, tenant: str) -> CustomerView:
    """Check that ``tenant`` may use the customer view and return what it may read.

    Raises:
        AccessDenied: when the tenant has no events or its tier has no customer view.
        elasticsearch.ApiError / elasticsearch.ConnectionError: when the cluster fails.
    """
    tier = tenant_tier(client, tiers, tenant)
    allowed = ", ".join(sorted(CUSTOMER_VIEW_TIERS))
    if tier is None:
        raise AccessDenied(f"no audit events found for tenant {tenant!r}; the customer view needs a tenant "
                           f"on tier {allowed} with events (support staff: run `auditlog tui` without --tenant)")
    if tier not in CUSTOMER_VIEW_TIERS:
        raise AccessDenied(f"tenant {tenant!r} is on tier {tier!r}: the customer view is available for {allowed} "
                           "subscriptions only (its events are kept for support: run `auditlog tui` without "
                           "--tenant and filter by tenant)")
    return CustomerView(tenant=tenant, tier=tier, index=tiers.class_pattern(tiers.class_of(tier)))


def key_view(client: Elasticsearch, requested: tuple[str, ...] = ()) -> CustomerView | None:
    """Return the customer view a tenant key fixes, ``None`` when the client does not use a tenant key.

    Args:
        client: a client authenticating with the user's credentials.
        requested: the tenants the user asked for (``--tenant``, repeatable), if any.

    Raises:
        AccessDenied: when one of ``requested`` is another tenant than the key's.
        elasticsearch.ApiError / elasticsearch.ConnectionError: when the cluster fails (401 for a revoked key).
    """
    scope = key_scope(client)
    if scope is None:
        return None
    for tenant in requested:
        if tenant != scope.tenant:
            raise AccessDenied(f"this API key reads only tenant {scope.tenant!r}, not {tenant!r}")
    return CustomerView(tenant=scope.tenant, tier=TENANT_CLASS, index=scope.index, namespace=scope.namespace)
