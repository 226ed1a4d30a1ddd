"""Tests for tui.values: value text and terminal-safe text."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from auditlog.tui.values import display_value, printable


def test_display_value_forms() -> None:
    """None is empty, booleans are JSON words, objects compact JSON with sorted keys."""
    expected = ["", "true", "3", "2.5", "x", '{"a": 1, "b": [1, "ü"]}']
    assert expected == [display_value(v) for v in (None, True, 3, 2.5, "x", {"b": [1, "ü"], "a": 1})]


def test_escape_sequences_are_shown_not_sent() -> None:
    """An ESC byte (terminal escape sequence) becomes a visible \\x1b."""
    expected = "Anna\\x1b[2JKeller"
    assert expected == printable("Anna\x1b[2JKeller")


def test_multiline_keeps_line_breaks() -> None:
    """The detail view keeps line breaks; the list escapes them."""
    expected = ("a\nb", "a\\x0ab")
    assert expected == (printable("a\nb", multiline=True), printable("a\nb"))


@given(st.text())
def test_printable_has_no_control_characters(text: str) -> None:
    """Whatever the input, the result contains no C0/C1 control character."""
    assert not any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in printable(text))
