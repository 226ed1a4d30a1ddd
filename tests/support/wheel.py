"""The project's wheel built from a copy of its sources, and fresh virtualenvs that install it.

pip fetches the build backend from PyPI (as the image does) and compiles the C extensions where a compiler is
found; nothing of the project's own virtualenv is visible in the virtualenvs made here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: what the wheel is built from (pyproject's packages, package-dir, package and data files)
SOURCES = ("pyproject.toml", "README.md", "auditlog", "agent", "indexer", "tui", "deploy", "ilm_policies")


def clean_env() -> dict[str, str]:
    """The environment for a program of such a virtualenv: no path of the project's own."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PYTHONNOUSERSITE"] = "1"
    return env


@dataclass(frozen=True)
class Venv:
    """A virtualenv holding ``auditlog-pipeline`` installed from a freshly built wheel."""

    root: Path

    def program(self, name: str) -> str:
        """The path of one of its programs (``python``, ``auditlog``)."""
        return str(self.root / "bin" / name)

    def run(self, *argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        """Run a program of the virtualenv with a clean environment."""
        return subprocess.run([self.program(argv[0]), *argv[1:]], cwd=cwd, env=clean_env(), capture_output=True,
                              text=True, timeout=300)


def build_wheel(tmp: Path) -> Path:
    """Build the wheel from a copy of the sources under ``tmp``; return its path."""
    src = tmp / "src"
    src.mkdir()
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            # no built extension either: the wheel's build compiles its own
            skipped = shutil.ignore_patterns("__pycache__", "*.pyc", "*.so")
            shutil.copytree(path, src / name, symlinks=True, ignore=skipped)
        else:
            shutil.copy2(path, src / name)
    wheels = tmp / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), str(src)],
                   check=True, timeout=300, capture_output=True)
    (wheel,) = wheels.glob("auditlog_pipeline-*.whl")
    return wheel


def installed(tmp: Path, requirement: str) -> Venv:
    """A new virtualenv under ``tmp`` with ``requirement`` (the wheel's path, with extras if any) installed.

    Raises:
        AssertionError: when pip fails (its messages attached).
    """
    venv = Venv(tmp / "venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv.root)], check=True, timeout=120)
    done = venv.run("python", "-m", "pip", "install", "--quiet", requirement, cwd=tmp)
    assert 0 == done.returncode, done.stderr
    return venv
