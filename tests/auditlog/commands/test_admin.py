"""Argument handling of `auditlog setup` and `auditlog retention` (no cluster involved)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from auditlog.cli import main
from auditlog.indexer.ilm import digest_policy_requests, policy_requests
from auditlog.indexer.kibana import load_objects
from auditlog.indexer.security import roles_yml
from auditlog.indexer.templates import MappingFeatures, render_all, render_digest_templates
from auditlog.indexer.tiers import TierTable

DEAD = "http://127.0.0.1:9"  # nobody listens: proves a command did not need the cluster


def test_print_roles_needs_no_cluster(capsys: pytest.CaptureFixture[str]) -> None:
    """--print-roles prints the namespace's roles.yml and exits 0 without contacting Elasticsearch."""
    code = main(["setup", "--es", DEAD, "--prefix", "p-audit", "--print-roles"])
    expected = (0, roles_yml(TierTable(prefix="p-audit")))
    assert expected == (code, capsys.readouterr().out)


def test_prefix_from_environment(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """AUDITLOG_INDEX_PREFIX chooses the namespace when --prefix is absent."""
    monkeypatch.setenv("AUDITLOG_INDEX_PREFIX", "env-audit")
    main(["setup", "--es", DEAD, "--print-roles"])
    assert '"env-audit-writer":' in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        ["retention"],
        ["retention", "purge"],
        ["retention", "status", "--now", "yesterday"],
        ["retention", "enforce", "--dry-run", "--now", "2026-13-01"],
        ["setup", "--api-keys", "--key-expiration", "90 days"],
        ["setup", "--replicas", "gold=1"],
        ["setup", "--replicas", "enterprise"],
        ["setup", "--replicas", "enterprise=-1"],
        ["setup", "--replicas", "enterprise=\u0663"],
        ["setup", "--replicas", "enterprise=\u00b2"],
    ],
)
def test_bad_arguments_exit_2(argv: list[str]) -> None:
    """A missing or unknown action, an unparsable --now, key lifetime or replica count are usage errors (exit 2)."""
    with pytest.raises(SystemExit) as caught:
        main(argv)
    expected = 2
    assert expected == caught.value.code


def test_invalid_prefix_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """A prefix with a wildcard exits 2 with a line naming --prefix."""
    code = main(["retention", "status", "--es", DEAD, "--prefix", "audit*"])
    expected = (2, True)
    assert expected == (code, "--prefix" in capsys.readouterr().err)


def test_half_kibana_basic_auth_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """--kibana-user without a password exits 2 before anything is installed."""
    code = main(["setup", "--es", DEAD, "--kibana", "http://k:5601", "--kibana-user", "admin"])
    expected = (2, True)
    assert expected == (code, "--kibana" in capsys.readouterr().err)


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    """--help works on setup, retention, retention status and retention enforce."""
    codes = []
    for argv in (["setup"], ["retention"], ["retention", "status"], ["retention", "enforce"]):
        with pytest.raises(SystemExit) as caught:
            main([*argv, "--help"])
        codes.append(caught.value.code)
    expected = [0, 0, 0, 0]
    assert expected == codes
    assert "--dry-run" in capsys.readouterr().out


def _dev_tools_requests(text: str) -> list[tuple[str, object]]:
    """Parse `PUT path` + JSON body blocks back into (path, body) pairs."""
    out = []
    for block in text.split("PUT ")[1:]:
        path, _, body = block.partition("\n")
        out.append((path, json.loads(body)))
    return out


def test_print_template_is_what_setup_installs(capsys: pytest.CaptureFixture[str]) -> None:
    """setup --print template writes every template setup would PUT on the default distribution, with its body
    (the digests' index templates included)."""
    assert 0 == main(["setup", "--print", "template", "--prefix", "shop"])
    tiers = TierTable(prefix="shop")
    expected = [(f"_{t.kind}_template/{t.name}", t.body) for t in [
        *render_all(tiers, ilm=True, features=MappingFeatures.ecs()), *render_digest_templates(tiers, ilm=True)]]
    assert expected == _dev_tools_requests(capsys.readouterr().out)


def test_print_template_for_a_minimal_cluster(capsys: pytest.CaptureFixture[str]) -> None:
    """--minimal-cluster renders without lifecycle settings and without ECS-only field types."""
    assert 0 == main(["setup", "--print", "template", "--minimal-cluster"])
    out = capsys.readouterr().out
    assert (False, False, False, True) == ("lifecycle" in out, "match_only_text" in out, "wildcard" in out,
                                          out.startswith("PUT _component_template/"))


def test_print_template_with_replicas_fixes_them_in_the_class_templates(capsys: pytest.CaptureFixture[str]) -> None:
    """--print template --replicas business=2 fixes the business events' and digests' replicas, no other class's."""
    assert 0 == main(["setup", "--print", "template", "--replicas", "business=2"])
    bodies = dict(_dev_tools_requests(capsys.readouterr().out))
    replicas = {path: body["template"]["settings"].get("index", {}).get("number_of_replicas")  # type: ignore[index]
                for path, body in bodies.items() if path.startswith("_index_template/")}
    assert {"_index_template/audit-enterprise": None, "_index_template/audit-business": 2,
            "_index_template/audit-professional": None, "_index_template/audit.digest-enterprise": None,
            "_index_template/audit.digest-business": 2, "_index_template/audit.digest-professional": None} == replicas


def test_print_policies_is_one_put_per_class(capsys: pytest.CaptureFixture[str]) -> None:
    """setup --print policies writes the ILM policies named after the namespace's classes, the digests' too."""
    assert 0 == main(["setup", "--print", "policies"])
    expected = [(f"_ilm/policy/{r.name}", r.body)
                for r in [*policy_requests(TierTable()), *digest_policy_requests(TierTable())]]
    assert expected == _dev_tools_requests(capsys.readouterr().out)


def test_print_kibana_is_the_saved_objects_ndjson(capsys: pytest.CaptureFixture[str]) -> None:
    """setup --print kibana writes one saved object per line, the data view on the namespace's pattern."""
    from auditlog.indexer.tiers import TierTable

    assert 0 == main(["setup", "--print", "kibana", "--prefix", "shop"])
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert load_objects(TierTable(prefix="shop")) == printed


def test_print_roles_is_the_roles_yml(capsys: pytest.CaptureFixture[str]) -> None:
    """setup --print roles writes the same roles.yml as --print-roles."""
    assert 0 == main(["setup", "--print", "roles"])
    assert roles_yml(TierTable()) == capsys.readouterr().out


def test_print_unknown_object_exits_2() -> None:
    """--print only knows template, policies, kibana and roles."""
    with pytest.raises(SystemExit) as exc:
        main(["setup", "--print", "pipelines"])
    assert 2 == exc.value.code


@pytest.mark.parametrize("now", ["9999-12-31", "0001-01-01T00:00:00+23:59", "9999-06-01"])
def test_a_now_at_the_calendar_edge_exits_2(now: str, capsys: pytest.CaptureFixture[str]) -> None:
    """retention --now too close to the calendar's ends for the days it adds exits 2 with one 'out of range' line."""
    with pytest.raises(SystemExit) as caught:
        main(["retention", "enforce", "--dry-run", "--es", DEAD, "--now", now])
    err = capsys.readouterr().err.strip().splitlines()
    assert (2, True) == (caught.value.code, "argument --now: out of range" in err[-1])


@pytest.mark.parametrize(("argv", "named"), [
    (["setup", "--key-expiration", "1d"], "--key-expiration"),
    (["setup", "--minimal-cluster"], "--minimal-cluster"),
    (["setup", "--print", "policies", "--minimal-cluster"], "--minimal-cluster"),
    (["setup", "--print", "roles", "--replicas", "business=1"], "--replicas"),
    (["setup", "--kibana-space", "support"], "--kibana-space"),
    (["setup", "--kibana-user", "elastic"], "--kibana-user"),
])
def test_a_flag_that_would_do_nothing_exits_2(argv: list[str], named: str, capsys: pytest.CaptureFixture[str]) -> None:
    """--key-expiration without --api-keys, --minimal-cluster without --print template, --replicas with another
    --print, or a Kibana option without --kibana, exits 2 naming it."""
    code = main([*argv, "--es", DEAD])
    err = capsys.readouterr().err.strip().splitlines()
    assert (2, 1, True) == (code, len(err), f"{named}: applies to" in err[0])


def test_retention_enforce_failing_mid_way_still_says_what_it_deleted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """A delete refused after a first chunk went: that chunk's indices are printed and named once more on stderr
    beside the error line, exit 1."""
    from datetime import date

    from elastic_transport import ApiResponseMeta, HttpHeaders
    from elasticsearch import ApiError

    from auditlog.indexer import retention

    gone = [retention.DailyIndex(f"audit-professional-2026.09.0{n}", "professional", date(2026, 9, n), 1, 10)
            for n in (1, 2)]

    def enforce(*args: object, on_deleted: Callable[[list[retention.DailyIndex]], None],
                **kwargs: object) -> list[retention.DailyIndex]:
        on_deleted(gone)
        meta = ApiResponseMeta(status=500, http_version="1.1", headers=HttpHeaders(), duration=0.0,
                               node=None)  # type: ignore[arg-type]
        raise ApiError("internal_server_error", meta, {"error": {"type": "internal_server_error", "reason": "x"}})

    monkeypatch.setattr(retention, "scan", lambda *a, **kw: retention.Inventory([], []))
    monkeypatch.setattr(retention, "enforce", enforce)
    code = main(["retention", "enforce", "--es", "http://127.0.0.1:9"])
    out, err = capsys.readouterr()
    assert (code, [line.split()[1] for line in out.splitlines()], "deleted 2 expired indices before the failure" in err
            ) == (1, [i.name for i in gone], True)


def test_a_day_not_created_ahead_is_one_warning_line_whatever_the_alias_holder_is_named(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An index holding one of our daily names as an alias may be named with a line feed (Elasticsearch allows it):
    the warning naming it stays one line, so the name cannot add a line of its own to setup's or enforce's output."""
    from datetime import date

    from auditlog.commands.admin import _warn_not_ahead
    from auditlog.indexer.ahead import REFUSED, AheadIndex

    refused = AheadIndex("audit-enterprise-2026.12.05", "enterprise", date(2026, 12, 5), REFUSED,
                         "the name is an alias of zz\nforged-line, not a daily index")
    _warn_not_ahead([refused])
    assert 1 == capsys.readouterr().err.count("\n")
