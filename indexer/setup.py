"""``auditlog setup``: install ILM policies, templates, roles (and optionally API keys, Kibana objects).

Idempotent and versioned: every object we install carries a version, plus a content digest for
templates (``indexer.templates``); ILM policies carry ``policy._meta.version``, roles
``metadata.version``. An object already installed at the same version (and digest) is left alone
("unchanged"), an older or different one is replaced ("updated"), and one with a *higher* version
(installed by a newer auditlog) is kept ("kept-newer") rather than downgraded. Running setup twice
therefore changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from elasticsearch import ApiError, Elasticsearch

from auditlog.indexer import ilm as ilm_mod
from auditlog.indexer import precedence, security
from auditlog.indexer import replicas as replicas_mod
from auditlog.indexer.errors import error_reason
from auditlog.indexer.features import detect_features
from auditlog.indexer.kibana import KibanaSettings, import_objects, load_objects
from auditlog.indexer.templates import MappingFeatures, RenderedTemplate, render_all, render_digest_templates
from auditlog.indexer.tiers import TierTable

CREATED, UPDATED, UNCHANGED, KEPT_NEWER = "created", "updated", "unchanged", "kept-newer"


@dataclass(frozen=True)
class Change:
    """What setup did to one object: its kind, name and the action taken."""

    kind: str
    name: str
    action: str
    detail: str = ""

    def __str__(self) -> str:
        tail = f" ({self.detail})" if self.detail else ""
        return f"{self.action:<10} {self.kind} {self.name}{tail}"


@dataclass
class SetupReport:
    """Everything one ``run_setup`` did, in order, plus notes for the operator."""

    changes: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    api_keys: list[security.ApiKey] = field(default_factory=list)
    replicas: list[replicas_mod.ReplicaChoice] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """True when anything was created or updated."""
        return any(c.action in (CREATED, UPDATED) for c in self.changes)


def _installed_template(client: Elasticsearch, template: RenderedTemplate) -> dict[str, Any] | None:
    try:
        if template.kind == "component":
            found = client.cluster.get_component_template(name=template.name)
            return dict(found["component_templates"][0]["component_template"])
        found = client.indices.get_index_template(name=template.name)
        return dict(found["index_templates"][0]["index_template"])
    except ApiError as exc:
        if exc.meta.status == 404:
            return None
        raise


def _decide(installed_version: int | None, installed_digest: str | None, version: int, digest: str | None) -> str:
    if installed_version is None:
        return CREATED
    if installed_version > version:
        return KEPT_NEWER
    if installed_version == version and installed_digest == digest:
        return UNCHANGED
    return UPDATED


def sync_templates(
    client: Elasticsearch, tiers: TierTable, *, ilm: bool, features: MappingFeatures | None = None,
    replicas: Mapping[str, int] | None = None,
) -> list[Change]:
    """Install or upgrade the component and index templates of a namespace.

    Args:
        client: a client with ``manage_index_templates``.
        tiers: the namespace.
        ilm: whether index templates carry ``index.lifecycle.*`` settings.
        features: the ECS field types to use; ``None`` asks the cluster.
        replicas: ``number_of_replicas`` per class; ``None`` keeps the auto-expanded ``0-1``.

    Returns:
        One ``Change`` per template, components first.

    Raises:
        elasticsearch.ApiError / ConnectionError: on refusal or when the cluster is unreachable.
    """
    changes = []
    features = detect_features(client) if features is None else features
    rendered = render_all(tiers, ilm=ilm, features=features, replicas=replicas) + render_digest_templates(
        tiers, ilm=ilm, replicas=replicas)
    for template in rendered:
        installed = _installed_template(client, template)
        meta = (installed or {}).get("_meta") or {}
        action = _decide(
            None if installed is None else int(installed.get("version") or 0),
            meta.get("digest"),
            template.version,
            template.digest,
        )
        if action in (CREATED, UPDATED):
            if template.kind == "component":
                client.cluster.put_component_template(name=template.name, body=template.body)
            else:
                client.indices.put_index_template(name=template.name, body=template.body)
        changes.append(Change(f"{template.kind} template", template.name, action, f"version {template.version}"))
    return changes


def install_templates(client: Elasticsearch, tiers: TierTable, *, ilm: bool | None = None) -> None:
    """Make sure the namespace's templates are installed, so new daily indices are mapped correctly.

    The entry point for anyone's integration test: call it before indexing into ``tiers``.

    Args:
        client: a client with ``manage_index_templates``.
        tiers: the namespace (``tiers.prefix``).
        ilm: add lifecycle settings; ``None`` detects ILM on the cluster.

    Raises:
        elasticsearch.ApiError / ConnectionError: on refusal or when the cluster is unreachable.
    """
    sync_templates(client, tiers, ilm=ilm_mod.has_ilm(client) if ilm is None else ilm)


def sync_policies(client: Elasticsearch, tiers: TierTable) -> list[Change]:
    """Install or upgrade the ILM delete policies of a namespace (only call where ILM exists).

    Args:
        client: a client with ``manage_ilm``.
        tiers: the namespace (policy names ``<prefix>-<class>``).

    Returns:
        One ``Change`` per policy.
    """
    changes = []
    for request in ilm_mod.policy_requests(tiers) + ilm_mod.digest_policy_requests(tiers):
        version = int(request.body["policy"]["_meta"]["version"])
        installed = ilm_mod.installed_policy_version(client, request.name)
        # ES bumps its own policy version on every PUT: compare ours in _meta, not ES's.
        action = _decide(installed, None, version, None)
        if action in (CREATED, UPDATED):
            client.ilm.put_lifecycle(name=request.name, body=request.body)
        changes.append(Change("ilm policy", request.name, action, f"version {version}"))
    return changes


def sync_roles(client: Elasticsearch, tiers: TierTable) -> list[Change]:
    """Install or upgrade the writer and reader roles of a namespace (only where security is on).

    Args:
        client: a client with ``manage_security``.
        tiers: the namespace.

    Returns:
        One ``Change`` per role.

    Raises:
        SecurityStoreError: the cluster cannot store native roles (no usable security index).
    """
    changes = []
    for name, descriptor in security.role_descriptors(tiers).items():
        version = int(descriptor["metadata"]["version"])
        action = _decide(security.installed_role_version(client, name), None, version, None)
        if action in (CREATED, UPDATED):
            with _security_store(f"role {name}"):
                security.put_role(client, name, descriptor)
        changes.append(Change("role", name, action, f"version {version}"))
    return changes


def _foreign_roles(client: Elasticsearch, tiers: TierTable) -> list[str]:
    """The namespace's role names that hold a role someone else made (``audit-writer`` is a plausible name)."""
    found = []
    for name in security.role_descriptors(tiers):
        try:
            if security.installed_role_version(client, name) == 0:
                found.append(name)
        except ApiError as exc:
            if exc.meta.status in (401, 403):
                raise
            return []  # no usable security index: sync_roles says so in its own words
    return found


class SecurityStoreError(Exception):
    """The cluster refused to store a role or API key in its security index (not a privilege problem)."""


@contextmanager
def _security_store(what: str) -> Iterator[None]:
    try:
        yield
    except ApiError as exc:
        # 401/403 are the caller's credentials: let them through to the one-line privilege message.
        if exc.meta.status in (401, 403):
            raise
        raise SecurityStoreError(f"cannot store {what} in the security index: {error_reason(exc)}") from None



def _choose_replicas(
    client: Elasticsearch, report: SetupReport, overrides: Mapping[str, int] | None
) -> list[replicas_mod.ReplicaChoice]:
    try:
        nodes = replicas_mod.data_node_count(client)
    except ApiError as exc:
        if exc.meta.status != 403:
            raise
        report.notes.append("cannot count the data nodes (needs cluster privilege monitor): replicas stay "
                            "auto-expanded 0-1 per index")
        return []
    return replicas_mod.choose_replicas(nodes, overrides)


def _existing_replicas(client: Elasticsearch, tiers: TierTable, report: SetupReport) -> list[Change]:
    changes = []
    for choice in report.replicas:
        try:
            stale = replicas_mod.stale_indices(client, tiers, choice)
            if stale:
                replicas_mod.apply_to_existing(client, stale, choice.replicas)
        except ApiError as exc:
            if exc.meta.status != 403:
                raise
            report.notes.append(f"existing {choice.retention_class} indices keep their replicas (changing them "
                                f"needs index privilege manage); new ones get {choice.replicas}")
            continue
        if stale:
            changes.append(Change("index settings", tiers.class_pattern(choice.retention_class), UPDATED,
                                  f"number_of_replicas {choice.replicas} on {len(stale)} existing indices"))
    return changes


class SetupError(Exception):
    """Setup cannot do what was asked (e.g. API keys on a cluster without security); one line for the user."""


def run_setup(
    client: Elasticsearch,
    tiers: TierTable,
    *,
    api_keys: bool = False,
    key_expiration: str | None = None,
    kibana: KibanaSettings | None = None,
    replicas: Mapping[str, int] | None = None,
) -> SetupReport:
    """Install everything the indices need, then optionally create API keys and import Kibana objects.

    Order: ILM policies (where ILM exists), replicas per class (from the data nodes, ``indexer.replicas``),
    templates, existing indices' replicas, roles (where security is on), API keys, Kibana. Everything
    but the API keys is idempotent.

    Args:
        client: a client with ``manage_index_templates`` (+ ``manage_ilm``, ``manage_security`` where present).
        tiers: the namespace.
        api_keys: create a writer and a reader API key (needs security).
        key_expiration: lifetime of those keys, e.g. ``"90d"``.
        kibana: where to import the saved objects, if anywhere.
        replicas: class -> ``number_of_replicas`` the operator fixed (the others follow the data nodes).

    Returns:
        What was done, the new keys, and one-line notes (no ILM, no security).

    Raises:
        SetupError: API keys asked for on a cluster without security or without a usable security index; a role
            of the namespace's name exists that auditlog did not make; or another index template of a higher
            priority would override ours for the namespace's daily indices.
        ValueError: ``replicas`` names an unknown class or a negative number.
        SecurityStoreError: the cluster refused to store the API keys.
        KibanaError: the Kibana import failed.
        elasticsearch.ApiError / ConnectionError: refusal, missing privilege, or unreachable cluster.
    """
    report = SetupReport()
    has_security = security.security_enabled(client)
    if api_keys and not has_security:
        raise SetupError("--api-keys needs a cluster with security enabled (xpack.security.enabled: true)")
    foreign = _foreign_roles(client, tiers) if has_security else []
    if foreign:  # before any change: a refusal halfway would leave the namespace half set up
        raise SetupError(f"role {foreign[0]} exists and was not made by auditlog (no metadata.managed_by); setup "
                         "would replace it and give everyone holding it this role's privileges: rename or delete "
                         "it, or choose another --prefix")
    has_ilm = ilm_mod.has_ilm(client)
    if has_ilm:
        # Policies first: an index created between the two steps must find its policy.
        report.changes += sync_policies(client, tiers)
    else:
        report.notes.append(
            "ILM is not available on this cluster: no lifecycle policies installed; "
            "run `auditlog retention enforce` daily (cron/systemd timer) to delete expired indices"
        )
    report.replicas = _choose_replicas(client, report, replicas)
    chosen = {c.retention_class: c.replicas for c in report.replicas} if report.replicas else None
    report.changes += sync_templates(client, tiers, ilm=has_ilm, replicas=chosen)
    # before any index is made from them (the daily indices created ahead): a template of a higher priority
    # matching our names would otherwise give them dynamic mappings, silently (indexer.precedence)
    overridden = precedence.shadowed(client, tiers, datetime.now(UTC).date())
    if overridden:
        raise SetupError(overridden[0].line(len(overridden) - 1))
    report.changes += _existing_replicas(client, tiers, report)
    if has_security:
        try:
            report.changes += sync_roles(client, tiers)
        except SecurityStoreError as exc:
            if api_keys:
                raise SetupError(f"{exc}; API keys cannot be created either") from None
            report.notes.append(f"{exc}; use file-based roles instead: `auditlog setup --print-roles` > roles.yml")
    else:
        report.notes.append("security is off on this cluster: no roles installed, every client may write and delete")
    if api_keys:
        with _security_store("API keys"):
            report.api_keys = security.create_api_keys(client, tiers, expiration=key_expiration)
        report.changes += [Change("api key", k.name, CREATED, f"{k.role}, id {k.id}") for k in report.api_keys]
    if kibana is not None:
        result = import_objects(kibana, load_objects(tiers))
        report.changes.append(Change("kibana objects", kibana.url, "imported", f"{result.success_count} objects"))
    return report
