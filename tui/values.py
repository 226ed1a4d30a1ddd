"""One text form for any JSON value, shared by the detail view, the summaries and the export."""

from __future__ import annotations

import json
from typing import Any

from auditlog.core.terminal import shown


def display_value(value: Any) -> str:
    """Render a JSON value as short, unambiguous text.

    Args:
        value: any value decoded from an event (``None`` = absent).

    Returns:
        ``""`` for ``None``, ``true``/``false`` for booleans, the string itself for strings and
        compact JSON (keys sorted, non-ASCII kept) for objects and arrays.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(", ", ": "), default=str)


def printable(text: str, *, multiline: bool = False) -> str:
    """Make event text safe to draw on a terminal: control characters, bidirectional overrides and lone
    surrogates become visible ``\\xNN`` / ``\\uNNNN`` escapes (:func:`auditlog.core.terminal.shown`).

    Event data is untrusted; an ESC byte in a worker's name must not reach the terminal as an escape
    sequence. Tabs become spaces; line breaks are kept only when ``multiline``.

    Args:
        text: any text from an event.
        multiline: keep ``\\n`` (the detail view) instead of escaping it (one-line list rows).

    Returns:
        The text without control characters.
    """
    return shown(text.replace("\t", " "), line_breaks=multiline)
