"""Text bound for a terminal: control characters are shown, never obeyed.

File names, event ids, index names and Elasticsearch's error reasons reach the commands' human
output; any of them may carry an escape sequence (``\\x1b]0;...`` retitles the window, ``\\x1b[2J``
clears it, ``\\r`` overwrites what a line said) or a bidirectional override that shows text in another
order than it is stored ("Trojan Source"). :func:`shown` writes each such character as its escape
(``\\x1b``, ``\\u202e``) and leaves everything else, umlauts and emoji included, as it is.
:class:`ShownStream` does that for whole streams: ``auditlog/cli.py`` puts it in front of stdout and
stderr for every command that does not draw a UI of its own. JSON output needs nothing: its encoders
escape control characters already.
"""

from __future__ import annotations

from typing import Any, TextIO

#: C0 controls but tab and line feed, DEL, C1 controls, and the bidirectional marks and overrides.
_ESCAPES: dict[int, str] = {
    **{c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F, *range(0x80, 0xA0)) if c not in (0x09, 0x0A)},
    **{c: f"\\u{c:04x}" for c in (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))},
}
#: the same and tab and line feed too: for one cell of a table or one field of a line.
_CELL_ESCAPES: dict[int, str] = {**_ESCAPES, 0x09: "\\t", 0x0A: "\\n"}


def shown(text: str) -> str:
    """Return ``text`` with every character a terminal would obey written as its escape (line breaks kept).

    Args:
        text: anything bound for a terminal.

    Returns:
        The text, unchanged when it holds no such character.
    """
    return text.translate(_ESCAPES)


def shown_cell(text: str) -> str:
    """Return ``text`` as :func:`shown` does, line breaks and tabs escaped too (one row stays one row)."""
    return text.translate(_CELL_ESCAPES)


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
        self.stream.write(text.translate(_ESCAPES))
        return len(text)

    def writelines(self, lines: Any) -> None:
        """Write each of ``lines`` as :meth:`write` does."""
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)
