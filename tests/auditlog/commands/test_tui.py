"""CLI of the TUI: --tenant is the customer view of exactly one tenant."""

from __future__ import annotations

import pytest

from auditlog.cli import main


def test_tui_with_two_tenants_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """A second --tenant is a usage error, not a silent replacement of the first."""
    code = main(["tui", "--tenant", "org-1", "--tenant", "org-2", "--es", "http://127.0.0.1:1"])
    err = capsys.readouterr().err.splitlines()
    assert (2, 1, True) == (code, len(err), "--tenant: the customer view shows one tenant" in err[0])


def test_export_to_a_bare_xlsx_suffix_says_a_name_is_missing(capsys: pytest.CaptureFixture[str]) -> None:
    """export -o .xlsx exits 2 saying the file needs a name, not that '.xlsx' must end in .xlsx."""
    code = main(["export", "-o", ".xlsx", "--es", "http://127.0.0.1:9"])
    err = capsys.readouterr().err.splitlines()
    assert (2, 1, True) == (code, len(err), "needs a name before .xlsx" in err[0])
