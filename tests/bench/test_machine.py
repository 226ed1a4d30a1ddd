"""The bench record's description of the machine and the versions it measured."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

from bench.machine import versions


def test_the_record_names_the_installed_auditlog_version(repo_root: Path) -> None:
    """The versions table gives the installed auditlog-pipeline version, not "not installed"."""
    assert versions(repo_root)["auditlog"] == version("auditlog-pipeline")
