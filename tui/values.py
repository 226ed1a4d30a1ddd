"""One text form for any JSON value, shared by the detail view, the summaries and the export."""

from __future__ import annotations

import json
from typing import Any


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
