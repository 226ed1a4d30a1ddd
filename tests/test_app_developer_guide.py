"""docs/app-developer-guide.md: every code block runs, and the output it shows is what the code writes.

Python blocks whose first line is a ``# path.py`` comment are files of an example app and its tests:
they are written to a temporary folder and run by pytest there (in a child process, with the
package's ``audit_events`` fixture). The other Python block runs as a script; its file path points
into a temporary folder and ``request`` stands for the web framework's request. The JSON block must
equal what that script wrote (apart from the time and the id, which differ per run). The Go block
is compiled and run with the Go toolchain.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from auditlog.agent.contract import validate
from auditlog.agent.emitter import shutdown
from auditlog.core.contract import CONTRACT, F

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "app-developer-guide.md"
FILE_HEADER = re.compile(r"\A# ([\w/]+\.py)\n")


def _blocks() -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in re.finditer(r"^```(\w*)\n(.*?)^```$", GUIDE.read_text(), re.S | re.M)]


def _scripts() -> list[str]:
    return [code for lang, code in _blocks() if lang == "python" and not FILE_HEADER.match(code)]


def _app_files() -> dict[str, str]:
    return {m.group(1): code for lang, code in _blocks() if lang == "python" and (m := FILE_HEADER.match(code))}


@pytest.fixture(autouse=True)
def _no_emitter() -> Any:
    """The guide's script configures the process-wide emitter: close it afterwards."""
    shutdown()
    yield
    shutdown()


def test_every_block_is_one_this_module_runs() -> None:
    """The guide has exactly the blocks run here: one script, its JSON output, app and test files, Go."""
    kinds = sorted(lang for lang, _ in _blocks())
    assert (["go", "json", "python", "python", "python", "python"], 1, 3) == (kinds, len(_scripts()), len(_app_files()))


def _run_script(tmp_path: Path) -> dict[str, Any]:
    (script,) = _scripts()
    log = tmp_path / "audit.jsonl"
    code = script.replace("/var/log/app/audit.jsonl", str(log))
    exec(compile(code, str(GUIDE), "exec"), {"request": SimpleNamespace(remote_addr="203.0.113.7")})
    shutdown()
    (event,) = [orjson.loads(line) for line in log.read_bytes().splitlines()]
    return dict(event)


def test_script_writes_one_valid_event(tmp_path: Path) -> None:
    """The five-line example writes one event the contract accepts."""
    assert [] == validate(_run_script(tmp_path))


def test_json_block_is_what_the_script_writes(tmp_path: Path) -> None:
    """The JSON the guide shows equals the script's line, except for the time, the id and the stream id."""
    written = _run_script(tmp_path)
    (shown,) = [orjson.loads(code) for lang, code in _blocks() if lang == "json"]
    for event in (written, shown):
        event["@timestamp"] = "<time>"
        event["event"]["id"] = "<id>"
        event["audit"]["stream"] = "<stream>"
    assert shown == written


def test_app_test_recipes_pass_under_pytest(tmp_path: Path) -> None:
    """The example app's test files pass under pytest (module-level logger, fixture, context manager, file)."""
    for name, code in _app_files().items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(code)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUDITLOG_", "PYTEST_"))}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert (0, True) == (done.returncode, "3 passed" in done.stdout), done.stdout + done.stderr


GO_MAIN = """package main

import (
\t"encoding/json"
\t"os"
\t"time"

\t"github.com/google/uuid"
)

func main() {
\tf, err := os.OpenFile(os.Args[1], os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0640)
\tif err != nil {
\t\tpanic(err)
\t}
\tdefer f.Close()
%s}
"""


def test_go_example_writes_a_valid_event(tmp_path: Path) -> None:
    """The Go example, compiled inside a main that opens the file for append, writes one valid event."""
    go = shutil.which("go") or "/usr/local/go/bin/go"
    (snippet,) = [code for lang, code in _blocks() if lang == "go"]
    (tmp_path / "main.go").write_text(GO_MAIN % "".join(f"\t{line}\n" for line in snippet.splitlines()))
    (tmp_path / "go.mod").write_text("module guidecheck\n\ngo 1.21\n")
    env = dict(os.environ, GOFLAGS="-buildvcs=false", HOME=os.environ.get("HOME", str(tmp_path)))
    for argv in ([go, "get", "github.com/google/uuid@v1.6.0"], [go, "run", ".", str(tmp_path / "audit.jsonl")]):
        done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert 0 == done.returncode, done.stderr
    (event,) = [orjson.loads(line) for line in (tmp_path / "audit.jsonl").read_bytes().splitlines()]
    assert ([], "update") == (validate(event), event["event"]["action"])


def test_keyword_table_is_the_contracts_aliases() -> None:
    """The guide's keyword table lists exactly the contract definition's aliases (the action is the method's verb)."""
    rows = re.findall(r"^\| `(\w+)` \| `([@\w.]+)`[^|]*\| `(\w+)` \| `([\w.]+)` \|$", GUIDE.read_text(), re.M)
    documented = {k: v for a, b, c, d in rows for k, v in ((a, b), (c, d))}
    expected = {alias: path for alias, path in CONTRACT.aliases().items() if path != F.action}
    assert expected == documented
