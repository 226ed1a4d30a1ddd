"""Argument handling of `auditlog setup` and `auditlog retention` (no cluster involved)."""

from __future__ import annotations

import pytest

from auditlog.cli import main
from auditlog.indexer.security import roles_yml
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
    ],
)
def test_bad_arguments_exit_2(argv: list[str]) -> None:
    """A missing or unknown action, an unparsable --now or key lifetime are usage errors (exit 2)."""
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
