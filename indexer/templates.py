"""Render the Elasticsearch component and index templates for one index namespace (pure, no I/O).

The JSON lives in ``indexer/templates/*.json.j2`` (Jinja2) so an Elasticsearch admin can read it as
JSON; this module fills in the namespace, retention classes, limits and lifecycle settings and
checks that the result is valid JSON.

Layout (for prefix ``audit``):

- component ``audit-settings``: shards, replicas (``0-1``), codec, default query fields;
- component ``audit-mappings``: the ECS-aligned mapping of event contract v1, ``dynamic: false``;
- index template ``audit-<class>`` per retention class, pattern ``audit-<class>-*``, composed of both
  components, plus ``index.lifecycle.*`` settings only when the cluster has ILM.

``audit.changes`` (the seed's "Raw") is mapped as ``flattened`` with ``ignore_above``: the whole object is
kept in ``_source`` exactly as sent, and every leaf value is also searchable as a keyword
(``audit.changes.status.new: cancelled`` in Kibana) without adding one mapping field per changed
attribute. ``flattened`` exists in both the default and the minimal test distribution; ``ignore_above``
keeps huge values (long texts, blobs) from ever rejecting an event: they stay in ``_source`` unindexed.

Every body carries ``version`` (``TEMPLATE_VERSION``) and a ``_meta.digest`` of its content, so
``indexer.setup`` can tell "unchanged" from "older, replace it" and never downgrades a newer install.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jinja2

from auditlog.core.contract import F
from auditlog.indexer.integrity import DIGEST_EXTRA_DAYS
from auditlog.indexer.tiers import RETENTION_DAYS, TierTable

#: Bump when any rendered body changes; setup replaces templates with a lower version.
TEMPLATE_VERSION = 2

#: Priority of our index templates: above the default distribution's built-in ``logs-*-*`` (100).
INDEX_TEMPLATE_PRIORITY = 200

#: Fields a query_string / Kibana free-text search looks at when it names none.
DEFAULT_QUERY_FIELDS: tuple[str, ...] = (
    F.message,
    f"{F.tenant_name}.text",
    f"{F.worker_name}.text",
    F.worker_email,
    F.action,
    F.source,
    F.changed_fields,
    f"{F.url}.text",
)

#: Mapping of ``audit.changes``: stored as sent, leaves searchable as keywords, never rejected for size.
CHANGES_MAPPING: dict[str, Any] = {"type": "flattened", "ignore_above": 1024, "depth_limit": 20}

Body = dict[str, Any]


@dataclass(frozen=True)
class MappingFeatures:
    """Field types the cluster offers beyond the minimal distribution (ECS uses them where it can)."""

    match_only_text: bool = False  # module mapper-extras: ECS's type of message and the .text multi-fields
    wildcard: bool = False  # module wildcard: ECS's type of url.full

    @classmethod
    def ecs(cls) -> MappingFeatures:
        """Everything ECS uses (the default distribution)."""
        return cls(match_only_text=True, wildcard=True)


@dataclass(frozen=True)
class RenderedTemplate:
    """One template ready for ``PUT``: its kind (``component`` / ``index``), name and body."""

    kind: str
    name: str
    body: Body

    @property
    def version(self) -> int:
        """The ``version`` the body carries."""
        return int(self.body["version"])

    @property
    def digest(self) -> str:
        """Content digest stored in ``_meta.digest``."""
        return str(self.body["_meta"]["digest"])


#: The Jinja2 environment of ``indexer/templates`` (also renders ``roles.yml.j2`` for ``indexer.security``).
ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("auditlog.indexer", "templates"),
    undefined=jinja2.StrictUndefined,
    autoescape=False,
    keep_trailing_newline=True,
)


def _render(template: str, **context: Any) -> Body:
    text = ENV.get_template(template).render(**context)
    try:
        body: Body = json.loads(text)
    except json.JSONDecodeError as exc:  # a broken .j2 is a programming error: say which file
        raise ValueError(f"{template} rendered invalid JSON: {exc}") from exc
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]
    body.setdefault("_meta", {})["digest"] = digest
    return body


def component_names(tiers: TierTable) -> list[str]:
    """Return the component template names of a namespace, in ``composed_of`` order."""
    return [f"{tiers.prefix}-settings", f"{tiers.prefix}-mappings"]


def index_template_name(tiers: TierTable, cls: str) -> str:
    """Return the index template name of retention class ``cls``."""
    return f"{tiers.prefix}-{cls}"


def policy_name(tiers: TierTable, cls: str) -> str:
    """Return the ILM policy name of retention class ``cls`` (``audit-enterprise`` for the default prefix)."""
    return f"{tiers.prefix}-{cls}"


def render_component_templates(
    tiers: TierTable, *, max_replicas: int = 1, features: MappingFeatures | None = None
) -> list[RenderedTemplate]:
    """Render the settings and mappings component templates.

    Args:
        tiers: the namespace (only its prefix is used for names).
        max_replicas: upper bound of ``auto_expand_replicas``.
        features: the field types the cluster offers (default: none beyond the minimal distribution).

    Returns:
        The two component templates, settings first.
    """
    settings_name, mappings_name = component_names(tiers)
    settings = _render(
        "settings.json.j2",
        version=TEMPLATE_VERSION,
        shards=1,
        max_replicas=max_replicas,
        refresh_interval="1s",
        default_fields=list(DEFAULT_QUERY_FIELDS),
    )
    features = features or MappingFeatures()
    mappings = _render(
        "mappings.json.j2",
        version=TEMPLATE_VERSION,
        text_type="match_only_text" if features.match_only_text else "text",
        url_type="wildcard" if features.wildcard else "keyword",
        keyword_ignore_above=1024,
        url_ignore_above=8191,
        changes_mapping=CHANGES_MAPPING,
    )
    return [
        RenderedTemplate("component", settings_name, settings),
        RenderedTemplate("component", mappings_name, mappings),
    ]


#: retention class -> number of replicas its indices get (``auditlog setup`` chooses it, ``indexer.replicas``)
Replicas = Mapping[str, int]


def render_index_templates(tiers: TierTable, *, ilm: bool, replicas: Replicas | None = None) -> list[RenderedTemplate]:
    """Render one index template per retention class.

    Args:
        tiers: the namespace and tier -> class table.
        ilm: whether to add ``index.lifecycle.*`` settings (only where the cluster has ILM; the
            minimal distribution rejects them as unknown settings).
        replicas: a fixed ``number_of_replicas`` per class; a class without one keeps the shared
            ``auto_expand_replicas`` of the settings component.

    Returns:
        The index templates, in ``RETENTION_DAYS`` order.
    """
    rendered = []
    for cls, days in RETENTION_DAYS.items():
        rendered.append(
            RenderedTemplate(
                "index",
                index_template_name(tiers, cls),
                _render(
                    "index_template.json.j2",
                    pattern=tiers.class_pattern(cls),
                    priority=INDEX_TEMPLATE_PRIORITY,
                    version=TEMPLATE_VERSION,
                    composed_of=component_names(tiers),
                    policy=policy_name(tiers, cls) if ilm else None,
                    retention_class=cls,
                    retention_days=days,
                    tiers=sorted(t for t, c in tiers.classes.items() if c == cls),
                    replicas=(replicas or {}).get(cls),
                ),
            )
        )
    return rendered


def digest_name(tiers: TierTable, cls: str) -> str:
    """Return the digest index template and ILM policy name of class ``cls`` (``audit.digest-enterprise``)."""
    return f"{tiers.prefix}.digest-{cls}"


def render_digest_templates(
    tiers: TierTable, *, ilm: bool, replicas: Replicas | None = None
) -> list[RenderedTemplate]:
    """Render one index template per retention class for the digest indices (kept one day longer).

    Args:
        tiers: the namespace.
        ilm: whether to add ``index.lifecycle.*`` settings.
        replicas: a fixed ``number_of_replicas`` per class (as its events); without one ``0-1`` auto-expanded.

    Returns:
        The digest index templates, in ``RETENTION_DAYS`` order.
    """
    return [
        RenderedTemplate("index", digest_name(tiers, cls), _render(
            "digest_template.json.j2",
            pattern=f"{digest_name(tiers, cls)}-*",
            priority=INDEX_TEMPLATE_PRIORITY,
            version=TEMPLATE_VERSION,
            policy=digest_name(tiers, cls) if ilm else None,
            retention_class=cls,
            retention_days=days + DIGEST_EXTRA_DAYS,
            replicas=(replicas or {}).get(cls),
        ))
        for cls, days in RETENTION_DAYS.items()
    ]


def render_all(
    tiers: TierTable, *, ilm: bool, features: MappingFeatures | None = None, replicas: Replicas | None = None
) -> list[RenderedTemplate]:
    """Render every template of a namespace, components first (index templates depend on them)."""
    return render_component_templates(tiers, features=features) + render_index_templates(
        tiers, ilm=ilm, replicas=replicas)
