"""Text bound for a terminal: control characters are shown, never obeyed.

File names, event ids, index names and Elasticsearch's error reasons reach the commands' output, and
event text reaches the TUI; any of them may carry an escape sequence (``\\x1b]0;...`` retitles the
window, ``\\x1b[2J`` clears it, ``\\r`` overwrites what a line said), a bidirectional override that
shows text in another order than it is stored ("Trojan Source"), or a lone surrogate (Elasticsearch
stores ``"\\ud800"`` as given; a file name with bytes that are not UTF-8 decodes to one) that a UTF-8
terminal cannot even encode. :func:`shown` writes each such character as its escape (``\\x1b``,
``\\u202e``, ``\\udc80``) and leaves everything else, umlauts and emoji included, as it is; it is the one
definition the commands (:class:`ShownStream`, put in front of stdout and stderr by ``auditlog/cli.py``)
and the TUI (``tui/values.printable``) share. JSON written with ``json.dumps`` (ASCII only) needs nothing; JSON
from orjson (or ``json.dumps`` with ``ensure_ascii=False``) keeps C1 controls, DEL and bidirectional marks as they
are, so :func:`json_shown` (bytes) and :func:`json_text_shown` (text) escape them the JSON way (``\u009b``), which
leaves the JSON what it was; :class:`ShownStream` alone would write ``\x9b``, which no JSON reader takes.
"""

from __future__ import annotations

import re
from typing import Any, TextIO

from auditlog.core.ranges import ascending_ranges


def escape_code(code: int) -> str:
    """The escape a reader sees for one character: ``\\x07``, ``\\u202e``, ``\\U000e0041`` (Python's spelling)."""
    if code > 0xFFFF:
        return f"\\U{code:08x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


#: The bidirectional marks, embeddings, overrides and isolates: text that reorders what a reader sees
#: (U+202E shows "Anna" + "nimda" as "Annaadmin"). The workbook's cells escape the same (``tui/sanitize.py``).
BIDI_CONTROLS: tuple[int, ...] = (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
#: Characters that show nothing, so two different names look the same ("admin" and "ad" U+200B "min", "root"
#: U+2060): the soft hyphen, the Hangul fillers, the Mongolian vowel separator, the zero-width space, the word
#: joiner and invisible operators, the zero-width no-break space (BOM), and the tag characters, which also carry
#: hidden ASCII ("ASCII smuggling"). The zero-width joiner and non-joiner (U+200C, U+200D) and the variation
#: selectors stay: emoji sequences and Persian or Indic words need them, and they change how their neighbours are
#: drawn. The three emoji flags built from tag characters (England, Scotland, Wales) show their escapes.
INVISIBLE: tuple[int, ...] = (0x00AD, 0x115F, 0x1160, 0x180E, 0x200B, *range(0x2060, 0x2065), 0x3164, 0xFEFF,
                              0xFFA0, *range(0xE0000, 0xE0080))
#: C0 controls but tab and line feed, DEL, C1 controls, bidirectional marks and overrides, invisible characters,
#: lone surrogates.
_ESCAPES: dict[int, str] = {
    code: escape_code(code)
    for code in (*range(0x20), 0x7F, *range(0x80, 0xA0), *BIDI_CONTROLS, *INVISIBLE, *range(0xD800, 0xE000))
    if code not in (0x09, 0x0A)
}
#: the same and tab and line feed too: one line stays one line.
_ONE_LINE_ESCAPES: dict[int, str] = {**_ESCAPES, 0x09: escape_code(0x09), 0x0A: escape_code(0x0A)}


def _any_of(table: dict[int, str]) -> re.Pattern[str]:
    """A regex matching any character ``table`` escapes (its code points as ranges: one character class)."""
    runs = ascending_ranges(sorted(table))
    spans = (f"{escape_code(a)}-{escape_code(b)}" if a < b else escape_code(a) for a, b in runs)
    return re.compile("[" + "".join(spans) + "]")


#: what :func:`json_shown` escapes: the same set above C0 (JSON encoders escape C0), lone surrogates aside
#: (a JSON encoder never writes one), plus the line and paragraph separators a JSON string may hold raw.
def _json_escape(code: int) -> str:
    """JSON's escape of one character: a surrogate pair above U+FFFF (JSON has no longer escape)."""
    if code > 0xFFFF:
        high, low = divmod(code - 0x10000, 0x400)
        return f"\\u{0xD800 + high:04x}\\u{0xDC00 + low:04x}"
    return f"\\u{code:04x}"


_JSON_ESCAPES: dict[int, str] = {code: _json_escape(code) for code in (*_ESCAPES, 0x2028, 0x2029)
                                 if code >= 0x7F and not 0xD800 <= code < 0xE000}


# translate() looks every character of a non-ASCII text up in the table (about 60 ns each: 50 µs for a
# 900-character line with one umlaut); one regex search finds out first whether there is anything to do
_ANY = _any_of(_ESCAPES)
_ANY_ONE_LINE = _any_of(_ONE_LINE_ESCAPES)
_JSON_ANY = _any_of(_JSON_ESCAPES)


def shown(text: str, *, line_breaks: bool = True) -> str:
    """Return ``text`` with every character a terminal would obey (or cannot encode) written as its escape.

    Args:
        text: anything bound for a terminal.
        line_breaks: keep line feeds and tabs; ``False`` escapes them too, so a table cell or a list row
            stays on its line.

    Returns:
        The text, unchanged when it holds no such character.
    """
    if line_breaks:
        return text if _ANY.search(text) is None else text.translate(_ESCAPES)
    return text if _ANY_ONE_LINE.search(text) is None else text.translate(_ONE_LINE_ESCAPES)


def json_shown(data: bytes) -> bytes:
    """Return UTF-8 JSON with every character a terminal would obey written as a JSON escape (still the same JSON).

    Args:
        data: JSON as an encoder wrote it (C0 controls already escaped).

    Returns:
        ``data`` itself when it is ASCII or holds nothing to escape.
    """
    if data.isascii():
        return data
    text = data.decode("utf-8")
    return json_text_shown(text).encode("utf-8") if _JSON_ANY.search(text) else data


def json_text_shown(text: str) -> str:
    """Return JSON text with every character a terminal would obey written as a JSON escape (still the same JSON).

    For JSON bound for a :class:`ShownStream` (``auditlog show``, ``verify --json``): the stream would write a
    C1 control or DEL as ``\\x9b``, which is no JSON escape, so a reader of the output could not parse it.
    Written as ``\\u009b`` first, the stream finds nothing left to escape.

    Args:
        text: JSON as an encoder wrote it (C0 controls already escaped; lone surrogates, if any, are left to
            the stream, which writes them as the JSON escape ``\\ud800`` too).

    Returns:
        ``text`` itself when it holds nothing to escape.
    """
    return text.translate(_JSON_ESCAPES) if _JSON_ANY.search(text) else text


class ShownStream:
    """A text stream that writes through :func:`shown`; everything else is the wrapped stream's."""

    def __init__(self, stream: TextIO) -> None:
        """Wrap ``stream``."""
        self.stream = stream

    def write(self, text: str) -> int:
        """Write ``text`` with its control characters escaped.

        Returns:
            The number of characters given (as a text stream reports).
        """
        self.stream.write(shown(text))
        return len(text)

    def writelines(self, lines: Any) -> None:
        """Write each of ``lines`` as :meth:`write` does."""
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def unfiltered(stream: TextIO | ShownStream) -> TextIO:
    """The stream under a :class:`ShownStream`, for the command's own control characters (a progress
    line's ``\\r``) in text that holds nothing else from outside (numbers); any other stream as it is."""
    return stream.stream if isinstance(stream, ShownStream) else stream
