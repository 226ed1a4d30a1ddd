"""Tests for tui.sanitize: cells safe for Excel."""

from __future__ import annotations

import io
import re
import sys
import unicodedata
from collections.abc import Sequence
from datetime import datetime

import openpyxl
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.utils.escape import unescape

from auditlog.tui.sanitize import FOLDED_FORMULA, MAX_CELL_CHARS, TRUNCATION_MARKER, cell_value, sanitize_text

#: every character that NFKC (what spreadsheet imports apply) folds to text starting with a formula character
NFKC_FORMULA = "".join(
    ch for ch in map(chr, range(0x80, sys.maxunicode + 1))
    if not 0xD800 <= ord(ch) <= 0xDFFF and unicodedata.normalize("NFKC", ch)[:1] in ("=", "+", "-", "@"))


#: an escape a spreadsheet decodes in cell text (ECMA-376 ST_Xstring; ``openpyxl.utils.escape.unescape`` decodes it
#: as Excel and Apache POI do)
OOXML_ESCAPE = re.compile(r"_[xX][0-9A-Fa-f]{4}_")


def _roundtrip(values: Sequence[object]) -> list[object]:
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("t")
    ws.append(values)
    buf = io.BytesIO()
    wb.save(buf)
    buf.seek(0)
    return [c.value for c in next(openpyxl.load_workbook(buf, read_only=True)["t"].iter_rows())]


def test_formula_is_neutralised() -> None:
    """A cell starting with = is prefixed with an apostrophe."""
    expected = "'=HYPERLINK(\"http://x\")"
    assert expected == sanitize_text('=HYPERLINK("http://x")')


def test_each_dangerous_start_is_neutralised() -> None:
    """Cells beginning with + - @ tab and CR are neutralised too (CR then becomes LF like any line end)."""
    expected = ["'+1", "'-1", "'@SUM(A1)", "'\tx", "'\nx"]
    assert expected == [sanitize_text(s) for s in ("+1", "-1", "@SUM(A1)", "\tx", "\rx")]


def test_line_endings_become_lf() -> None:
    """CRLF and lone CR inside text become LF, as an XML reader would read them."""
    expected = "a\nb\nc"
    assert expected == sanitize_text("a\r\nb\rc")


def test_control_characters_become_visible_escapes() -> None:
    """A bell character is shown as \\x07 instead of breaking the file."""
    expected = "a\\x07b"
    assert expected == sanitize_text("a\x07b")


def test_c1_controls_del_and_bidi_overrides_become_visible_escapes() -> None:
    """A C1 control, DEL and a right-to-left override show as escapes: no reader obeys them (U+202E would show
    "Anna" + "nimda" as "Annaadmin")."""
    expected = "Anna\\u202enimda \\x9b2J \\x7f \\u2066x\\u2069"
    assert sanitize_text("Anna\u202enimda \x9b2J \x7f \u2066x\u2069") == expected


def test_invisible_characters_become_visible_escapes_and_joiners_stay() -> None:
    """A zero-width space, a BOM and a tag character in a cell show as escapes; a ZWJ emoji stays as it is."""
    family = "\U0001f468\u200d\U0001f469"
    assert (sanitize_text("ad\u200bmin\ufeff"), sanitize_text("x\U000e0041"), sanitize_text(family)) == (
        "ad\\u200bmin\\ufeff", "x\\U000e0041", family)


def test_long_text_is_truncated_with_marker() -> None:
    """Text over the limit is cut to the limit and ends with the marker and the dropped count."""
    out = sanitize_text("x" * 40_000)
    kept = out.index(TRUNCATION_MARKER)
    assert (True, f"{TRUNCATION_MARKER} {40_000 - kept} chars]") == (MAX_CELL_CHARS - 10 <= len(out) <= MAX_CELL_CHARS,
                                                                      out[kept:])


def test_astral_characters_count_twice_towards_the_limit() -> None:
    """Characters outside the BMP take two UTF-16 units, as in Excel."""
    out = sanitize_text("😀" * 20_000)
    assert len(out.encode("utf-16-le")) // 2 <= MAX_CELL_CHARS


def test_real_types_are_kept() -> None:
    """Numbers, booleans and datetimes stay real values, not strings."""
    when = datetime(2026, 1, 2, 3, 4, 5)
    assert [1, 2.5, True, when, None] == [cell_value(v) for v in (1, 2.5, True, when, None)]


def test_inexact_numbers_become_text() -> None:
    """Integers beyond 2**53 and NaN are written as text so Excel cannot alter them."""
    expected = ["9007199254740993", "nan"]
    assert expected == [cell_value(2**53 + 1), cell_value(float("nan"))]


def test_objects_become_json_text() -> None:
    """Lists and objects are written as compact JSON."""
    expected = '{"a": [1, 2]}'
    assert expected == cell_value({"a": [1, 2]})


@given(st.text())
def test_sanitised_text_never_starts_a_formula(text: str) -> None:
    """No sanitised text starts with a formula character."""
    assert not sanitize_text(text).startswith(("=", "+", "-", "@", "\t", "\r"))


@given(st.text(max_size=300), st.integers(min_value=60, max_value=400))
def test_sanitised_text_fits_the_limit(text: str, limit: int) -> None:
    """Sanitised text never exceeds the cell limit in UTF-16 units."""
    assert len(sanitize_text(text, limit=limit).encode("utf-16-le", "surrogatepass")) // 2 <= limit


@given(st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=100))
def test_safe_text_is_unchanged(text: str) -> None:
    """Text without dangerous starts or illegal characters passes through unchanged."""
    # Strip anything that may start (or hide the start of) a formula: whitespace, invisible characters,
    # ASCII formula characters and those NFKC folds to one.
    safe = text.lstrip("=+-@\t\r\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062"
                       "\u2063\u2064\ufeff\u180e" + NFKC_FORMULA
                       + "".join(ch for ch in map(chr, range(0x3001)) if ch.isspace()))
    safe = OOXML_ESCAPE.sub("", safe.replace("\r", ""))
    escaped = [*range(9), 11, 12, *range(14, 32), *range(0x7F, 0xA0), 0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F),
               *range(0x2066, 0x206A), 0xFFFE, 0xFFFF,
               0xAD, 0x115F, 0x1160, 0x180E, 0x200B, *range(0x2060, 0x2065), 0x3164, 0xFEFF, 0xFFA0,
               *range(0xE0000, 0xE0080)]  # invisible
    if not any(ch in safe for ch in map(chr, escaped)):
        assert safe == sanitize_text(safe)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(max_size=200), min_size=1, max_size=5))
def test_any_text_survives_an_xlsx_roundtrip(texts: list[str]) -> None:
    """openpyxl writes and reads back every sanitised value unchanged, whatever the input."""
    cells = [cell_value(t) for t in texts]
    assert [c if c != "" else None for c in cells] == _roundtrip(cells)


def test_whitespace_and_line_breaks_before_a_formula_are_neutralised() -> None:
    """A formula character behind spaces, a tab, a line break or a no-break space is neutralised."""
    expected = ["' =1+1", "'\n=cmd", "'  @SUM(A1)", "'\xa0+1", "'\n\t-2"]
    assert expected == [sanitize_text(s) for s in (" =1+1", "\n=cmd", "  @SUM(A1)", "\xa0+1", "\n\t-2")]


def test_full_width_formula_characters_are_neutralised() -> None:
    """The full-width forms ＝ ＋ － ＠ at the start are neutralised like their ASCII twins."""
    expected = ["'＝1+1", "'＋1", "'－1", "'＠SUM(A1)"]
    assert expected == [sanitize_text(s) for s in ("＝1+1", "＋1", "－1", "＠SUM(A1)")]


def test_zero_width_characters_before_a_formula_are_neutralised() -> None:
    """Zero-width space, joiner, word joiner and BOM in front of a formula character do not hide it."""
    texts = ["\u200b=1", "\u200d\u200c+1", "\u2060@x", "\ufeff-1", "\u200b ＝1"]
    assert [True] * len(texts) == [sanitize_text(t).startswith("'") for t in texts]


def test_every_character_that_shows_nothing_before_a_formula_is_neutralised() -> None:
    """A soft hyphen, a Hangul filler or a tag character in front of a formula character does not hide it either."""
    texts = ["\u00ad=1", "\u3164+1", "\U000e0041@x", "\u115f\u00ad-1"]
    assert [True] * len(texts) == [sanitize_text(t).startswith("'") for t in texts]


def test_innocent_leading_space_is_kept() -> None:
    """Text that merely starts with a space (no formula behind it) is unchanged."""
    assert " hello = world" == sanitize_text(" hello = world")


def test_sheet_titles_are_valid() -> None:
    """Forbidden characters become _, titles are cut to 31 characters and never empty."""
    from auditlog.tui.sanitize import sheet_title

    expected = ["Events (2)", "a_b__c_", "x" * 31, "Sheet"]
    assert expected == [sheet_title(t) for t in ("Events (2)", "a[b]:c*", "x" * 40, "'")]


@given(st.text())
def test_no_formula_hides_behind_blanks(text: str) -> None:
    """Sanitised text never starts with blanks or invisible characters followed by a formula character."""
    import re

    hidden = re.compile(rf"\A[\s\u200b-\u200f\u2060-\u2064\ufeff\u180e]*[=+\-@{NFKC_FORMULA}]")
    assert hidden.match(sanitize_text(text)) is None


@given(st.sampled_from(NFKC_FORMULA), st.text(max_size=5))
def test_every_character_folding_to_a_formula_start_is_neutralised(first: str, rest: str) -> None:
    """A cell starting with a character NFKC folds to = + - @ (small ﹦, superscript ⁼, full-width ＝) is defused."""
    assert sanitize_text(first + rest).startswith("'")


def test_the_folded_formula_set_is_what_nfkc_gives() -> None:
    """The sanitiser's hard-coded set equals the one derived from this Python's Unicode database."""
    assert sorted(NFKC_FORMULA) == sorted(FOLDED_FORMULA)


def test_ooxml_escapes_read_back_as_stored_not_as_a_formula_or_an_escape_byte() -> None:
    """Text spelling OOXML escapes (``_x003D_`` is ``=``, ``_x001B_`` ESC) reads back as stored where they are read."""
    texts = ['_x003D_HYPERLINK("http://evil.example","click")', "_x001B_[2J Mallory", "a_x0041_x0042_b", "_X0007_"]
    assert texts == [unescape(sanitize_text(t)) for t in texts]


@given(st.lists(st.sampled_from(["_x003D_", "_x005F_", "_X001b_", "_", "x", "0041", "_x", "a", " "]), max_size=12))
def test_text_made_of_escape_pieces_reads_back_as_stored(pieces: list[str]) -> None:
    """However underscores, x and hex digits are run together, a decoding spreadsheet shows the text as stored."""
    text = "".join(pieces)
    assert text == unescape(sanitize_text(text))
