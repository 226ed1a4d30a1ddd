"""python -m bench refuses bad flags before anything runs: one line, exit 2, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.cli import main


def test_missing_work_dir_is_refused_in_one_line(tmp_path: Path) -> None:
    """`python -m bench --work-dir <missing>` exits 2 naming the flag, without a traceback."""
    missing = tmp_path / "nonexistent"
    done = subprocess.run([sys.executable, "-m", "bench", "--work-dir", str(missing), "--results-dir",
                           str(tmp_path / "results"), "--no-docs"], capture_output=True, text=True, timeout=120)
    last = done.stderr.strip().splitlines()[-1]
    assert (2, f"python -m bench: error: --work-dir {missing}: not an existing folder", False) == (
        done.returncode, last, "Traceback" in done.stderr)


@pytest.mark.parametrize(("flags", "message"), [
    (["--work-dir", "FILE"], "--work-dir FILE: not an existing folder"),
    (["--results-dir", "FILE/results"], "--results-dir FILE/results: cannot create it"),
    (["--size", "999"], "--size must be >= 1000, got 999"),
    (["--repeat", "0"], "--repeat must be >= 1, got 0"),
    (["--repeat-largest", "0"], "--repeat-largest must be >= 1, got 0"),
    (["--batch-size", "0"], "--batch-size must be >= 1, got 0"),
    (["--ceiling-workers", "0"], "--ceiling-workers must be >= 1, got 0"),
    (["--es-heap", "lots"], "--es-heap must be a size like 512m or 2g, got 'lots'"),
    (["--only", "ingest,nope"], "--only: unknown benchmark(s) nope"),
])
def test_bad_flags_exit_2_naming_the_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          flags: list[str], message: str) -> None:
    """Each bad flag value stops the run at once with exit status 2 and a line naming the flag."""
    afile = tmp_path / "FILE"
    afile.write_text("not a folder")
    argv = [f.replace("FILE", str(afile)) for f in flags]
    if "--results-dir" not in flags:
        argv += ["--results-dir", str(tmp_path / "results")]
    with pytest.raises(SystemExit) as stopped:
        main([*argv, "--no-docs"])
    err = capsys.readouterr().err
    assert (2, True) == (stopped.value.code, message.replace("FILE", str(afile)) in err)
