"""Make any value safe for an Excel cell: no formula injection, no illegal XML, no over-long text.

Pure logic (no openpyxl workbook, no I/O); the exporter calls ``cell_value`` for every cell.

- Formula injection (OWASP "CSV injection", kibana#56081): a string beginning with ``= + - @``,
  tab or carriage return is prefixed with an apostrophe, so neither Excel nor openpyxl (which
  treats a leading ``=`` as a formula) evaluates it, and a later CSV round-trip stays inert. So is
  one whose formula character (also every character that Unicode's NFKC folds to one, such as the full-width
  ``＝ ＋ － ＠``, the small ``﹦ ﹢ ﹣ ﹫`` and the super- and subscript ``⁼ ⁺``: spreadsheet imports fold them to
  ASCII) follows only whitespace, line breaks or zero-width characters: tools that trim a cell
  would otherwise reveal the formula.
- Sheet titles go through ``sheet_title``: no ``[ ] : * ? / \\``, at most 31 characters, never empty.
- Characters XML 1.0 forbids (openpyxl's ``ILLEGAL_CHARACTERS_RE``: C0 controls except tab, LF and
  CR; plus lone surrogates and U+FFFE/U+FFFF, which would break the file's UTF-8) become a visible
  escape such as ``\\x07``, so support staff see that something was there and what it was; so do DEL,
  C1 controls and the bidirectional marks and overrides, which a reader would obey (U+202E reverses
  what follows it) or never show.
- Line endings become LF (an XML reader would do so anyway).
- OOXML's own escapes: a spreadsheet reads ``_xHHHH_`` in a cell's text as the character U+HHHH (ECMA-376's
  ``ST_Xstring``; Excel and Apache POI do, openpyxl writes text as given), so ``_x003D_cmd`` would show as the
  formula text ``=cmd`` and ``_x001B_`` as ESC, past every rule above. The ``_`` that starts such a sequence is
  written as ``_x005F_`` (the escape of ``_`` itself, as Excel writes it), so the cell shows the text as stored.
- Excel holds at most 32,767 characters (UTF-16 code units) per cell; longer text is cut and ends
  with ``TRUNCATION_MARKER`` plus how many characters were dropped.
- Numbers Excel cannot hold exactly (integers beyond 2**53, NaN, infinities) are written as text.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, time
from typing import Any

from auditlog.core.terminal import BIDI_CONTROLS, INVISIBLE, escape_code
from auditlog.tui.values import display_value

#: Excel's limit of characters in one cell.
MAX_CELL_CHARS = 32_767
#: what ends a truncated cell; followed by the number of dropped characters.
TRUNCATION_MARKER = "…[truncated"
_FORMULA_FIRST = frozenset("=+-@\t\r")
#: Characters that show nothing (or only space) and may hide a formula character behind them: the invisible ones
#: the terminal escapes (``core.terminal.INVISIBLE``), the joiners it keeps, and the left-to-right and right-to-left
#: marks.
_INVISIBLE = "".join(escape_code(code) for code in (*INVISIBLE, 0x200C, 0x200D, 0x200E, 0x200F))
#: The characters NFKC folds to text starting with ``= + - @`` (tests/tui/test_sanitize.py derives the same set
#: from ``unicodedata``; computing it here would cost every start a walk over all code points).
FOLDED_FORMULA = "\u207a\u207c\u208a\u208c\u2a75\u2a76\ufb29\ufe62\ufe63\ufe66\ufe6b\uff0b\uff0d\uff1d\uff20"
#: A formula character (ASCII or folding to one), possibly behind whitespace or invisible characters.
_HIDDEN_FORMULA = re.compile(rf"\A[\s{_INVISIBLE}]*[=+\-@{FOLDED_FORMULA}]")
#: What a cell shows as an escape: characters the file cannot hold (C0 controls but tab, LF and CR; lone
#: surrogates; U+FFFE/U+FFFF), and those a reader would obey or never see: DEL, C1 controls, the
#: bidirectional marks and overrides and the invisible characters, the sets the terminal's escaping uses
#: (``core.terminal.BIDI_CONTROLS``, ``core.terminal.INVISIBLE``).
_UNSEEN = "".join(escape_code(code) for code in (*BIDI_CONTROLS, *INVISIBLE))
_ILLEGAL = re.compile(rf"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_UNSEEN}\ud800-\udfff\ufffe\uffff]")
#: The ``_`` that starts an OOXML escape ``_xHHHH_`` (each one, also where two sequences share an ``_``);
#: ``X`` too, in case a reader takes it: ``_x005F_`` always reads as ``_``, so escaping one more is harmless.
_OOXML_ESCAPE_START = re.compile(r"_(?=[xX][0-9A-Fa-f]{4}_)")
#: Matches wherever ``sanitize_text`` has work to do (a formula start, CR, an illegal character or an OOXML
#: escape); most text has none, and one C-level search clears it.
_NEEDS_WORK = re.compile(
    rf"\A[=+\-@\t\r\s{_INVISIBLE}{FOLDED_FORMULA}]|[\x00-\x08\x0b-\x1f\x7f-\x9f{_UNSEEN}\ud800-\udfff\ufffe\uffff]"
    r"|_[xX][0-9A-Fa-f]{4}_"
)
_MAX_EXACT_INT = 2**53
#: Types a cell keeps as they are (a tuple: a ``X | Y`` union would be built anew on every call).
_KEPT_TYPES = (bool, datetime, date, time)
CellValue = str | int | float | bool | datetime | date | time | None


def _escape(match: re.Match[str]) -> str:
    return escape_code(ord(match.group()))


def _utf16_len(text: str) -> int:
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _truncate(text: str, limit: int) -> str:
    if len(text) * 2 <= limit or _utf16_len(text) <= limit:
        return text
    # The marker's own length depends on the number it shows; reserve room for the widest number.
    marker_room = len(f"{TRUNCATION_MARKER} {len(text)} chars]")
    budget = limit - marker_room
    kept: list[str] = []
    used = 0
    for ch in text:
        width = 2 if ord(ch) > 0xFFFF else 1
        if used + width > budget:
            break
        kept.append(ch)
        used += width
    dropped = len(text) - len(kept)
    return "".join(kept) + f"{TRUNCATION_MARKER} {dropped} chars]"


def sanitize_text(text: str, *, limit: int = MAX_CELL_CHARS) -> str:
    """Return ``text`` made safe for one Excel cell.

    Args:
        text: any string, possibly hostile.
        limit: maximum cell length in UTF-16 code units (Excel: 32,767); must leave room for the marker.

    Returns:
        The neutralised, escaped and (if needed) truncated text.
    """
    if len(text) * 2 <= limit and _NEEDS_WORK.search(text) is None:
        return text  # the common case: short, harmless text (at most 2 UTF-16 units per character)
    if text[:1] in _FORMULA_FIRST or _HIDDEN_FORMULA.match(text):
        text = "'" + text
    if _ILLEGAL.search(text):
        text = _ILLEGAL.sub(_escape, text)
    if "\r" in text:
        # XML parsers turn CR and CRLF into LF anyway; doing it here keeps what we write == what Excel reads.
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "_" in text:
        text = _OOXML_ESCAPE_START.sub("_x005F_", text)
    return _truncate(text, limit)


def cell_value(value: Any, *, limit: int = MAX_CELL_CHARS) -> CellValue:
    """Convert a value to something safe to put into a cell, keeping real types where Excel has them.

    Args:
        value: a value from an event or computed by the exporter.
        limit: maximum text length (see ``sanitize_text``).

    Returns:
        ``None``, a bool, an exactly representable number, a date/time, or sanitised text.
    """
    if type(value) is str:  # the common case first: most cells are text
        return sanitize_text(value, limit=limit)
    if value is None or isinstance(value, _KEPT_TYPES):
        return value
    if isinstance(value, int):
        return value if abs(value) <= _MAX_EXACT_INT else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    return sanitize_text(value if isinstance(value, str) else display_value(value), limit=limit)


#: Characters Excel forbids in sheet titles, and its title length limit.
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
MAX_SHEET_TITLE = 31


def sheet_title(text: str) -> str:
    """Return ``text`` as a valid sheet title: forbidden characters become ``_``, cut to 31 characters.

    Args:
        text: the wanted title.

    Returns:
        A title Excel accepts (never empty, no leading or trailing apostrophe, no control characters).
    """
    title = _SHEET_FORBIDDEN.sub("_", sanitize_text(text).lstrip("'"))
    title = _ILLEGAL.sub("_", title).replace("\n", " ")[:MAX_SHEET_TITLE].strip("'")
    return title or "Sheet"
