"""Event contract v1, declared once: every field, its type, limits, enum, ECS path, alias, label and enrichment.

Everything that knows the event's shape derives from :data:`CONTRACT`:

* the validator (``auditlog.agent.contract.validate``: its checks are generated from the fields);
* the pass-through's typed decode (``auditlog.agent.fastpath``: msgspec structs made from the fields);
* the published JSON Schema ``docs/schema/audit-event-v1.json`` (``python -m auditlog.core.schema``);
* the emitter's friendly keywords and context keys (``auditlog.agent.processors.ALIASES``, ``CONTEXT_KEYS``);
* the paths and labels the TUI, the export and the query layer read (:data:`F`, :meth:`Contract.labelled`);
* the enrichment rules (:data:`ENRICHMENTS`): what the emitter, the agent's ``Enricher`` and the
  pass-through's "would the enricher act?" check add or require.

Adding a field is one :class:`Field` here (plus tests); docs/architecture.md shows the example.
This module is pure data and imports nothing of the project.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Literal

__all__ = [
    "CONTRACT",
    "ENRICHMENTS",
    "LONG_MAX",
    "LONG_MIN",
    "SCHEMA_ID",
    "Contract",
    "Enrichment",
    "F",
    "Field",
    "FieldType",
    "Format",
]

#: ``$id`` of the published JSON Schema.
SCHEMA_ID = "urn:auditlog:schema:audit-event:v1"

#: JSON shape of a field's value. ``string_or_list`` is a string or an array of strings (ECS keywords);
#: ``changes`` is ``{name: {"old": v, "new": v}}`` with any JSON values.
FieldType = Literal["string", "integer", "string_list", "string_or_list", "changes"]

#: A string's format beyond its pattern: ``date-time`` (a day that exists in its month), ``ip`` (IPv4/IPv6).
Format = Literal["date-time", "ip"]

#: the range of every ``integer`` field: Elasticsearch's ``long`` (signed 64 bits), which the index templates
#: map them to; a value outside it is the agent's refusal with the field's name, not Elasticsearch's.
LONG_MIN = -(2**63)
LONG_MAX = 2**63 - 1


@dataclass(frozen=True, slots=True)
class Field:
    """One contract field: where it lives, what it holds, and who names or fills it."""

    #: dotted ECS path into the nested event (``@timestamp`` and ``message`` sit at the top).
    path: str
    type: FieldType = "string"
    required: bool = False
    description: str = ""
    min_length: int | None = None
    max_length: int | None = None
    #: a regex valid in Python and ECMA-262 alike (the schema publishes it), anchored by the users.
    pattern: str | None = None
    #: what ``pattern`` means in words, for reasons: "must be <rule>".
    rule: str | None = None
    enum: tuple[str, ...] = ()
    minimum: int | None = None
    format: Format | None = None
    examples: tuple[Any, ...] = ()
    #: the emitter's friendly keyword for it (``tenant`` -> ``organization.id``), if any.
    alias: str | None = None
    #: may be bound per request/task with ``structlog.contextvars``.
    context: bool = False
    #: how the TUI's detail view and the export name it; ``None``: not shown on its own.
    label: str | None = None

    @property
    def bounds(self) -> tuple[int, int]:
        """The smallest and largest value of an ``integer`` field: its ``minimum`` (if any) within a ``long``."""
        return (LONG_MIN if self.minimum is None else max(self.minimum, LONG_MIN), LONG_MAX)

    @property
    def top(self) -> str:
        """The top-level key: ``event`` for ``event.action``, the path itself for a top-level field."""
        return self.path.split(".", 1)[0]

    @property
    def leaf(self) -> str | None:
        """The key inside the top-level object, or ``None`` for a top-level field."""
        parts = self.path.split(".", 1)
        return parts[1] if len(parts) == 2 else None


@dataclass(frozen=True, slots=True)
class Enrichment:
    """A field a producer may leave out because the enricher fills it (the emitter always writes it).

    Filled only when absent (a given value wins), and only when ``when`` (a path) is non-empty, if set.
    """

    path: str
    #: the path the value derives from, or ``None`` when it comes from outside the event (an id).
    source: str | None
    #: how, for the docs.
    how: str
    when: str | None = None


@dataclass(frozen=True)
class Contract:
    """The fields of one contract version, in field order, and what the objects holding them mean."""

    fields: tuple[Field, ...]
    #: top-level object -> its description in the schema.
    objects: dict[str, str] = field(default_factory=dict)
    enrichments: tuple[Enrichment, ...] = ()

    def __post_init__(self) -> None:
        paths = [f.path for f in self.fields]
        if len(set(paths)) != len(paths):
            raise ValueError(f"a contract names each path once: {paths}")
        for f in self.fields:
            if f.path.count(".") > 1 or not f.path or f.path.startswith(".") or f.path.endswith("."):
                raise ValueError(f"{f.path!r}: a path is a top-level key or 'object.key'")
            if f.leaf is not None and f.top in paths:
                raise ValueError(f"{f.path!r}: {f.top!r} is a field, not an object")
        aliases = [f.alias for f in self.fields if f.alias]
        if len(set(aliases)) != len(aliases):
            raise ValueError(f"an alias names one field: {aliases}")
        for e in self.enrichments:
            if any(p is not None and p not in paths for p in (e.path, e.source, e.when)):
                raise ValueError(f"enrichment of {e.path!r} names a field the contract lacks")

    def __iter__(self) -> Iterator[Field]:
        return iter(self.fields)

    def __getitem__(self, path: str) -> Field:
        for f in self.fields:
            if f.path == path:
                return f
        raise KeyError(path)

    def tops(self) -> tuple[str, ...]:
        """Top-level keys in field order (objects and top-level fields)."""
        return tuple(dict.fromkeys(f.top for f in self.fields))

    def object_names(self) -> tuple[str, ...]:
        """The top-level keys that are objects (``event``, ``audit``, ...)."""
        return tuple(dict.fromkeys(f.top for f in self.fields if f.leaf is not None))

    def members(self, top: str) -> tuple[Field, ...]:
        """The fields inside one top-level object, in field order."""
        return tuple(f for f in self.fields if f.top == top and f.leaf is not None)

    def aliases(self) -> dict[str, str]:
        """Friendly keyword -> path, for the emitter."""
        return {f.alias: f.path for f in self.fields if f.alias}

    def context_keys(self) -> tuple[str, ...]:
        """Paths an app may bind per request with ``structlog.contextvars``."""
        return tuple(f.path for f in self.fields if f.context)

    def labelled(self) -> tuple[Field, ...]:
        """Fields shown on their own in the TUI's detail view and the export, in field order."""
        return tuple(f for f in self.fields if f.label)

    def enriched(self) -> dict[str, Enrichment]:
        """Path -> the enrichment that fills it."""
        return {e.path: e for e in self.enrichments}

    def with_field(self, new: Field, *, after: str | None = None) -> Contract:
        """Return a contract with ``new`` added after the field ``after`` (default: after its object's last one)."""
        fields = list(self.fields)
        if after is None:
            same = [i for i, f in enumerate(fields) if f.top == new.top]
            at = same[-1] + 1 if same else len(fields)
        else:
            at = [f.path for f in fields].index(after) + 1
        fields.insert(at, new)
        return replace(self, fields=tuple(fields))


_TIMESTAMP_PATTERN = (
    r"(?!0000)(\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):([0-5]\d):([0-5]\d)"
    r"(?:\.(\d{1,9}))?(Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)"
)
_TIERS = ("enterprise", "business", "whitelabel", "professional", "flatrate", "basic")
_ECS = "ECS {}; added by the emitter/agent."

#: Event contract v1.
CONTRACT = Contract(
    fields=(
        Field("@timestamp", required=True, pattern=_TIMESTAMP_PATTERN, format="date-time", alias="timestamp",
              description="RFC 3339 date-time with an explicit offset, uppercase T and Z, 1-9 fraction digits, "
              "seconds 00-59 (the profile Elasticsearch's strict_date_optional_time parses). "
              "E.g. 2024-05-01T10:00:00.123Z."),
        Field("event.id", min_length=1, max_length=512, pattern=r"[!-~]{1,512}", alias="event_id", label="Event ID",
              rule="1-512 printable ASCII characters without spaces",
              description="Unique id (the emitter writes a UUIDv7); becomes the Elasticsearch _id. "
              "If absent the agent derives a deterministic one."),
        Field("event.action", required=True, min_length=1, max_length=128, pattern=r"[a-z0-9][a-z0-9_.:-]{0,127}",
              alias="action", examples=("auth", "create", "update", "delete"),
              rule="a lowercase verb like 'update' (a-z 0-9 _ . : -, at most 128 chars)",
              description="The verb (the seed's Type): auth, create, update, delete; other lowercase verbs allowed."),
        Field("event.outcome", enum=("success", "failure", "unknown"), alias="outcome", label="Outcome"),
        Field("event.kind", description=_ECS.format("event.kind")),
        Field("event.category", type="string_or_list", label="Category",
              description=_ECS.format("event.category")),
        Field("event.type", type="string_or_list", description=_ECS.format("event.type")),
        Field("audit.source", required=True, min_length=1, alias="source", context=True,
              description="Area of the product (the seed's Source): appointments, slots, login, services, "
              "settings, ..."),
        Field("audit.tier", required=True, min_length=1, examples=_TIERS, alias="tier", context=True, label="Tier",
              description="Subscription tier of the tenant. Whether a tier is known is decided by the deployment's "
              "tier table (unknown tiers are dead-lettered by the agent)."),
        Field("audit.changes", type="changes", alias="changes",
              description="The seed's Raw: field name -> original and changed value (null = did not exist). "
              "Field names are kept verbatim."),
        Field("audit.changed_fields", type="string_list",
              description="Sorted keys of audit.changes; added by the emitter/agent."),
        Field("audit.login_type", alias="login_type", context=True, label="Login type",
              description="Meta: how the worker logged in."),
        Field("audit.stream", min_length=1,
              description="Tamper evidence: id of the writer instance (one per process start and fork) that "
              "numbered this event; set by the emitter."),
        Field("audit.seq", type="integer", minimum=1,
              description="Tamper evidence: gap-free sequence number of this event within audit.stream, from 1; "
              "a missing number is a lost line."),
        Field("organization.id", required=True, min_length=1, alias="tenant", context=True, label="Organization ID",
              description="The tenant (customer account)."),
        Field("organization.name", alias="tenant_name", context=True, label="Organization"),
        Field("user.id", alias="worker_id", context=True, label="Worker ID"),
        Field("user.name", alias="worker_name", context=True, label="Worker"),
        Field("user.email", alias="worker_email", context=True, label="Email"),
        Field("user.roles", type="string_list", alias="worker_roles", context=True, label="Roles"),
        Field("source.ip", format="ip", alias="ip", context=True, label="IP address"),
        Field("url.full", alias="url", context=True, label="URL"),
        Field("user_agent.original", alias="user_agent", context=True, label="User agent"),
        Field("message", label="Message", description="Human summary."),
    ),
    objects={"user": "The acting worker (the seed's Worker)."},
    enrichments=(
        Enrichment("event.id", None, "a UUIDv7 (emitter), a digest of the line's file identity and offset (agent)"),
        Enrichment("event.kind", "event.action", "ECS categorisation of the verb (auditlog.agent.categorize)"),
        Enrichment("event.category", "event.action", "ECS categorisation of the verb (auditlog.agent.categorize)"),
        Enrichment("event.type", "event.action", "ECS categorisation of the verb (auditlog.agent.categorize)"),
        Enrichment("audit.changed_fields", "audit.changes", "the sorted keys of audit.changes", when="audit.changes"),
    ),
)

#: The enrichment rules of :data:`CONTRACT`.
ENRICHMENTS = CONTRACT.enrichments


class _Paths:
    """Named paths of :data:`CONTRACT`; an attribute per field, so a typo fails at import, not at run time."""

    timestamp = CONTRACT["@timestamp"].path
    id = CONTRACT["event.id"].path
    action = CONTRACT["event.action"].path
    outcome = CONTRACT["event.outcome"].path
    category = CONTRACT["event.category"].path
    source = CONTRACT["audit.source"].path
    tier = CONTRACT["audit.tier"].path
    changes = CONTRACT["audit.changes"].path
    changed_fields = CONTRACT["audit.changed_fields"].path
    login_type = CONTRACT["audit.login_type"].path
    tenant = CONTRACT["organization.id"].path
    tenant_name = CONTRACT["organization.name"].path
    worker_id = CONTRACT["user.id"].path
    worker_name = CONTRACT["user.name"].path
    worker_email = CONTRACT["user.email"].path
    worker_roles = CONTRACT["user.roles"].path
    ip = CONTRACT["source.ip"].path
    url = CONTRACT["url.full"].path
    user_agent = CONTRACT["user_agent.original"].path
    message = CONTRACT["message"].path


#: The event's paths by name, for code that reads a field (``F.tenant`` == ``"organization.id"``).
F = _Paths
