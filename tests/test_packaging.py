"""The emitter alone: a fresh virtualenv installs the wheel without extras, emits an event, stays light.

The wheel is built from a copy of the repository (pip fetches the build backend from PyPI, as in the
image); the fresh virtualenv then installs it, and pip takes structlog, orjson and msgspec from PyPI (or
its cache). Nothing of the project's own virtualenv is visible there.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from auditlog import __version__
from auditlog.agent.contract import validate

ROOT = Path(__file__).resolve().parents[1]
#: what the wheel is built from (pyproject's packages, package-dir, package and data files)
SOURCES = ("pyproject.toml", "README.md", "auditlog", "agent", "indexer", "tui", "deploy", "ilm_policies")
#: what an app must not get when it depends on the emitter alone
HEAVY = {"elasticsearch", "elastic-transport", "textual", "rich", "openpyxl", "lxml", "watchdog", "jinja2"}


@dataclass(frozen=True)
class EmitterVenv:
    """A virtualenv with only ``auditlog-pipeline`` (no extras) installed from a freshly built wheel."""

    root: Path

    def run(self, *argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        """Run a program of the virtualenv with a clean environment."""
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        env["PYTHONNOUSERSITE"] = "1"
        return subprocess.run([str(self.root / "bin" / argv[0]), *argv[1:]], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def emitter_venv(tmp_path_factory: pytest.TempPathFactory) -> EmitterVenv:
    """Build the wheel from a copy of the sources and install it, without extras, into a new virtualenv."""
    tmp = tmp_path_factory.mktemp("emitter-only")
    src = tmp / "src"
    src.mkdir()
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, src / name)
    wheels = tmp / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), str(src)],
                   check=True, timeout=300, capture_output=True)
    (wheel,) = wheels.glob("auditlog_pipeline-*.whl")
    venv = EmitterVenv(tmp / "venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv.root)], check=True, timeout=120)
    done = venv.run("python", "-m", "pip", "install", "--quiet", str(wheel), cwd=tmp)
    assert 0 == done.returncode, done.stderr
    return venv


def test_emitter_alone_pulls_in_no_heavy_package(emitter_venv: EmitterVenv, tmp_path: Path) -> None:
    """pip list of the emitter-only install is the distribution, structlog, orjson and msgspec (plus pip)."""
    done = emitter_venv.run("python", "-m", "pip", "list", "--format", "json", cwd=tmp_path)
    names = {p["name"].lower() for p in json.loads(done.stdout)}
    assert (set(), {"auditlog-pipeline", "msgspec", "orjson", "structlog"}) == (
        names & HEAVY, names - {"pip", "setuptools", "wheel"})


def test_emitter_alone_writes_a_contract_event(emitter_venv: EmitterVenv, tmp_path: Path) -> None:
    """In the emitter-only install, a module-level logger made before configure() writes a valid event."""
    script = textwrap.dedent("""
        import sys
        from auditlog.agent.emitter import configure, get_audit_logger
        audit = get_audit_logger(source="appointments", tenant="org-4711", tier="enterprise")
        configure(path=sys.argv[1])
        audit.update("moved appointment 4711", changes={"start": ("10:00", "11:00")})
    """)
    log = tmp_path / "audit.jsonl"
    done = emitter_venv.run("python", "-c", script, str(log), cwd=tmp_path)
    assert 0 == done.returncode, done.stderr
    (event,) = [orjson.loads(line) for line in log.read_bytes().splitlines()]
    assert ([], "update") == (validate(event), event["event"]["action"])


def test_emitter_alone_has_the_command_with_its_version(emitter_venv: EmitterVenv, tmp_path: Path) -> None:
    """The core install has the auditlog command; --version names the distribution's version."""
    done = emitter_venv.run("auditlog", "--version", cwd=tmp_path)
    assert (0, f"auditlog {__version__}") == (done.returncode, done.stdout.strip())


def test_emitter_alone_names_the_extra_a_command_needs(emitter_venv: EmitterVenv, tmp_path: Path) -> None:
    """agent in the core install exits 1 with one line telling which extra to install."""
    done = emitter_venv.run("auditlog", "agent", "--print-config", cwd=tmp_path)
    assert (1, 1, True) == (done.returncode, len(done.stderr.splitlines()),
                            "pip install 'auditlog-pipeline[agent]'" in done.stderr)
