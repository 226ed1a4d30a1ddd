"""Every command that reads the cluster ends in one line when the answer is not Elasticsearch's: an HTML page, a
list, wrong types, hits that are no documents, a 100 kB error with an escape sequence, 2 MB of nothing useful."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli_run import run_for_findings
from tests.support.hostile_cluster import SHAPES, hostile_cluster

COMMANDS = [["show", "x1"], ["verify"], ["verify", "--json"], ["retention", "status"],
            ["retention", "enforce", "--dry-run"], ["export", "-o", "out.xlsx"], ["keys", "list"],
            ["keys", "tenant", "org-1"], ["setup"], ["agent", "check", "--state-dir", "state"]]


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_a_hostile_answer_ends_every_command_in_one_line(shape: str, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """No command raises, prints a traceback, an escape byte or a line over 400 characters for the answer."""
    monkeypatch.chdir(tmp_path)
    found = []
    with hostile_cluster(shape) as url:
        monkeypatch.setenv("AUDITLOG_ES_URL", url)
        for argv in COMMANDS:
            problem = run_for_findings(argv)
            if problem is not None:
                found.append(f"{' '.join(argv)}: {problem}")
    assert [] == found
