"""ILM policy files, detection and the exact requests setup sends to a cluster that has ILM."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from auditlog.indexer import ilm
from auditlog.indexer.setup import CREATED, UNCHANGED, run_setup
from auditlog.indexer.tiers import RETENTION_DAYS, TierTable
from tests.indexer.policy_format import policy_problems
from tests.indexer.recording_es import no_handler, not_found, one_node_reads, recording_client


def test_one_policy_file_per_class_deletes_after_its_retention() -> None:
    """audit-enterprise.json deletes at 30d, audit-business.json at 7d, audit-professional.json at 3d."""
    expected = {"enterprise": 30, "business": 7, "professional": 3}
    assert expected == {p.retention_class: ilm.delete_after_days(p.body) for p in ilm.load_policies()}


def test_policy_files_follow_the_documented_format() -> None:
    """Every policy file has only {"policy": {"_meta", "phases"}} with known phases, actions and time values."""
    expected: dict[str, list[str]] = {cls: [] for cls in RETENTION_DAYS}
    assert expected == {p.retention_class: policy_problems(p.body) for p in ilm.load_policies()}


def test_policy_files_are_plain_json_bodies(repo_root: Path) -> None:
    """The files in ilm_policies/ are exactly what `PUT _ilm/policy/<name>` takes: one JSON object, named per class."""
    expected = sorted(f"audit-{cls}.json" for cls in RETENTION_DAYS)
    files = sorted(p.name for p in (repo_root / "ilm_policies").glob("*.json"))
    bodies = [json.loads((repo_root / "ilm_policies" / name).read_text()) for name in files]
    assert (expected, [["policy"]] * 3) == (files, [list(b) for b in bodies])


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda b: b.update(extra=1), "body: must be an object with exactly one key 'policy'"),
        (lambda b: b["policy"]["phases"].update(lukewarm={"actions": {}}), "policy.phases.lukewarm: unknown phase"),
        (lambda b: b["policy"]["phases"]["delete"].update(min_age="30 days"),
         "policy.phases.delete.min_age: not a time value: '30 days'"),
        (lambda b: b["policy"]["phases"]["delete"]["actions"].update(rollover={}),
         "policy.phases.delete.actions.rollover: not allowed in delete"),
        (lambda b: b["policy"].update(name="x"), "policy.name: unknown key"),
        (lambda b: b["policy"]["phases"]["hot"]["actions"].update(forcemerge={"max_num_segments": 1}),
         "policy.phases.hot.actions.forcemerge: needs rollover in the hot phase"),
        (lambda b: b["policy"]["phases"].update(warm={"min_age": "90d", "actions": {}}),
         "policy.phases.delete.min_age: earlier than the warm phase's"),
        (lambda b: b["policy"]["phases"].update(frozen={"min_age": "1d", "actions": {}}),
         "policy.phases.frozen.actions: the frozen phase needs searchable_snapshot"),
    ],
)
def test_structure_check_catches_malformed_policies(mutate: Any, problem: str) -> None:
    """Each kind of malformation is named by the structure check (so the file test above is not vacuous)."""
    body = copy.deepcopy(ilm.load_policies()[0].body)
    mutate(body)
    assert problem in policy_problems(body)


def _ilm_cluster(installed: dict[str, Any]) -> Any:
    """Answer like a default-distribution cluster with ILM, security off, holding ``installed`` objects."""

    def respond(method: str, path: str, body: Any) -> tuple[int, Any]:
        if (read := one_node_reads(method, path)) is not None:
            return read
        if path in ("/_nodes/_local/plugins", "/_nodes/plugins"):
            modules = ["x-pack-core", "x-pack-ilm", "mapper-extras", "wildcard"]
            return 200, {"nodes": {"n1": {"modules": [{"name": m} for m in modules], "plugins": []}}}
        if path == "/_security/_authenticate":
            return no_handler(method, path)
        if method == "PUT":
            installed[path] = body
            return 200, {"acknowledged": True}
        if path in installed:
            name = path.rsplit("/", 1)[1]
            if path.startswith("/_ilm/policy/"):
                return 200, {name: {"version": 1, "policy": installed[path]["policy"]}}
            key = "component_templates" if path.startswith("/_component_template/") else "index_templates"
            inner = "component_template" if key == "component_templates" else "index_template"
            return 200, {key: [{"name": name, inner: installed[path]}]}
        return not_found(path)

    return respond


def test_setup_puts_each_policy_file_verbatim_before_templates() -> None:
    """With ILM, setup PUTs _ilm/policy/audit-<class> with the file's exact body, before any template."""
    client, log = recording_client(_ilm_cluster({}))
    run_setup(client, TierTable())
    puts = [(r.path, r.body) for r in log if r.method == "PUT"]
    expected = [(f"/_ilm/policy/audit-{p.retention_class}", p.body) for p in ilm.load_policies()]
    assert expected == puts[:3]
    # then the digest indices' policies (tamper evidence), then the templates
    assert [path for path, _ in puts[3:6]] == [f"/_ilm/policy/audit.digest-{c}" for c in RETENTION_DAYS]
    assert all("template" in path for path, _ in puts[6:])


def test_digest_policies_delete_one_day_after_the_events() -> None:
    """Each class's digest policy is its events policy with the delete phase one day later."""
    days = {r.name: ilm.delete_after_days(r.body) for r in ilm.digest_policy_requests(TierTable())}
    assert days == {f"audit.digest-{c}": d + 1 for c, d in RETENTION_DAYS.items()}


def test_index_templates_carry_lifecycle_settings_where_ilm_exists() -> None:
    """With ILM each class's index template names its policy and parses the origination date from the name.

    The fake cluster has one data node, so setup also fixes 0 replicas per class beside the lifecycle.
    """
    client, log = recording_client(_ilm_cluster({}))
    run_setup(client, TierTable())
    settings = {r.path: r.body["template"]["settings"] for r in log
                if r.method == "PUT" and r.path.startswith("/_index_template/") and ".digest-" not in r.path}
    expected = {f"/_index_template/audit-{cls}": {"index": {
        "number_of_replicas": 0, "auto_expand_replicas": "false",
        "lifecycle": {"name": f"audit-{cls}", "parse_origination_date": True}}} for cls in RETENTION_DAYS}
    assert expected == settings


def test_second_setup_with_ilm_sends_no_puts() -> None:
    """Against the same ILM cluster a second setup only reads: every policy and template is unchanged."""
    installed: dict[str, Any] = {}
    client, log = recording_client(_ilm_cluster(installed))
    first = run_setup(client, TierTable())
    log.clear()
    second = run_setup(client, TierTable())
    expected: tuple[list[str], list[str], list[str]] = ([CREATED] * 14, [UNCHANGED] * 14, [])
    assert expected == ([c.action for c in first.changes], [c.action for c in second.changes],
                        [r.path for r in log if r.method == "PUT"])


def test_ilm_setup_says_nothing_about_the_enforcer() -> None:
    """Where ILM exists there is no 'ILM is not available' note."""
    client, _ = recording_client(_ilm_cluster({}))
    notes = run_setup(client, TierTable()).notes
    assert not [n for n in notes if "ILM" in n]


def test_detection_reads_local_node_modules() -> None:
    """has_ilm is True when the local node lists the x-pack-ilm module and False when it does not."""
    with_ilm, _ = recording_client(_ilm_cluster({}))
    without, log = recording_client(lambda m, p, b: (200, {"nodes": {"n1": {"modules": [{"name": "x-pack-core"}]}}}))
    expected = (True, False, ["/_nodes/_local/plugins"])
    assert expected == (ilm.has_ilm(with_ilm), ilm.has_ilm(without), [r.path for r in log])


def test_detection_falls_back_to_ilm_status_without_monitor_privilege() -> None:
    """When node info is forbidden, a 400 'no handler' from GET _ilm/status means no ILM."""

    def respond(method: str, path: str, body: Any) -> tuple[int, Any]:
        if path.startswith("/_nodes"):
            return 403, {"error": {"type": "security_exception", "reason": "unauthorized"}, "status": 403}
        return no_handler(method, path)

    client, log = recording_client(respond)
    expected = (False, ["/_nodes/_local/plugins", "/_ilm/status"])
    assert expected == (ilm.has_ilm(client), [r.path for r in log])


def test_setup_on_the_default_distribution_maps_ecs_types() -> None:
    """Where every node has mapper-extras and wildcard, setup PUTs message as match_only_text, url.full as wildcard."""
    installed: dict[str, Any] = {}
    client, _ = recording_client(_ilm_cluster(installed))
    run_setup(client, TierTable())
    props = installed["/_component_template/audit-mappings"]["template"]["mappings"]["properties"]
    assert ("match_only_text", "wildcard") == (props["message"]["type"], props["url"]["properties"]["full"]["type"])
