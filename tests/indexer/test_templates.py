"""Rendering of component and index templates (pure, no cluster)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from auditlog.indexer.templates import (
    TEMPLATE_VERSION,
    MappingFeatures,
    component_names,
    render_all,
    render_component_templates,
    render_digest_templates,
    render_index_templates,
)
from auditlog.indexer.tiers import RETENTION_DAYS, TierTable

#: Field -> type the brief asks for: keyword for every filter, ip, date, text, flattened Raw.
EXPECTED_TYPES = {
    "@timestamp": "date",
    "message": "text",
    "organization.id": "keyword", "organization.name": "keyword",
    "user.id": "keyword", "user.name": "keyword", "user.email": "keyword", "user.roles": "keyword",
    "event.id": "keyword", "event.action": "keyword", "event.outcome": "keyword",
    "event.kind": "keyword", "event.category": "keyword", "event.type": "keyword",
    "audit.source": "keyword", "audit.tier": "keyword", "audit.login_type": "keyword",
    "audit.changed_fields": "keyword", "audit.changes": "flattened",
    "source.ip": "ip", "url.full": "keyword", "user_agent.original": "keyword",
}


def _flatten(properties: dict[str, Any], prefix: str = "") -> dict[str, dict[str, Any]]:
    fields = {}
    for name, spec in properties.items():
        if "properties" in spec:
            fields.update(_flatten(spec["properties"], f"{prefix}{name}."))
        else:
            fields[f"{prefix}{name}"] = spec
    return fields


def _mapping(tiers: TierTable | None = None) -> dict[str, Any]:
    return render_component_templates(tiers or TierTable())[1].body["template"]["mappings"]


def test_contract_fields_have_the_filterable_types() -> None:
    """Every contract field is mapped with the type its filter needs."""
    fields = _flatten(_mapping()["properties"])
    expected = EXPECTED_TYPES
    assert expected == {name: fields[name]["type"] for name in EXPECTED_TYPES}


def test_mapping_is_not_dynamic() -> None:
    """Unknown fields stay in _source only: dynamic is false and no date detection happens."""
    mapping = _mapping()
    expected = (False, False)
    assert expected == (mapping["dynamic"], mapping["date_detection"])


def test_only_types_of_both_distributions_are_used() -> None:
    """Without ECS features: no wildcard or match_only_text (absent from the minimal distribution), anywhere."""
    fields = _flatten(_mapping()["properties"])
    types = {spec["type"] for spec in fields.values()} | {
        sub["type"] for spec in fields.values() for sub in spec.get("fields", {}).values()}
    assert set() == types & {"wildcard", "match_only_text", "constant_keyword", "version", "unsigned_long"}


def test_every_keyword_has_ignore_above() -> None:
    """Long values never reject an event: every keyword (and the flattened Raw) sets ignore_above."""
    fields = _flatten(_mapping()["properties"])
    missing = [n for n, s in fields.items() if s["type"] in ("keyword", "flattened") and "ignore_above" not in s]
    expected: list[str] = []
    assert expected == missing


def test_one_index_template_per_class_with_its_pattern() -> None:
    """Index templates are named <prefix>-<class> and match <prefix>-<class>-* only."""
    tiers = TierTable(prefix="t1-audit")
    rendered = {t.name: t.body["index_patterns"] for t in render_index_templates(tiers, ilm=False)}
    assert {f"t1-audit-{c}": [f"t1-audit-{c}-*"] for c in RETENTION_DAYS} == rendered


def test_index_templates_compose_the_namespace_components() -> None:
    """Every index template is composed of the namespace's settings and mappings components, in that order."""
    tiers = TierTable(prefix="t2-audit")
    composed = {t.body["composed_of"] == ["t2-audit-settings", "t2-audit-mappings"]
                for t in render_index_templates(tiers, ilm=False)}
    assert ({True}, ["t2-audit-settings", "t2-audit-mappings"]) == (composed, component_names(tiers))


def test_no_lifecycle_settings_without_ilm() -> None:
    """Without ILM the index templates set nothing (the minimal distribution rejects index.lifecycle.*)."""
    expected: list[dict[str, Any]] = [{}] * 3
    assert expected == [t.body["template"]["settings"] for t in render_index_templates(TierTable(), ilm=False)]


def test_every_template_carries_version_and_digest() -> None:
    """All five bodies carry TEMPLATE_VERSION and a 16-hex-digit digest in _meta."""
    rendered = render_all(TierTable(), ilm=True)
    expected = [(TEMPLATE_VERSION, 16)] * 5
    assert expected == [(t.version, len(t.digest)) for t in rendered]


def test_digest_is_stable_and_tracks_content() -> None:
    """Rendering twice gives the same digests; switching ILM on changes only the index templates' digests."""
    first = [t.digest for t in render_all(TierTable(), ilm=False)]
    again = [t.digest for t in render_all(TierTable(), ilm=False)]
    with_ilm = [t.digest for t in render_all(TierTable(), ilm=True)]
    changed = [a != b for a, b in zip(first, with_ilm, strict=True)]
    assert (first, [False, False, True, True, True]) == (again, changed)


def test_index_template_meta_lists_the_tiers_of_its_class() -> None:
    """_meta names each class's tiers, so an admin sees that whitelabel lands in business."""
    tiers = TierTable.with_basic_class("business")
    meta = {t.body["_meta"]["retention_class"]: t.body["_meta"]["tiers"]
            for t in render_index_templates(tiers, ilm=False)}
    expected = {"enterprise": ["enterprise"], "business": ["basic", "business", "whitelabel"],
                "professional": ["flatrate", "professional"]}
    assert expected == meta


ECS_TYPES_CSV = Path(__file__).parent / "data" / "ecs_field_types.csv"
#: What each ECS-only type falls back on where the cluster lacks its module.
FALLBACK = {"match_only_text": "text", "wildcard": "keyword"}


def _ecs_types() -> dict[str, str]:
    """ECS's own field -> type table for the ECS fields we map (test data from elastic/ecs)."""
    lines = [ln for ln in ECS_TYPES_CSV.read_text().splitlines() if ln and not ln.startswith("#")]
    return {row["field"]: row["type"] for row in csv.DictReader(lines)}


def _all_field_types(features: MappingFeatures) -> dict[str, str]:
    """Every mapped field and multi-field of the rendered mapping -> its type."""
    mapping = render_component_templates(TierTable(), features=features)[1].body["template"]["mappings"]
    out = {}
    for name, spec in _flatten(mapping["properties"]).items():
        out[name] = spec["type"]
        for sub, sub_spec in spec.get("fields", {}).items():
            out[f"{name}.{sub}"] = sub_spec["type"]
    return out


def test_mapping_with_ecs_features_has_ecs_types() -> None:
    """Where the cluster offers ECS's types, every ECS field we map has exactly ECS's type."""
    ecs = _ecs_types()
    mapped = _all_field_types(MappingFeatures.ecs())
    assert ecs == {name: mapped.get(name) for name in ecs}


def test_mapping_without_features_falls_back_per_type() -> None:
    """On the minimal distribution, match_only_text becomes text and wildcard keyword; the rest is ECS's."""
    ecs = _ecs_types()
    mapped = _all_field_types(MappingFeatures())
    assert {name: FALLBACK.get(t, t) for name, t in ecs.items()} == {name: mapped.get(name) for name in ecs}


def test_ecs_table_covers_every_ecs_field_we_map() -> None:
    """Every mapped field of an ECS field set (all but audit.* and log.offset) is in the ECS table."""
    ours = {n for n in _all_field_types(MappingFeatures.ecs())
            if not n.startswith("audit.") and n not in ("log.offset", "message.keyword")}
    assert set() == ours - set(_ecs_types())


def test_chosen_replicas_are_fixed_in_the_class_template() -> None:
    """A class with a chosen number gets it in its index template, with auto-expansion off."""
    templates = {t.name: t for t in render_index_templates(TierTable(), ilm=False, replicas={"enterprise": 2})}
    assert {"number_of_replicas": 2, "auto_expand_replicas": "false"} == (
        templates["audit-enterprise"].body["template"]["settings"]["index"])


def test_without_a_choice_the_class_template_sets_no_replicas() -> None:
    """A class without a chosen number keeps the shared auto-expanded replicas (no index setting of its own)."""
    templates = {t.name: t for t in render_index_templates(TierTable(), ilm=False, replicas={"enterprise": 2})}
    assert {} == templates["audit-business"].body["template"]["settings"]


def test_digest_template_follows_its_class_replicas() -> None:
    """A class's digest indices get the same fixed number of replicas as its events."""
    enterprise = render_digest_templates(TierTable(), ilm=True, replicas={"enterprise": 1})[0]
    settings = enterprise.body["template"]["settings"]
    assert (1, "false") == (settings["index"]["number_of_replicas"], settings["index"]["auto_expand_replicas"])


def test_the_admin_guide_names_the_current_template_version(repo_root: Path) -> None:
    """docs/elastic-admin.md states the version every template carries now."""
    text = (repo_root / "docs" / "elastic-admin.md").read_text()
    assert f"Every template carries `version` (currently {TEMPLATE_VERSION})" in text
