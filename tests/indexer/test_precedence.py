"""Which other index templates override ours for a daily index name (the pure part of indexer.precedence)."""

from __future__ import annotations

from typing import Any

from auditlog.indexer.precedence import Shadowed, winners_over


def _template(name: str, patterns: list[str], priority: int | None) -> dict[str, Any]:
    body: dict[str, Any] = {"index_patterns": patterns}
    if priority is not None:
        body["priority"] = priority
    return {"name": name, "index_template": body}


def test_winners_are_the_matching_templates_above_our_priority_highest_first() -> None:
    """Templates matching the name above priority 200 are named, highest first; ours, lower ones and others not."""
    templates = [
        _template("audit-business", ["audit-business-*"], 200),
        _template("corp", ["audit*"], 500),
        _template("all", ["*"], 900),
        _template("low", ["audit*"], 50),
        _template("none", ["audit*"], None),
        _template("other", ["logs-*"], 999),
    ]
    assert winners_over(templates, "audit-business-2026.12.05", "audit-business") == (
        "all (priority 900, patterns *)", "corp (priority 500, patterns audit*)")


def test_the_line_names_the_winner_the_count_and_the_remedy() -> None:
    """One line says which template overrides which, for which index, how many more, and what to change."""
    line = Shadowed("audit-business", "audit-business-2026.12.05", ("corp (priority 500, patterns audit*)",)).line(5)
    assert line == ("index template corp (priority 500, patterns audit*) overrides audit-business for "
                    "audit-business-2026.12.05 (and 5 more of ours): new daily indices would lack our mappings; "
                    "give it a priority below 200 or narrower patterns, then run setup again")
