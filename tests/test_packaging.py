"""The emitter alone: a fresh virtualenv installs the wheel without extras, emits an event, stays light.

The wheel is built from a copy of the repository (pip fetches the build backend from PyPI, as in the
image); the fresh virtualenv then installs it, and pip takes structlog, orjson and msgspec from PyPI (or
its cache). Nothing of the project's own virtualenv is visible there.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import orjson
import pytest

from auditlog import __version__
from auditlog.agent.contract import validate
from tests.support.wheel import Venv, build_wheel, installed

#: what an app must not get when it depends on the emitter alone
HEAVY = {"elasticsearch", "elastic-transport", "textual", "rich", "openpyxl", "lxml", "watchdog", "jinja2"}


@pytest.fixture(scope="module")
def emitter_venv(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """Build the wheel from a copy of the sources and install it, without extras, into a new virtualenv."""
    tmp = tmp_path_factory.mktemp("emitter-only")
    return installed(tmp, str(build_wheel(tmp)))


def test_emitter_alone_pulls_in_no_heavy_package(emitter_venv: Venv, tmp_path: Path) -> None:
    """pip list of the emitter-only install is the distribution, structlog, orjson and msgspec (plus pip)."""
    done = emitter_venv.run("python", "-m", "pip", "list", "--format", "json", cwd=tmp_path)
    names = {p["name"].lower() for p in json.loads(done.stdout)}
    assert (set(), {"auditlog-pipeline", "msgspec", "orjson", "structlog"}) == (
        names & HEAVY, names - {"pip", "setuptools", "wheel"})


def test_emitter_alone_writes_a_contract_event(emitter_venv: Venv, tmp_path: Path) -> None:
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


def test_emitter_alone_has_the_command_with_its_version(emitter_venv: Venv, tmp_path: Path) -> None:
    """The core install has the auditlog command; --version names the distribution's version."""
    done = emitter_venv.run("auditlog", "--version", cwd=tmp_path)
    assert (0, f"auditlog {__version__}") == (done.returncode, done.stdout.strip())


def test_emitter_alone_names_the_extra_a_command_needs(emitter_venv: Venv, tmp_path: Path) -> None:
    """agent in the core install exits 1 with one line telling which extra to install."""
    done = emitter_venv.run("auditlog", "agent", "--print-config", cwd=tmp_path)
    assert (1, 1, True) == (done.returncode, len(done.stderr.splitlines()),
                            "pip install 'auditlog-pipeline[agent]'" in done.stderr)
