"""Tests for tui.summaries: one-line event summaries from Jinja2 templates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditlog.tui.summaries import Summarizer


def _moved() -> dict[str, Any]:
    return {
        "@timestamp": "2026-11-19T09:00:00Z",
        "event": {"id": "e1", "action": "update"},
        "audit": {"source": "appointments", "changes": {"start": {"old": "10:00", "new": "11:00"}}},
        "user": {"name": "Anna Muster"},
        "url": {"full": "https://dashboard.example/acme/appointments/4711"},
    }


def test_english_appointment_move() -> None:
    """The seed's example reads as a sentence in English."""
    expected = "Anna Muster moved appointment 4711 from 10:00 to 11:00"
    assert expected == Summarizer("en").summarize(_moved())


def test_german_appointment_move() -> None:
    """The same event reads as a sentence in German."""
    expected = "Anna Muster hat Termin 4711 von 10:00 auf 11:00 verschoben"
    assert expected == Summarizer("de").summarize(_moved())


def test_failed_login() -> None:
    """A failed auth event says so, with the login type."""
    event = {"event": {"action": "auth", "outcome": "failure"}, "audit": {"source": "login", "login_type": "sso"},
             "user": {"email": "a@example.com"}}
    expected = "a@example.com failed to sign in via sso"
    assert expected == Summarizer("en").summarize(event)


def test_unknown_source_uses_generic_action_template() -> None:
    """A source without its own template gets the per-action template."""
    event = {"event": {"action": "delete"}, "audit": {"source": "invoices"}, "user": {"name": "Bo"}}
    expected = "Bo deleted invoices"
    assert expected == Summarizer("en").summarize(event)


def test_user_folder_overrides_shipped_template(tmp_path: Path) -> None:
    """A template in the user's folder replaces the shipped one."""
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "appointments.update.j2").write_text("{{ worker }} shifted {{ object_id }}")
    expected = "Anna Muster shifted 4711"
    assert expected == Summarizer("en", tmp_path).summarize(_moved())


def test_broken_template_falls_back(tmp_path: Path) -> None:
    """A template that does not compile is skipped for the next, more generic one."""
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "appointments.update.j2").write_text("{% if %}")
    expected = "Anna Muster changed start of appointment 4711 from 10:00 to 11:00"
    assert expected == Summarizer("en", tmp_path).summarize(_moved())


def test_failing_template_falls_back(tmp_path: Path) -> None:
    """A template that fails while rendering (missing data, errors) is skipped too."""
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "appointments.update.j2").write_text("{{ e.no.such.field }}")
    (tmp_path / "en" / "_update.j2").write_text("{{ 1 // 0 }}")
    (tmp_path / "en" / "_default.j2").write_text("   ")
    expected = "Anna Muster update appointments (start)"
    assert expected == Summarizer("en", tmp_path).summarize(_moved())


def test_sandbox_blocks_unsafe_templates(tmp_path: Path) -> None:
    """A user template cannot reach Python internals; it falls back instead."""
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "appointments.update.j2").write_text("{{ e.__class__.__mro__[1].__subclasses__() }}")
    expected = "Anna Muster moved appointment 4711 from 10:00 to 11:00"
    assert expected == Summarizer("en", tmp_path / "none").summarize(_moved())
    assert "subclasses" not in Summarizer("en", tmp_path).summarize(_moved())


def test_hostile_source_name_is_not_a_path() -> None:
    """A source like ../../etc is not used to look up a template."""
    event = {"event": {"action": "update"}, "audit": {"source": "../../etc/passwd"}, "user": {"name": "X"}}
    expected = "X updated ../../etc/passwd"
    assert expected == Summarizer("en").summarize(event)


def test_unknown_language_is_refused() -> None:
    """A language without templates is a construction error naming the language."""
    with pytest.raises(ValueError, match="'fr'"):
        Summarizer("fr")


def test_user_folder_adds_a_language(tmp_path: Path) -> None:
    """A language the user supplies a folder for works."""
    (tmp_path / "fr").mkdir()
    (tmp_path / "fr" / "_default.j2").write_text("{{ worker }} a agi")
    expected = "Anna Muster a agi"
    assert expected == Summarizer("fr", tmp_path).summarize(_moved())


json_leaf = st.none() | st.booleans() | st.integers() | st.text(max_size=10)
json_any = st.recursive(json_leaf, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=10)
events = st.fixed_dictionaries({}, optional={
    "event": st.fixed_dictionaries({}, optional={"action": st.sampled_from(["auth", "create", "update", "delete"])
                                                 | st.text(max_size=5), "outcome": json_any}),
    "audit": st.fixed_dictionaries({}, optional={
        "source": st.sampled_from(["appointments", "slots", "settings", "login"]) | json_any,
        "changes": st.dictionaries(st.text(max_size=5), json_any, max_size=3) | json_any,
        "login_type": json_any}),
    "user": json_any, "url": json_any,
})


@settings(max_examples=150, deadline=None)
@given(events, st.sampled_from(["en", "de"]))
def test_any_event_gets_a_one_line_summary(event: dict[str, Any], lang: str) -> None:
    """Whatever shape an event has, the summary is a non-empty single line."""
    text = Summarizer(lang).summarize(event)
    expected = (True, False)
    assert expected == (bool(text), "\n" in text)
