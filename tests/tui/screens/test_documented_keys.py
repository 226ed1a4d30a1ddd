"""docs/tui.md's keys against the screens' bindings: each key the guide names does what it says."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.binding import Binding
from textual.screen import Screen

from auditlog.tui.screens.detail import DetailScreen
from auditlog.tui.screens.main import MainScreen

GUIDE = (Path(__file__).resolve().parents[3] / "docs" / "tui.md").read_text()

#: (how the guide writes the key, the screen, Textual's key name, the action it must run)
KEYS = [
    ("(`f`", MainScreen, "f", "toggle_filters"),
    ("(`r` cycles", MainScreen, "r", "next_range"),
    ("`R` custom", MainScreen, "R", "custom_range"),
    ("(`/`)", MainScreen, "slash", "focus_search"),
    ("(`e`)", MainScreen, "e", "export_all"),
    ("(`d`, also in the detail view)", MainScreen, "d", "export_one"),
    ("(`d`, also in the detail view)", DetailScreen, "d", "download"),
    ("(`t`)", MainScreen, "t", "toggle_live"),
    ("`v` lists the", MainScreen, "v", "verification"),
    ("`?` lists every key", MainScreen, "question_mark", "help"),
    ("`←`/`→` (or `p`/`n`)", DetailScreen, "left", "step(-1)"),
    ("`←`/`→` (or `p`/`n`)", DetailScreen, "right", "step(1)"),
    ("`←`/`→` (or `p`/`n`)", DetailScreen, "p", "step(-1)"),
    ("`←`/`→` (or `p`/`n`)", DetailScreen, "n", "step(1)"),
    ("`1` `2` `3` switch tabs", DetailScreen, "1", "tab('raw')"),
    ("`1` `2` `3` switch tabs", DetailScreen, "3", "tab('json')"),
    ("**Proof** tab (`4`)", DetailScreen, "4", "tab('proof')"),
]


def _actions(screen: type[Screen[object]]) -> dict[str, str]:
    """Key -> action of a screen's bindings (a binding of several keys counts for each)."""
    found: dict[str, str] = {}
    for binding in screen.BINDINGS:
        assert isinstance(binding, Binding)
        for key in binding.key.split(","):
            found[key.strip()] = binding.action
    return found


@pytest.mark.parametrize(("phrase", "screen", "key", "action"), KEYS, ids=[f"{s.__name__}-{k}" for _, s, k, _ in KEYS])
def test_a_key_the_guide_names_runs_its_action(phrase: str, screen: type[Screen[object]], key: str,
                                               action: str) -> None:
    """The guide names the key, and the screen binds it to the action the guide describes."""
    assert (phrase in GUIDE, _actions(screen).get(key)) == (True, action)
