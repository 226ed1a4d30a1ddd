"""Tenant API keys: a customer's key reads only its own enterprise events, enforced by Elasticsearch.

A tenant key's role descriptor grants the enterprise class's indices only (``<prefix>-enterprise-*``),
with a document-level-security query ``{"term": {"organization.id": ORG}}``, and only the index actions
the customer view runs (``TENANT_PRIVILEGES``): search (with ``_count`` and aggregations) and opening a
point in time. Every search, point in time, aggregation and count made with the key sees only that
tenant's documents, whatever the client asks for. Not ``read``: that would also allow term vectors
(whose ``term_statistics`` count any value in every tenant's events, even for an artificial document),
explain, terms enum, field capabilities, get/mget, msearch and ES|QL/EQL/SQL; nor
``view_index_metadata`` (mappings, settings, query validation). The customer view needs none of them:
it finds an event by id with an ``ids`` search. Keys made before this narrowing keep ``read`` and
``view_index_metadata`` until narrowed in place (``narrow_keys``) or recreated; ``list_keys`` marks
them ``broader``. The same goes for the writer and reader keys ``auditlog setup --api-keys`` makes
(``indexer.security``): they embed the role descriptor of their day, so writer keys made before the roles'
version 5 keep the class patterns (they may auto-create ``audit-enterprise-evil``), and writer and reader keys
made before version 3 keep ``audit-*``; ``list_keys`` marks them ``broader`` and ``narrow_keys`` gives them
the current descriptor in place, when their old one holds all of it (narrowing never widens, for a key of any
role, nor through the privileges of its maker: see ``narrow_keys``). The key's metadata
(``{"managed_by": "auditlog", "role": "tenant", "tenant": ORG, "namespace": PREFIX}``) tells the TUI and
export which customer view to open; a key may read its own metadata (``GET _security/api_key?id=<own id>``)
and cannot change it.

What the key can still learn is Elasticsearch's, through ``_search`` itself, so no privilege can take it
away: document-level security hides documents, not the statistics of the shards the tenants share.
BM25 scores, ``explain`` and ``dfs_query_then_fetch`` use document counts over every tenant; a
``more_like_this`` keeps or drops a term by its frequency over every tenant (whether any tenant holds a
guessed value, per daily index); ``significant_terms`` reports every tenant's events as ``bg_count``; a
``range`` with ``pre_filter_shard_size`` skips only the daily indices where no tenant has an event in
range; gaps in the tenant's own ``_seq_no`` count the others' writes. No other tenant's event, id or
field value comes back. docs/elastic-admin.md ("What a tenant key can still learn") lists them with
their tests; only an index per tenant would close them.

Document-level security needs a licence that includes it (trial, platinum, enterprise); on a basic
licence Elasticsearch refuses to create such a key, so ``create_tenant_key`` checks first and says so.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from elasticsearch import ApiError, Elasticsearch, NotFoundError

from auditlog.core.contract import F
from auditlog.core.errors import CommandError
from auditlog.indexer.errors import error_reason, one_line
from auditlog.indexer.query.dsl import SORT, TENANT_FIELD
from auditlog.indexer.security import READER, READER_PRIVILEGES, WRITER, WRITER_PRIVILEGES, key_role_descriptors
from auditlog.indexer.tiers import CUSTOMER_VIEW_TIERS, RETENTION_DAYS, TierTable

TENANT = "tenant"
MANAGED_BY = "auditlog"
#: Licence types whose feature set includes document-level security.
DLS_LICENCES = frozenset({"trial", "platinum", "enterprise"})
#: The retention class a tenant key may read: the customer view is for enterprise tenants only.
TENANT_CLASS = "enterprise"
#: A tenant key's index privileges: the action names the customer view runs (TUI, export, show), nothing more.
#: Elasticsearch matches each as a prefix, so the first also covers the shard-level search phases and
#: ``indices:data/read/search/template`` (a search rendered from a template, no more than a search can do).
TENANT_PRIVILEGES = (
    "indices:data/read/search",  # search, _count, aggregations, and searches inside a point in time
    "indices:data/read/open_point_in_time",  # the pager's and the export's snapshot
    "indices:data/read/open_reader_context",  # the shard-level half of opening a point in time
)


class KeyRefused(Exception):
    """A key operation cannot be done (licence, unknown key); the message is one line for the user."""


@dataclass(frozen=True)
class TenantScope:
    """What a tenant key may read: its tenant, the namespace it was made for and the index pattern."""

    tenant: str
    namespace: str
    index: str
    key_id: str


@dataclass(frozen=True)
class KeyInfo:
    """One auditlog API key as ``auditlog keys list`` shows it (never the secret)."""

    id: str
    name: str
    role: str
    tenant: str | None
    created: str
    expires: str | None
    invalidated: bool
    #: a key granting more than one of its role made now would (a tenant key made before it was narrowed, a writer
    #: key made before the roles' version 5): ``auditlog keys narrow``
    broader: bool = False


@dataclass(frozen=True)
class TenantKey:
    """A freshly created tenant key: id, name, tenant and the secret (shown once)."""

    id: str
    name: str
    tenant: str
    encoded: str
    expires: str | None


def tenant_descriptor(tiers: TierTable, tenant: str) -> dict[str, Any]:
    """Return the role descriptor of a tenant key: read ``tenant``'s enterprise events only (pure).

    Args:
        tiers: the namespace.
        tenant: the ``organization.id`` the key may read.

    Returns:
        A role descriptor with a document-level-security query.
    """
    return {
        "cluster": [],
        "indices": [{
            "names": [tiers.class_pattern(TENANT_CLASS)],
            "privileges": list(TENANT_PRIVILEGES),
            "query": {"term": {TENANT_FIELD: tenant}},
        }],
        "metadata": {"managed_by": MANAGED_BY, "role": TENANT},
    }


def broader_than_tenant(descriptors: object) -> bool:
    """Tell whether an API key's role descriptors grant more than a tenant key made now would (pure).

    Tenant keys made before their privileges were narrowed to ``TENANT_PRIVILEGES`` keep ``read`` and
    ``view_index_metadata`` (term vectors, explain, terms enum, mappings, ...) until they are recreated.

    Args:
        descriptors: the key's ``role_descriptors`` as ``_security/_query/api_key`` returns them.

    Returns:
        True when a descriptor holds a cluster privilege or an index privilege outside ``TENANT_PRIVILEGES``,
        or when there is none at all (such a key has every privilege of the user who made it).
    """
    return broader_than(descriptors, None, TENANT_PRIVILEGES)


def broader_than(descriptors: object, names: Collection[str] | None, privileges: Collection[str]) -> bool:
    """Tell whether an API key's role descriptors grant more than ``privileges`` on exactly ``names`` (pure).

    Args:
        descriptors: the key's ``role_descriptors`` as ``_security/_query/api_key`` returns them.
        names: the index names (patterns, regular expressions) a key made now holds; None: any (a tenant key's
            query, not its names, is what keeps it to its tenant).
        privileges: the index privileges a key made now holds.

    Returns:
        True when a descriptor holds a cluster privilege (or run-as, application, remote privileges), an index
        privilege outside ``privileges``, an index name outside ``names`` or restricted indices, or when there is
        no descriptor at all (such a key has every privilege of the user who made it).
    """
    if not isinstance(descriptors, Mapping):
        return False  # not Elasticsearch's shape: nothing to judge by, and ``keys list`` must still answer
    if not descriptors:
        return True
    return any(_descriptor_broader(descriptor, names, privileges) for descriptor in descriptors.values())


#: grants outside the index privileges that no auditlog key holds
_OTHER_GRANTS = ("cluster", "global", "run_as", "applications", "remote_indices", "remote_cluster")


def _index_entries(descriptor: object) -> list[Mapping[str, Any]]:
    """A role descriptor's ``indices`` entries (none when it is not Elasticsearch's shape)."""
    entries = descriptor.get("indices") if isinstance(descriptor, Mapping) else None
    return [entry for entry in entries if isinstance(entry, Mapping)] if isinstance(entries, list) else []


def _descriptor_broader(descriptor: object, names: Collection[str] | None, privileges: Collection[str]) -> bool:
    if not isinstance(descriptor, Mapping):
        return False
    if any(descriptor.get(grant) for grant in _OTHER_GRANTS):
        return True
    entries = _index_entries(descriptor)
    held = [p for entry in entries for p in entry.get("privileges") or []]
    named = [n for entry in entries for n in entry.get("names") or []]
    return (not set(privileges).issuperset(held) or (names is not None and not set(names).issuperset(named))
            or any(entry.get("allow_restricted_indices") for entry in entries))


#: each privilege a key made now holds, and Elasticsearch's named privileges that include it (``create_doc``: the
#: bulk and create actions; ``manage``: every ``indices:admin/*`` action, ``auto_configure``'s; ``read``: every
#: ``indices:data/read/*`` action, a tenant key's three)
_GRANTED_BY: dict[str, frozenset[str]] = {
    **{action: frozenset({"read", "all"}) for action in TENANT_PRIVILEGES},
    "indices:data/write/bulk": frozenset({"create_doc", "create", "index", "write", "all"}),
    "indices:data/write/index:op_type/create": frozenset({"create_doc", "create", "index", "write", "all"}),
    "auto_configure": frozenset({"auto_configure", "manage", "all"}),
    "read": frozenset({"read", "all"}),
    "view_index_metadata": frozenset({"view_index_metadata", "manage", "all"}),
}

#: what a key of each role made now holds on each of its names
_ROLE_PRIVILEGES = {WRITER: WRITER_PRIVILEGES, READER: READER_PRIVILEGES, TENANT: TENANT_PRIVILEGES}


def _role_names(tiers: TierTable, role: str) -> dict[str, tuple[str, str]]:
    """A key of ``role`` made now: its index names, each with the literal head of every index it matches and how
    it looks to people (``audit-enterprise-`` and ``audit-enterprise-YYYY.MM.DD`` for the writer's daily regex)."""
    classes = tuple(RETENTION_DAYS)
    if role == TENANT:
        return {tiers.class_pattern(TENANT_CLASS): (tiers.daily_head(TENANT_CLASS), tiers.class_pattern(TENANT_CLASS))}
    if role == WRITER:
        return {**{tiers.daily_regex(c): (tiers.daily_head(c), tiers.daily_shape(c)) for c in classes},
                **{tiers.digest_daily_regex(c): (tiers.digest_daily_head(c), tiers.digest_daily_shape(c))
                   for c in classes}}
    return {**{tiers.daily_head(c) + "*": (tiers.daily_head(c), tiers.daily_head(c) + "*") for c in classes},
            **{tiers.digest_daily_head(c) + "*": (tiers.digest_daily_head(c), tiers.digest_daily_head(c) + "*")
               for c in classes}}


def _name_covers(held: object, name: str, head: str) -> bool:
    """Whether an index name a key holds covers every index ``name`` matches (all of which start with ``head``):
    the same name, or a wildcard whose one ``*`` ends it after a start of ``head`` (``audit-*``, ``*``)."""
    if not isinstance(held, str):
        return False
    if held == name:
        return True
    stem = held[:-1]
    return held.endswith("*") and not held.startswith("/") and not any(c in stem for c in "*?") and \
        head.startswith(stem)


def _privilege_covers(held: object, privilege: str) -> bool:
    """Whether a privilege a key holds includes ``privilege`` (a named one that does, or an action pattern)."""
    if not isinstance(held, str):
        return False
    if held == privilege or held in _GRANTED_BY.get(privilege, frozenset()):
        return True
    stem = held[:-1]
    return privilege.startswith("indices:") and held.endswith("*") and "*" not in stem and privilege.startswith(stem)


def not_held(descriptors: object, tiers: TierTable, role: str, tenant: str | None = None) -> str | None:
    """Return what a ``role`` key made now holds that a key of these descriptors does not, or None (pure).

    Giving a key the current descriptor in place is narrowing only when the old one holds all of it; else it
    would widen the key (a writer key of the first versions holds no digest index). The same goes for the
    privileges its maker had when it was made (``limited_by``, see ``narrow_keys``).

    An entry with a field restriction (``field_security``) or a document-level ``query`` grants less than a new
    key's entry, so it holds nothing here, with one exception for a tenant key: a ``query`` that is the new
    descriptor's own (``{"term": {"organization.id": tenant}}``, as text or object, ``value`` form or not) holds
    it. The key's own query restricts it to ``tenant``'s events before and after; an entry restricted to exactly
    those events granted all of them, so the key saw all it will see (a key's or role's query names one tenant).
    Any other query (another tenant, a ``terms``, a ``bool``, a template) may hide some of them: it holds nothing.

    Args:
        descriptors: the key's ``role_descriptors`` as ``_security/_query/api_key`` returns them, or its maker's
            roles when it was made (``limited_by``); none at all holds everything its maker may.
        tiers: the namespace.
        role: ``writer``, ``reader`` or ``tenant``.
        tenant: a tenant key's ``organization.id`` (the only document-level query that holds a tenant key's
            grants); None for a writer or reader key.

    Returns:
        One privilege on one index shape that the key lacks (``auto_configure on audit.digest-enterprise-...``,
        ``indices:data/read/search on org-1's events in audit-enterprise-*``), or None when it holds all of them.
    """
    if isinstance(descriptors, Mapping) and not descriptors:
        return None
    given = descriptors.values() if isinstance(descriptors, Mapping) else []
    entries = [entry for descriptor in given for entry in _index_entries(descriptor)
               if not entry.get("field_security") and
               (not entry.get("query") or (tenant is not None and _query_tenant(entry["query"]) == tenant))]
    events = f"{tenant}'s events in " if role == TENANT else ""
    for name, (head, shape) in _role_names(tiers, role).items():
        for privilege in _ROLE_PRIVILEGES[role]:
            if not any(any(_name_covers(n, name, head) for n in entry.get("names") or []) and
                       any(_privilege_covers(p, privilege) for p in entry.get("privileges") or [])
                       for entry in entries):
                return f"{privilege} on {events}{shape}"
    return None


def licence_type(client: Elasticsearch) -> tuple[str, str]:
    """Return the cluster's licence type and status (``("trial", "active")``; ``("none", "missing")`` without one)."""
    try:
        licence = client.license.get()["license"]
    except NotFoundError:
        # a cluster generates its basic licence a moment after it first forms
        return "none", "missing"
    return str(licence.get("type", "")), str(licence.get("status", ""))


def require_dls(client: Elasticsearch) -> None:
    """Raise ``KeyRefused`` unless the cluster's licence includes document-level security.

    Raises:
        KeyRefused: one line naming the licence requirement and the documented alternative.
    """
    kind, status = licence_type(client)
    if kind not in DLS_LICENCES or status != "active":
        raise KeyRefused(
            f"tenant keys need document-level security, which this cluster's licence ({kind or 'none'}, {status}) "
            "does not include (trial, platinum or enterprise needed); see docs/elastic-admin.md "
            "'Tenant keys without document-level security' for the alternative"
        )


def tenant_tier(client: Elasticsearch, tiers: TierTable, tenant: str) -> str | None:
    """Return the tier on ``tenant``'s newest event, ``None`` when it has none.

    Raises:
        elasticsearch.ApiError / ConnectionError: when the cluster fails.
    """
    response = client.search(
        index=tiers.read_pattern, allow_no_indices=True, query={"term": {TENANT_FIELD: tenant}},
        sort=SORT[:1], size=1, source_includes=[F.tier], track_total_hits=False,
    )
    hits = response.get("hits", {}).get("hits", [])
    if not hits:
        return None
    tier = (hits[0].get("_source") or {}).get("audit", {}).get("tier")
    return str(tier) if tier else None


def create_tenant_key(
    client: Elasticsearch, tiers: TierTable, tenant: str, *, expiration: str | None = None, force: bool = False,
    now: datetime | None = None,
) -> TenantKey:
    """Create a tenant key that reads only ``tenant``'s enterprise events.

    Args:
        client: a client with ``manage_api_key`` (or ``manage_own_api_key``) and read on the audit indices.
        tiers: the namespace.
        tenant: the ``organization.id``.
        expiration: lifetime, e.g. ``"30d"``; ``None`` never expires.
        force: create it even when the tenant's newest event is not on an enterprise-class tier.
        now: timestamp used in the key name (injectable for tests).

    Returns:
        The key with its secret (shown once).

    Raises:
        KeyRefused: the licence lacks document-level security, or the tenant is not enterprise (without ``force``).
    """
    require_dls(client)
    if not force:
        tier = tenant_tier(client, tiers, tenant)
        if tier not in CUSTOMER_VIEW_TIERS:
            found = "has no events" if tier is None else f"is on tier {tier!r}"
            raise KeyRefused(f"tenant {tenant!r} {found}: tenant keys are for {', '.join(sorted(CUSTOMER_VIEW_TIERS))} "
                            "tenants (the customer view); add --force to create one anyway")
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    name = f"{tiers.prefix}-{TENANT}-{tenant}-{stamp}"
    body: dict[str, Any] = {
        "name": name,
        "role_descriptors": {f"{tiers.prefix}-{TENANT}": tenant_descriptor(tiers, tenant)},
        "metadata": {"managed_by": MANAGED_BY, "role": TENANT, "tenant": tenant, "namespace": tiers.prefix},
    }
    if expiration:
        body["expiration"] = expiration
    created = client.security.create_api_key(**body)
    expires = created.get("expiration")
    return TenantKey(id=str(created["id"]), name=name, tenant=tenant, encoded=str(created["encoded"]),
                     expires=_iso(expires) if expires else None)


def _iso(millis: int) -> str:
    return datetime.fromtimestamp(millis / 1000, UTC).isoformat(timespec="seconds")


def list_keys(client: Elasticsearch, tiers: TierTable, *, include_invalidated: bool = False) -> list[KeyInfo]:
    """Return the namespace's auditlog keys (writer, reader, tenant), oldest first, without secrets.

    Raises:
        elasticsearch.ApiError / ConnectionError: when the cluster refuses or fails.
    """
    now = datetime.now(UTC).timestamp() * 1000
    return [_key_info(key, now, tiers) for key in _stored_keys(client, tiers)
            if include_invalidated or not key.get("invalidated")]


#: why a tenant key cannot verify: `auditlog verify` and `auditlog export --verify` refuse it in these words
TENANT_CANNOT_VERIFY = "digests list every tenant's events; verify with the reader key"

#: keys asked for per page of ``_security/_query/api_key``
KEYS_PAGE = 1000


def _stored_keys(client: Elasticsearch, tiers: TierTable) -> list[dict[str, Any]]:
    """Every auditlog key of the namespace, oldest first, page by page.

    One request of 1,000 used to be all: a namespace with more keys (a tenant key per customer, re-made every
    year) showed only the oldest 1,000 in ``keys list`` and ``keys narrow`` passed the rest over, broader keys
    included, without a word. Pages follow ``search_after`` on (creation, index order); an answer that does not
    move on ends the listing rather than looping.
    """
    query = {"bool": {"filter": [{"term": {"metadata.managed_by": MANAGED_BY}},
                                 {"term": {"metadata.namespace": tiers.prefix}}]}}
    out: list[dict[str, Any]] = []
    after: list[Any] | None = None
    while True:
        found = client.security.query_api_keys(query=query, sort=["creation", "_doc"], size=KEYS_PAGE,
                                               search_after=after)
        page = [key for key in found.get("api_keys", []) if isinstance(key, dict)]
        out += page
        last = page[-1].get("_sort") if page else None
        if len(page) < KEYS_PAGE or not isinstance(last, list) or last == after:
            return out
        after = last


def _key_info(key: dict[str, Any], now_millis: float, tiers: TierTable) -> KeyInfo:
    meta = key.get("metadata") or {}
    role = str(meta.get("role") or "?")
    # anyone who may make an API key may put anything into its metadata: a tenant that is not text is none
    tenant = meta.get("tenant")
    expiration = key.get("expiration")
    expired = expiration is not None and int(expiration) <= now_millis  # Elasticsearch updates no expired key
    return KeyInfo(
        id=str(key["id"]), name=str(key.get("name") or ""), role=role,
        tenant=tenant if isinstance(tenant, str) else None, created=_iso(int(key["creation"])),
        expires=_iso(int(expiration)) if expiration else None, invalidated=bool(key.get("invalidated")),
        broader=not expired and _broader(role, key.get("role_descriptors"), tiers),
    )


def _broader(role: str, descriptors: object, tiers: TierTable) -> bool:
    """Whether a key of ``role`` (its metadata's) grants more than one made now would; keys of no role we make: no."""
    if role == TENANT:
        return broader_than_tenant(descriptors)
    if role in _ROLE_PRIVILEGES:
        return broader_than(descriptors, _role_names(tiers, role), _ROLE_PRIVILEGES[role])
    return False


def descriptor_tenants(descriptors: object) -> set[str] | None:
    """Return the tenants the document-level queries of an API key's role descriptors name (pure).

    Args:
        descriptors: the key's ``role_descriptors`` as ``_security/_query/api_key`` returns them (a query
            may come back as a JSON string or an object).

    Returns:
        The ``organization.id`` values of the ``term`` queries, or None when an index entry has no such query
        (it reads every tenant's events) or the shape is not Elasticsearch's.
    """
    if not isinstance(descriptors, Mapping):
        return None
    tenants: set[str] = set()
    for descriptor in descriptors.values():
        entries = descriptor.get("indices") if isinstance(descriptor, Mapping) else None
        for entry in entries if isinstance(entries, list) else []:
            value = _query_tenant(entry.get("query") if isinstance(entry, Mapping) else None)
            if value is None:
                return None
            tenants.add(value)
    return tenants


def _query_tenant(query: object) -> str | None:
    """The tenant a document-level query names (``{"term": {"organization.id": ORG}}``, as text or object, with or
    without ``value``), or None when it is no such query."""
    if isinstance(query, str):
        try:
            query = json.loads(query)
        except ValueError:
            return None
    term = query.get("term") if isinstance(query, Mapping) else None
    value = term.get(TENANT_FIELD) if isinstance(term, Mapping) else None
    value = value.get("value") if isinstance(value, Mapping) else value
    return value if isinstance(value, str) else None


def revoke_keys(client: Elasticsearch, ids: list[str]) -> list[str]:
    """Invalidate API keys by id; a revoked key gets 401 from then on.

    Returns:
        The ids Elasticsearch invalidated now (already invalid ones are not repeated).

    Raises:
        KeyRefused: an id Elasticsearch does not know.
    """
    try:
        answer = client.security.invalidate_api_key(ids=ids)
    except ApiError as exc:
        if exc.meta.status == 404:
            raise KeyRefused(f"no API key with id {', '.join(ids)}") from None
        raise
    done = [str(i) for i in answer.get("invalidated_api_keys", [])] + \
        [str(i) for i in answer.get("previously_invalidated_api_keys", [])]
    unknown = [i for i in ids if i not in done]
    if unknown:
        raise KeyRefused(f"no API key with id {', '.join(unknown)}")
    return [str(i) for i in answer.get("invalidated_api_keys", [])]


@dataclass(frozen=True)
class Narrowed:
    """One broader key ``narrow_keys`` worked on: narrowed, or why not."""

    id: str
    tenant: str | None
    #: None when the key now holds a new key's descriptor; else one line saying why it does not
    problem: str | None = None
    #: the key's role (its metadata's): tenant, writer or reader; empty for an id that is no broader key
    role: str = TENANT


def narrow_keys(client: Elasticsearch, tiers: TierTable, ids: Sequence[str] = ()) -> Iterator[Narrowed]:
    """Give the namespace's broader keys (or those of ``ids``) a new key's descriptor of their role, in place.

    A key keeps its id, secret and metadata, so whoever holds it (the customer's admin, the agent) changes
    nothing. A tenant key loses what ``TENANT_PRIVILEGES`` no longer grants (term vectors, explain, get,
    mappings, ...); its tenant stays: it is narrowed only when its document-level query and its metadata name
    the same one tenant, else it is reported (revoke it and make a new one). A writer or reader key gets its
    role's descriptor as ``auditlog setup --api-keys`` makes it now (a writer key made before version 5 loses
    the class patterns, keeping the daily names). Any key is narrowed only when its old descriptor and its
    maker's privileges when it was made (``limited_by``: an update takes the maker's privileges of today) hold
    all of the new one (``not_held``; for a tenant key: its class's index names and ``TENANT_PRIVILEGES``, not
    restricted by another document-level query or a field restriction): narrowing never widens, such a key is
    reported. Expired keys are not broader (Elasticsearch updates none).
    Elasticsearch lets only the user who made a key update it: for anyone else it answers as if the key did
    not exist.

    Args:
        client: a client of the user who made the keys.
        tiers: the namespace.
        ids: only these keys (each must be one of the namespace's broader keys); all when empty.

    Yields:
        One result per key as it is done, in creation order (then ids that are not broader keys).

    Raises:
        elasticsearch.ApiError / ConnectionError: when listing the keys fails.
    """
    now = datetime.now(UTC).timestamp() * 1000
    found: set[str] = set()
    for stored in _stored_keys(client, tiers):
        key = _key_info(stored, now, tiers)
        if key.invalidated or not key.broader or (ids and key.id not in ids):
            continue
        found.add(key.id)
        tenant = key.tenant if key.role == TENANT else None
        if key.role == TENANT:
            queried = descriptor_tenants(stored.get("role_descriptors"))
            if queried != {key.tenant}:  # narrowing must never move a key to another tenant's events
                reads = "every tenant" if queried is None else ", ".join(sorted(queried)) or "no index"
                yield Narrowed(key.id, key.tenant,
                               one_line(f"its role reads {reads} but its metadata names {key.tenant!r}: "
                                        "revoke it and make a new one"))
                continue
        lacks = not_held(stored.get("role_descriptors"), tiers, key.role, tenant)
        restricted = _restricted(stored.get("role_descriptors"))
        if restricted is not None:  # the update replaces the descriptors whole: the restriction would be gone
            problem: str | None = one_line(f"its role {restricted!r} holds a restriction (the workflows it may "
                                           "serve) that a new key does not: narrowing would lift it; revoke it and "
                                           "make a new one")
        elif lacks is not None:
            problem = one_line(f"its role lacks {lacks}, which a new {key.role} key holds: narrowing would widen it; "
                               "revoke it and make a new one")
        else:
            problem = _maker_lacks(client, key, tiers)
        if problem is not None:
            yield Narrowed(key.id, tenant, problem, key.role)
        elif key.role == TENANT:
            yield _narrow(client, tiers, key)
        else:
            yield _update(client, key, key_role_descriptors(tiers, key.role))
    for unknown in dict.fromkeys(ids):
        if unknown not in found:
            yield Narrowed(unknown, None, f"not a broader key of namespace {tiers.prefix}", "")


def _restricted(descriptors: object) -> str | None:
    """The name of a descriptor of ``descriptors`` that holds a ``restriction`` (None: none does)."""
    if not isinstance(descriptors, Mapping):
        return None
    return next((str(name) for name, descriptor in descriptors.items()
                 if isinstance(descriptor, Mapping) and descriptor.get("restriction")), None)


def _maker_lacks(client: Elasticsearch, key: KeyInfo, tiers: TierTable) -> str | None:
    """Why narrowing ``key`` could widen it through its maker's privileges, or None when it cannot (one line).

    A key may do what its descriptors grant *and* its maker could when it was made (``limited_by``, a snapshot);
    updating it takes a new snapshot of the maker's privileges of today. A maker given more since then (a key
    made by a user who could only read, holding ``all``; a tenant key made by a user who could read only another
    tenant's events, or no enterprise index) would hand the key what it never could do: the update narrows only
    when that old snapshot held everything a new key of its role holds (``not_held``: for a tenant key, a snapshot
    entry restricted by the key's own tenant query holds, any other query or field restriction does not).
    """
    try:
        # owner: a user with only manage_own_api_key may read its own keys' snapshots, and is refused (403) without it
        found = client.security.get_api_key(id=key.id, owner=True, with_limited_by=True).get("api_keys") or []
    except ApiError as exc:
        if exc.meta.status == 404:  # not this user's key: the update is refused too, and says who may change it
            return None
        return one_line(f"its maker's privileges could not be read ({exc.meta.status}): {error_reason(exc)}; "
                        "narrowing could widen it: revoke it and make a new one")
    if not found:
        return None  # as a 404
    limited = found[0].get("limited_by") if isinstance(found[0], Mapping) else None
    # a list of {role name: descriptor}, one per role the maker had: any of them grants
    snapshot = {f"{i}:{name}": descriptor for i, roles in enumerate(limited if isinstance(limited, list) else [])
                if isinstance(roles, Mapping) for name, descriptor in roles.items()}
    lacks = not_held(snapshot, tiers, key.role, key.tenant if key.role == TENANT else None) if snapshot \
        else "every privilege"
    if lacks is None:
        return None
    return one_line(f"its maker could not grant {lacks} when it was made, and updating it would grant the maker's "
                    "privileges of today: narrowing could widen it; revoke it and make a new one")


def _narrow(client: Elasticsearch, tiers: TierTable, key: KeyInfo) -> Narrowed:
    if not isinstance(key.tenant, str) or not key.tenant:
        return Narrowed(key.id, None, "its metadata names no tenant: revoke it")
    return _update(client, key, {f"{tiers.prefix}-{TENANT}": tenant_descriptor(tiers, key.tenant)})


def _update(client: Elasticsearch, key: KeyInfo, descriptors: dict[str, Any]) -> Narrowed:
    """Give ``key`` ``descriptors`` in place (id, secret, metadata kept); a refusal is one line, not raised."""
    tenant = key.tenant if key.role == TENANT else None
    try:
        client.security.update_api_key(id=key.id, role_descriptors=descriptors)
    except ApiError as exc:
        owner = " (only the user who made a key may change it: revoke it and make a new one)" \
            if exc.meta.status in (403, 404) else ""
        return Narrowed(key.id, tenant, one_line(f"Elasticsearch refused ({exc.meta.status}): "
                                                 f"{error_reason(exc)}{owner}"), key.role)
    return Narrowed(key.id, tenant, None, key.role)


def key_scope(client: Elasticsearch) -> TenantScope | None:
    """Return the tenant scope when the client authenticates with an auditlog tenant key, else ``None``.

    The key's own metadata says which tenant it reads (a key may read its own record and cannot change it).

    Raises:
        elasticsearch.ApiError / ConnectionError: when the cluster refuses or fails.
        CommandError: when the key names a namespace this version refuses (a prefix another's patterns cover).
    """
    try:
        who = client.security.authenticate()
    except ApiError as exc:
        if exc.meta.status in (401, 403):
            raise
        return None  # security is off: there is no key to follow
    if who.get("authentication_type") != "api_key":
        return None
    key_id = str((who.get("api_key") or {}).get("id") or "")
    keys = client.security.get_api_key(id=key_id).get("api_keys", [])
    meta = (keys[0].get("metadata") or {}) if keys else {}
    if meta.get("managed_by") != MANAGED_BY or meta.get("role") != TENANT or not meta.get("tenant"):
        return None
    namespace = str(meta.get("namespace") or "audit")
    try:
        tiers = TierTable(prefix=namespace)
    except ValueError as exc:  # a namespace an earlier version took: say so, not "an answer of another shape"
        raise CommandError(f"this tenant key's namespace cannot be used: {exc}") from None
    return TenantScope(tenant=str(meta["tenant"]), namespace=namespace,
                       index=tiers.class_pattern(TENANT_CLASS), key_id=key_id)

