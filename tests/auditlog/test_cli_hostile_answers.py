"""Every command that reads the cluster ends in one line when the answer is not Elasticsearch's: an HTML page, a
list, wrong types, hits that are no documents, a 100 kB error with an escape sequence, 2 MB of nothing useful."""

from __future__ import annotations

import contextlib
import io
import traceback
from pathlib import Path

import pytest

from auditlog.cli import main
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
            out, err = io.StringIO(), io.StringIO()
            try:
                with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                    main(argv)
            except SystemExit:
                pass
            except Exception:  # the point: nothing may escape main
                found.append(f"{' '.join(argv)}: {traceback.format_exc().strip().splitlines()[-1][:160]}")
                continue
            text = out.getvalue() + err.getvalue()
            if "Traceback" in text or "\x1b" in text or any(len(line) > 400 for line in err.getvalue().splitlines()):
                found.append(f"{' '.join(argv)}: {err.getvalue()[:160]!r}")
    assert [] == found
