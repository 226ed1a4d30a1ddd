"""CLI of the TUI: --tenant is the customer view of exactly one tenant."""

from __future__ import annotations

import pytest

from auditlog.cli import main


def test_tui_with_two_tenants_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """A second --tenant is a usage error, not a silent replacement of the first."""
    code = main(["tui", "--tenant", "org-1", "--tenant", "org-2", "--es", "http://127.0.0.1:1"])
    err = capsys.readouterr().err.splitlines()
    assert (2, 1, True) == (code, len(err), "--tenant: the customer view shows one tenant" in err[0])
