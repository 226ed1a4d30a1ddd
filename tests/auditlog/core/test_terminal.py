"""Text bound for a terminal: control characters and bidirectional overrides are shown as escapes."""

from __future__ import annotations

import io

import pytest

from auditlog.core.terminal import ShownStream, shown, shown_cell


@pytest.mark.parametrize(("text", "expected"), [
    ("a\x1b]0;owned\x07b", "a\\x1b]0;owned\\x07b"),
    ("ok\rFAILED", "ok\\x0dFAILED"),
    ("\x9b2J", "\\x9b2J"),
    ("x\u202egnp.exe", "x\\u202egnp.exe"),
    ("\x7f", "\\x7f"),
])
def test_a_character_a_terminal_obeys_is_shown_as_its_escape(text: str, expected: str) -> None:
    """ESC, BEL, CR, C1 controls, DEL and bidi overrides become their escapes."""
    assert expected == shown(text)


def test_ordinary_text_line_breaks_and_tabs_stay() -> None:
    """Umlauts, emoji, line breaks and tabs pass unchanged through shown()."""
    text = "Zürich 🗓\tAnna [Admin]\nnext line"
    assert text == shown(text)


def test_a_cell_keeps_to_one_line() -> None:
    """shown_cell() escapes line breaks and tabs too, so a file name cannot add a row."""
    assert "a\\nb\\tc\\x1b" == shown_cell("a\nb\tc\x1b")


def test_the_stream_escapes_what_it_writes_and_passes_the_rest() -> None:
    """ShownStream writes through shown() and hands other attributes to the wrapped stream."""
    target = io.StringIO()
    stream = ShownStream(target)
    count = stream.write("x\x1b[2J\n")
    stream.writelines(["\x07", "y"])
    assert (6, "x\\x1b[2J\n\\x07y", False) == (count, target.getvalue(), stream.isatty())
