"""Roles and API keys with the least privilege each auditlog component needs.

Two roles on the namespace's event indices (``audit-enterprise-*``, ``audit-business-*``, ``audit-professional-*``)
and its digest indices (``audit.digest-<class>-*``, tamper evidence: the agent appends signed digests there,
verify reads them), modelled on Beats' writer/reader roles. Per retention class, never ``audit-*``: that also
covers every namespace whose prefix starts with ``audit-`` (a writer key of ``audit`` could append to
``audit-staging``'s indices and forge its digests, or auto-create ``audit-zzz`` with a mapping of its own that
breaks every reader's sort).

- writer (the agent): the actions of a bulk ``create`` (``indices:data/write/bulk`` and
  ``indices:data/write/index:op_type/create``: append only, it can neither overwrite nor delete an event) and
  ``auto_configure`` (an event for a day whose index does not exist yet, e.g. a late one, auto-creates it,
  with settings and mappings from our templates; setup and retention enforce create today's and tomorrow's
  ahead). On the daily names only: its ``names`` are Lucene regular expressions
  (:meth:`~indexer.tiers.TierTable.daily_regex`, ``/audit-enterprise-[0-9]{4}\\.(0[1-9]|1[0-2])\\.(...)/``)
  matching exactly the names the agent makes, ``<prefix>-<class>-YYYY.MM.DD`` and
  ``<prefix>.digest-<class>-YYYY.MM.DD``. The class pattern ``audit-enterprise-*`` would let a leaked key
  auto-create ``audit-enterprise-evil`` or ``audit-enterprise-2026.01.01x``: our templates shape them, but
  readers, exports and tenant keys show their events and no digest covers them (verify reports them as
  inserted), and each new name takes shards until the cluster's limit refuses the next real day; nor could a
  key write to an index an admin made there (``audit-enterprise-archive``). Elasticsearch matches the
  expressions, not our client. Not the named privilege ``create_doc``: Elasticsearch 9 still lets it put
  mappings (``indices:admin/mapping/put``, deprecated), so a leaked agent key could add a runtime field
  shadowing ``organization.id`` to a day's index, which then fails every tenant key's document-level query and
  every tenant filter until the index expires (and, where Painless is installed, could make that query match
  other tenants' events); nor does the agent need its auto-generated ids (every event and digest has an
  ``_id``). Nothing else: no ``create_index`` (a leaked agent key cannot pre-create tomorrow's index with a
  write block or a mapping of its own), no ``read`` (it cannot read the audit trail), no cluster privilege
  (the agent's pre-flight uses ``_has_privileges`` and ``_authenticate``, which need none).
- reader (TUI, export, ``auditlog show``, verify, support staff): ``read`` and ``view_index_metadata`` on the
  class patterns, wildcards kept: it must see whatever readers see under ``audit-<class>-*`` (an admin's index,
  an old key's stray one) so that verify can report those events as inserted. It cannot write, delete or
  change anything. It reads every tenant: customers get tenant keys (``indexer.keys``), never the reader key.

Roles are named ``<prefix>-writer`` / ``<prefix>-reader`` and carry ``metadata.version``; setup
replaces an older role and leaves an equal one alone. API keys embed the same descriptors (an API
key's privileges are the intersection of its descriptors and its creator's), so they keep working
even if the named roles are later edited, and keys made before version 5 keep the class patterns until
they are replaced. Each ``--api-keys`` run makes *new* keys (a key's secret is shown only once); revoke old
ones with ``auditlog keys revoke`` (or ``POST _security/api_key/_invalidate``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from elasticsearch import ApiError, Elasticsearch

from auditlog.indexer.templates import ENV as _ENV
from auditlog.indexer.tiers import TierTable

#: Bump when a role descriptor changes.
ROLE_VERSION = 5  # 3: one pattern per retention class instead of <prefix>-* and <prefix>.digest-*; 4: no create_doc;
#                 5: the writer's names are regular expressions of the daily names, not the class patterns

WRITER, READER = "writer", "reader"

#: The agent's index privileges: a bulk ``create`` (append only), and auto-create the day's index through the
#: templates. Action names, not ``create_doc``, which also allows ``PUT <index>/_mapping`` (module docstring).
WRITER_PRIVILEGES = ("indices:data/write/bulk", "indices:data/write/index:op_type/create", "auto_configure")
#: Support staff's index privileges (TUI, export, show).
READER_PRIVILEGES = ("read", "view_index_metadata")


def role_name(tiers: TierTable, role: str) -> str:
    """Return the role name for ``writer`` or ``reader`` in a namespace (``audit-writer``)."""
    return f"{tiers.prefix}-{role}"


def role_descriptors(tiers: TierTable) -> dict[str, dict[str, Any]]:
    """Return the role descriptors (``PUT _security/role`` bodies) by role name (pure).

    Args:
        tiers: the namespace: the writer may append to its daily indices (regular expressions), the reader
            read its class patterns.

    Returns:
        ``{"<prefix>-writer": {...}, "<prefix>-reader": {...}}``.
    """
    meta = {"managed_by": "auditlog", "version": ROLE_VERSION}
    return {
        role_name(tiers, WRITER): {
            "description": "auditlog agent: append audit events (auto-creating the day's index); no read, no delete",
            "cluster": [],
            "indices": [{"names": [*tiers.daily_regexes, *tiers.digest_daily_regexes],
                         "privileges": list(WRITER_PRIVILEGES)}],
            "metadata": {**meta, "role": WRITER},
        },
        role_name(tiers, READER): {
            "description": "auditlog TUI/export: search and read audit events; no write, no delete",
            "cluster": [],
            "indices": [{"names": [*tiers.read_patterns, *tiers.digest_patterns],
                         "privileges": list(READER_PRIVILEGES)}],
            "metadata": {**meta, "role": READER},
        },
    }


def key_role_descriptors(tiers: TierTable, role: str) -> dict[str, dict[str, Any]]:
    """Return the ``role_descriptors`` an API key of ``role`` embeds: the role's descriptor, no description (pure).

    What ``create_api_keys`` makes a key with, and what ``auditlog keys narrow`` gives an older key in place.

    Args:
        tiers: the namespace.
        role: ``writer`` or ``reader``.

    Returns:
        ``{"<prefix>-<role>": descriptor}``.

    Raises:
        KeyError: when ``role`` is neither.
    """
    name = role_name(tiers, role)
    return {name: {k: v for k, v in role_descriptors(tiers)[name].items() if k != "description"}}


def roles_yml(tiers: TierTable) -> str:
    """Render the roles as a file-realm ``roles.yml`` (pure).

    For clusters that manage roles as files (config management, or no usable security index): the
    same privileges as the API-stored roles.

    Args:
        tiers: the namespace.

    Returns:
        YAML text for ``config/roles.yml``.
    """
    template = _ENV.get_template("roles.yml.j2")
    return template.render(roles=role_descriptors(tiers), prefix=tiers.prefix, version=ROLE_VERSION)


def security_enabled(client: Elasticsearch) -> bool:
    """Tell whether the cluster has security on (``GET _security/_authenticate`` answers).

    Raises:
        elasticsearch.ApiError / ConnectionError: on other failures (401 included).
    """
    try:
        client.security.authenticate()
    except ApiError as exc:
        # security off: "no handler found" (400) or "Security must be explicitly enabled" (500)
        if exc.meta.status in (400, 404, 405, 410) or (
            exc.meta.status == 500 and "security" in str(exc.message).lower() + str(exc.body).lower()
        ):
            return False
        raise
    return True


def installed_role_version(client: Elasticsearch, name: str) -> int | None:
    """Return ``metadata.version`` of an installed role: ``None`` when absent, 0 when not ours."""
    try:
        found = client.security.get_role(name=name)
    except ApiError as exc:
        if exc.meta.status == 404:
            return None
        raise
    meta = found.get(name, {}).get("metadata") or {}
    return int(meta.get("version") or 0) if meta.get("managed_by") == "auditlog" else 0


def put_role(client: Elasticsearch, name: str, descriptor: dict[str, Any]) -> None:
    """Create or replace one role from its descriptor."""
    client.security.put_role(name=name, body=descriptor)


@dataclass(frozen=True)
class ApiKey:
    """A freshly created API key: which role it has, its id and name, and the secret to hand out."""

    role: str
    id: str
    name: str
    encoded: str

    @property
    def env_line(self) -> str:
        """The environment line the consumer uses (``AUDITLOG_ES_API_KEY=...``)."""
        return f"AUDITLOG_ES_API_KEY={self.encoded}"


def create_api_keys(
    client: Elasticsearch, tiers: TierTable, *, expiration: str | None = None, now: datetime | None = None
) -> list[ApiKey]:
    """Create one writer and one reader API key with the role descriptors embedded.

    Args:
        client: a client with ``manage_api_key`` (or ``manage_own_api_key``) and the privileges it delegates.
        tiers: the namespace.
        expiration: e.g. ``"90d"``; ``None`` means the keys do not expire.
        now: timestamp used in the key names (injectable for tests).

    Returns:
        The writer key, then the reader key.
    """
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    keys = []
    for role in (WRITER, READER):
        key_name = f"{role_name(tiers, role)}-{stamp}"
        kwargs: dict[str, Any] = {
            "name": key_name,
            "role_descriptors": key_role_descriptors(tiers, role),
            "metadata": {"managed_by": "auditlog", "role": role, "namespace": tiers.prefix},
        }
        if expiration:
            kwargs["expiration"] = expiration
        created = client.security.create_api_key(**kwargs)
        keys.append(ApiKey(role, str(created["id"]), key_name, str(created["encoded"])))
    return keys
