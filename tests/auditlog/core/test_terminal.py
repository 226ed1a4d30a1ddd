"""Text bound for a terminal: control characters and bidirectional overrides are shown as escapes."""

from __future__ import annotations

import io
import json

import pytest

from auditlog.core.terminal import ShownStream, json_shown, shown, unfiltered


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


def test_one_line_form_escapes_line_breaks_and_tabs() -> None:
    """shown(line_breaks=False) escapes line breaks and tabs too, so a file name cannot add a row."""
    assert "a\\x0ab\\x09c\\x1b" == shown("a\nb\tc\x1b", line_breaks=False)


def test_a_lone_surrogate_is_shown_so_a_utf8_terminal_can_write_it() -> None:
    """A lone surrogate (a non-UTF-8 file name byte, a stored "\\ud800") becomes its escape and encodes."""
    assert "log-\\udcff.txt" == shown("log-\udcff.txt").encode("utf-8").decode()


def test_the_stream_escapes_what_it_writes_and_passes_the_rest() -> None:
    """ShownStream writes through shown() and hands other attributes to the wrapped stream."""
    target = io.StringIO()
    stream = ShownStream(target)
    count = stream.write("x\x1b[2J\n")
    stream.writelines(["\x07", "y"])
    assert (6, "x\\x1b[2J\n\\x07y", False) == (count, target.getvalue(), stream.isatty())


def test_unfiltered_hands_the_command_its_own_stream_back() -> None:
    """A progress line's carriage return goes to the stream under ShownStream; other streams pass as they are."""
    target = io.StringIO()
    unfiltered(ShownStream(target)).write("\rexported 5 events")
    assert ("\rexported 5 events", True) == (target.getvalue(), unfiltered(target) is target)


def test_the_quick_check_and_the_table_agree_on_every_code_point() -> None:
    """The regex that decides whether to translate matches exactly the characters the table escapes."""
    from auditlog.core import terminal

    for pattern, table in ((terminal._ANY, terminal._ESCAPES), (terminal._ANY_ONE_LINE, terminal._ONE_LINE_ESCAPES)):
        assert set(table) == {code for code in range(0x110000) if pattern.match(chr(code))}


def test_json_from_orjson_gets_its_c1_controls_and_bidi_marks_escaped_and_stays_the_same_json() -> None:
    """8-bit CSI/OSC, a right-to-left override and a line separator become JSON escapes; umlauts stay as they are."""
    raw = '{"file":"c1\u009b31mX\u009d0;p\u202eevil\u2028.jsonl \u00e4"}'.encode()
    out = json_shown(raw)
    assert (json.loads(out), out.decode().count("\\u"), "ä" in out.decode()) == (json.loads(raw), 4, True)


def test_an_invisible_character_is_shown_so_two_names_cannot_look_the_same() -> None:
    """A zero-width space, a word joiner, a soft hyphen and a tag character become escapes; ZWJ emoji stay whole."""
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    assert (shown("ad\u200bmin"), shown("root\u2060"), shown("ad\u00admin"), shown("x\U000e0041"), shown(family)) == (
        "ad\\u200bmin", "root\\u2060", "ad\\xadmin", "x\\U000e0041", family)


def test_json_escapes_a_tag_character_as_a_surrogate_pair_and_stays_the_same_json() -> None:
    """A character above U+FFFF that is shown escaped becomes JSON's surrogate pair escape, which reads back as it."""
    raw = json.dumps({"user": "a\U000e0041\u200b"}, ensure_ascii=False).encode()
    out = json_shown(raw)
    shown_text = out.decode()
    assert (json.loads(out), "\\udb40\\udc41" in shown_text, "\\u200b" in shown_text) == (json.loads(raw), True, True)
