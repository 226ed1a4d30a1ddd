"""File names for exported workbooks from untrusted text (event ids): safe characters, bounded length (pure)."""

from __future__ import annotations

import hashlib
import re

#: Characters kept as they are; every other run becomes one ``_``.
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")

#: The longest stem kept whole: with the time stamp, counter and ``.xlsx`` the name stays far below the
#: 255 bytes most file systems allow.
MAX_STEM = 96
#: Hex digits of the hash that keeps cut stems of different texts apart.
HASH_DIGITS = 12


def safe_stem(text: str, limit: int = MAX_STEM) -> str:
    """Return ``text`` as a file-name stem: only ``A-Z a-z 0-9 _ . -``, at most ``limit`` characters.

    A longer stem is cut and ends in ``-`` plus a short hash of the whole text, so two long ids that
    share their beginning still get different names.

    Args:
        text: any text, e.g. ``auditlog-event-<id>`` with an id of any length and content.
        limit: the longest result (at least ``HASH_DIGITS + 2``).

    Returns:
        The stem; never empty, never starting with ``.``.
    """
    stem = _UNSAFE.sub("_", text).lstrip(".") or "_"
    if len(stem) <= limit:
        return stem
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:HASH_DIGITS]
    return f"{stem[: limit - HASH_DIGITS - 1]}-{digest}"
