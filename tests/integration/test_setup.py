"""`auditlog setup` and `auditlog retention` on the real node: idempotent, versioned, clear failures."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from auditlog.cli import main
from auditlog.indexer.setup import CREATED, KEPT_NEWER, UNCHANGED, UPDATED, install_templates, run_setup
from auditlog.indexer.templates import TEMPLATE_VERSION, index_template_name
from auditlog.indexer.tiers import TierTable


def _installed(es: Elasticsearch, tiers: TierTable) -> dict[str, Any]:
    components = es.cluster.get_component_template(name=f"{tiers.prefix}-*")["component_templates"]
    indexes = es.indices.get_index_template(name=f"{tiers.prefix}-*")["index_templates"]
    return {t["name"]: t for t in [*components, *indexes]}


def test_setup_twice_changes_nothing(es: Elasticsearch, namespace: TierTable) -> None:
    """The second setup reports every object unchanged and the installed templates are byte-identical."""
    first = run_setup(es, namespace)
    before = _installed(es, namespace)
    second = run_setup(es, namespace)
    expected = ([CREATED] * 8, [UNCHANGED] * 8, before)  # 2 components, 3 event + 3 digest templates
    assert expected == ([c.action for c in first.changes], [c.action for c in second.changes],
                        _installed(es, namespace))


def test_cli_setup_twice_exits_0(es_url: str, namespace: TierTable, capsys: pytest.CaptureFixture[str]) -> None:
    """`auditlog setup --json` run twice exits 0 both times and reports changed=false the second time."""
    codes = [main(["setup", "--es", es_url, "--prefix", namespace.prefix, "--json"]) for _ in range(2)]
    reports = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    expected = ([0, 0], [True, False])
    assert expected == (codes, [r["changed"] for r in reports])


def test_no_ilm_is_said_in_one_line(es_url: str, namespace: TierTable, capsys: pytest.CaptureFixture[str]) -> None:
    """Without ILM setup prints exactly one line about it, pointing to `auditlog retention enforce`."""
    main(["setup", "--es", es_url, "--prefix", namespace.prefix])
    lines = [line for line in capsys.readouterr().out.splitlines() if "ILM" in line]
    expected = (1, True)
    assert expected == (len(lines), "auditlog retention enforce" in lines[0])


def test_no_ilm_means_no_lifecycle_settings(es: Elasticsearch, namespace: TierTable) -> None:
    """On a cluster without ILM the index templates carry no index.lifecycle settings, so indices can be created."""
    run_setup(es, namespace)
    index = namespace.index_for_day("enterprise", datetime.now(UTC).date())
    es.indices.create(index=index)
    settings = es.indices.get_settings(index=index)[index]["settings"]["index"]
    assert "lifecycle" not in settings


def test_older_template_is_upgraded(es: Elasticsearch, namespace: TierTable) -> None:
    """An index template with a lower version (an older auditlog) is replaced by the current one."""
    name = index_template_name(namespace, "business")
    es.indices.put_index_template(name=name, index_patterns=[namespace.class_pattern("business")], priority=200,
                                  version=TEMPLATE_VERSION - 1)
    actions = {c.name: c.action for c in run_setup(es, namespace).changes}
    expected = (UPDATED, TEMPLATE_VERSION)
    assert expected == (actions[name], _installed(es, namespace)[name]["index_template"]["version"])


def test_edited_template_of_same_version_is_repaired(es: Elasticsearch, namespace: TierTable) -> None:
    """A template edited by hand (same version, different content) is put back as setup renders it."""
    install_templates(es, namespace)
    name = f"{namespace.prefix}-settings"
    es.cluster.put_component_template(name=name, template={"settings": {"number_of_shards": 3}},
                                      version=TEMPLATE_VERSION)
    actions = {c.name: c.action for c in run_setup(es, namespace).changes}
    shards = _installed(es, namespace)[name]["component_template"]["template"]["settings"]["index"]["number_of_shards"]
    expected = (UPDATED, "1")
    assert expected == (actions[name], shards)


def test_newer_template_is_not_downgraded(es: Elasticsearch, namespace: TierTable) -> None:
    """A template installed by a newer auditlog (higher version) is kept as it is."""
    name = index_template_name(namespace, "enterprise")
    es.indices.put_index_template(name=name, index_patterns=[namespace.class_pattern("enterprise")], priority=200,
                                  version=TEMPLATE_VERSION + 1)
    actions = {c.name: c.action for c in run_setup(es, namespace).changes}
    expected = (KEPT_NEWER, TEMPLATE_VERSION + 1)
    assert expected == (actions[name], _installed(es, namespace)[name]["index_template"]["version"])


def test_unreachable_cluster_exits_1_with_one_line(namespace: TierTable, capsys: pytest.CaptureFixture[str]) -> None:
    """Setup against a port nobody listens on exits 1 with one line naming the URL."""
    code = main(["setup", "--es", "http://127.0.0.1:9", "--prefix", namespace.prefix])
    err = capsys.readouterr().err.strip()
    expected = (1, 1, True)
    assert expected == (code, len(err.splitlines()), "cannot reach Elasticsearch at http://127.0.0.1:9" in err)


def test_bad_prefix_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """An index prefix with upper case is a usage error naming --prefix."""
    code = main(["setup", "--es", "http://127.0.0.1:9", "--prefix", "Audit"])
    expected = (2, True)
    assert expected == (code, "--prefix" in capsys.readouterr().err)


def test_retention_cli_status_and_enforce(
    es: Elasticsearch, es_url: str, namespace: TierTable, capsys: pytest.CaptureFixture[str]
) -> None:
    """With --now, status --json counts one overdue business index, enforce --dry-run lists it, enforce deletes it
    (and creates the --now day's and the next day's indices ahead)."""
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    install_templates(es, namespace)
    old = namespace.index_for_day("business", (now - timedelta(days=8)).date())
    kept = namespace.index_for_day("business", (now - timedelta(days=6)).date())
    for index in (old, kept):
        es.indices.create(index=index)
    base = ["--es", es_url, "--prefix", namespace.prefix, "--now", now.isoformat(), "--json"]
    main(["retention", "status", *base])
    main(["retention", "enforce", "--dry-run", *base])
    main(["retention", "enforce", *base])
    status, dry, real = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    business = next(c for c in status["classes"] if c["class"] == "business")
    ahead = [namespace.index_for_day(cls, (now + timedelta(days=n)).date())
             for cls in ("enterprise", "business", "professional") for n in (0, 1)]
    expected = ((2, 1, "enforcer"), [old], [old], sorted([kept, *ahead]))
    assert expected == (
        (business["indices"], business["overdue"], business["managed_by"]),
        [i["index"] for i in dry["would_delete"]],
        [i["index"] for i in real["deleted"]],
        sorted(es.indices.get(index=namespace.read_pattern)),
    )


def test_retention_status_table(es_url: str, namespace: TierTable, capsys: pytest.CaptureFixture[str]) -> None:
    """The human status output has a header and one row per retention class."""
    code = main(["retention", "status", "--es", es_url, "--prefix", namespace.prefix])
    rows = capsys.readouterr().out.splitlines()
    expected = (0, ["CLASS", "enterprise", "business", "professional"])
    assert expected == (code, [row.split()[0] for row in rows])


def test_test_node_offers_no_ecs_only_types(es: Elasticsearch) -> None:
    """The test distribution has neither mapper-extras nor wildcard: detection says so."""
    from auditlog.indexer.features import detect_features
    from auditlog.indexer.templates import MappingFeatures

    assert MappingFeatures() == detect_features(es)


def test_setup_falls_back_to_text_on_the_test_node(es: Elasticsearch, namespace: TierTable) -> None:
    """On the test node setup maps message as text and url.full as keyword, and the index takes an event."""
    install_templates(es, namespace)
    index = namespace.index_for_day("enterprise", datetime(2026, 11, 26, tzinfo=UTC).date())
    es.index(index=index, document={"@timestamp": "2026-11-26T10:00:00Z", "message": "moved appointment",
                                    "url": {"full": "https://example.com/a?b=c"}}, refresh=True)
    props = es.indices.get_mapping(index=index)[index]["mappings"]["properties"]
    assert ("text", "keyword", 1) == (props["message"]["type"], props["url"]["properties"]["full"]["type"],
                                      es.count(index=index, query={"match": {"message": "appointment"}})["count"])


def test_setup_on_one_node_chooses_no_replicas(es_url: str, namespace: TierTable,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """On the single test node `auditlog setup --json` reports 0 replicas for every class, from 1 data node."""
    main(["setup", "--es", es_url, "--prefix", namespace.prefix, "--json"])
    report = json.loads(capsys.readouterr().out)
    assert [("enterprise", 0, "1 data node"), ("business", 0, "1 data node"), ("professional", 0, "1 data node")] == [
        (c["retention_class"], c["replicas"], c["reason"]) for c in report["replicas"]]


def test_replicas_override_is_fixed_in_the_class_template(es: Elasticsearch, namespace: TierTable) -> None:
    """`--replicas enterprise=1` puts number_of_replicas 1 into the enterprise index template only."""
    run_setup(es, namespace, replicas={"enterprise": 1})
    settings = {cls: es.indices.get_index_template(name=index_template_name(namespace, cls))["index_templates"][0]
                ["index_template"]["template"].get("settings", {}).get("index", {}).get("number_of_replicas")
                for cls in ("enterprise", "business")}
    assert {"enterprise": "1", "business": "0"} == settings


def test_setup_brings_existing_indices_to_the_chosen_replicas(es: Elasticsearch, namespace: TierTable) -> None:
    """An index made under the old auto-expanding template gets the fixed number setup chose."""
    install_templates(es, namespace)
    index = namespace.index_for_day("business", datetime.now(UTC).date())
    es.indices.create(index=index)
    run_setup(es, namespace)
    found = es.indices.get_settings(index=index, flat_settings=True)[index]["settings"]
    assert ("false", "0") == (found["index.auto_expand_replicas"], found["index.number_of_replicas"])


def test_setup_leaves_an_index_alone_that_an_alias_of_our_names_points_to(
    es: Elasticsearch, namespace: TierTable,
) -> None:
    """An alias named like a daily index of ours does not make setup change the replicas of the index behind it."""
    foreign = f"foreign-{namespace.prefix}"
    es.indices.create(index=foreign, settings={"number_of_replicas": 2},
                      aliases={f"{namespace.prefix}-enterprise-2030.01.01": {}})
    try:
        run_setup(es, namespace)
        found = es.indices.get_settings(index=foreign, flat_settings=True)[foreign]["settings"]
    finally:
        es.indices.delete(index=foreign)
    assert found["index.number_of_replicas"] == "2"


def test_a_template_of_higher_priority_over_our_names_stops_setup_before_any_index(
    es: Elasticsearch, es_url: str, namespace: TierTable, capsys: pytest.CaptureFixture[str],
) -> None:
    """Another index template matching the namespace's names at a higher priority makes setup exit 1 with one line
    naming it, before a daily index is made with the wrong mappings; once it yields, setup passes."""
    foreign = f"{namespace.prefix}-corp-default"
    es.indices.put_index_template(name=foreign, index_patterns=[f"{namespace.prefix}*"], priority=500)
    try:
        code = main(["setup", "--es", es_url, "--prefix", namespace.prefix])
        err = capsys.readouterr().err.strip().splitlines()
        made = es.indices.get(index=f"{namespace.read_pattern},{namespace.digest_pattern}",
                              allow_no_indices=True, expand_wildcards="all").body
    finally:
        es.indices.delete_index_template(name=foreign)
    assert (code, len(err), made) == (1, 1, {})
    assert f"index template {foreign} (priority 500, patterns {namespace.prefix}*) overrides " in err[0]
    assert main(["setup", "--es", es_url, "--prefix", namespace.prefix]) == 0


def test_setup_brings_more_long_named_indices_to_the_chosen_replicas_than_one_request_line_names(
    es: Elasticsearch, namespace: TierTable,
) -> None:
    """Fifty existing daily indices of a long prefix (their names past Elasticsearch's 4 KiB request line together)
    all get the replicas setup chose, instead of setup failing with too_long_http_line_exception."""
    tiers = TierTable(prefix=f"{namespace.prefix}-{'l' * (120 - len(namespace.prefix))}")  # cleaned with the fixture's
    names = [tiers.index_for_day("business", datetime(2026, 1, 1, tzinfo=UTC).date() + timedelta(days=i))
             for i in range(50)]
    assert len(",".join(names)) > 4096
    for name in names:
        es.indices.create(index=name, settings={"number_of_replicas": 0, "auto_expand_replicas": "0-1"})
    run_setup(es, tiers)
    found = es.indices.get_settings(index=",".join(names[:10]), flat_settings=True)  # a URL of ten fits
    assert {("false", "0")} == {(f["settings"]["index.auto_expand_replicas"], f["settings"]["index.number_of_replicas"])
                                for f in found.values()}
