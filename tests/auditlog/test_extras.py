"""auditlog/extras.py agrees with the command modules and with pyproject's extras."""

from __future__ import annotations

import argparse
import importlib
import re
import tomllib
from pathlib import Path

import pytest

from auditlog.extras import AREAS, MODULE_EXTRA, Area, missing_extra_message

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("area", AREAS, ids=lambda a: a.module)
def test_area_table_names_the_commands_each_module_registers(area: Area) -> None:
    """Each area lists exactly the commands its module registers (the stubs stand in for those)."""
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    importlib.import_module(f"auditlog.commands.{area.module}").register(sub)
    assert set(area.commands) == set(sub.choices)


def test_every_optional_requirement_has_its_extra() -> None:
    """Every package of the [agent] and [tui] extras is known to MODULE_EXTRA under an extra that lists it."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    wrong = []
    for extra in ("agent", "tui"):
        for requirement in extras[extra]:
            name = re.split(r"[<>=\[; ]", requirement, maxsplit=1)[0].lower()
            if MODULE_EXTRA.get(name) not in ("agent", "tui"):
                wrong.append(name)
    assert [] == wrong


def test_core_dependencies_are_only_the_emitters() -> None:
    """The core distribution depends on structlog, orjson and msgspec only."""
    core = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert ["msgspec", "orjson", "structlog"] == sorted(re.split(r"[<>=]", r, maxsplit=1)[0] for r in core)


def test_message_is_one_line_with_the_pip_command() -> None:
    """The message names the missing module and the exact pip command."""
    assert "not installed (no module 'textual'): pip install 'auditlog-pipeline[tui]'" == \
        missing_extra_message("tui", "textual")
