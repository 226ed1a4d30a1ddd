"""The "Raw" view of an event: ``audit.changes`` turned into rows of old -> new, with their kind.

Pure logic (no Textual, no I/O) so the detail screen, the summaries and the Excel export share it.

Contract: ``audit.changes`` is ``{field: {"old": v, "new": v}}``. A side that is absent or ``null``
means the field did not exist on that side, so the row is *added* (no old value), *removed* (no new
value), *changed* or *unchanged* (the emitter may log fields that were touched but kept their value).
An entry that is not an ``{"old", "new"}`` object (an emitter bug or another producer's shape) is
shown as an added value rather than dropped: the Raw view never hides data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class ChangeKind(StrEnum):
    """How one field differs between the old and the new state."""

    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class ChangeRow:
    """One changed field: its name, kind and the values on either side (``None`` = absent)."""

    field: str
    kind: ChangeKind
    old: Any = None
    new: Any = None


def _sides(entry: Any) -> tuple[Any, Any]:
    if isinstance(entry, Mapping) and ("old" in entry or "new" in entry):
        return entry.get("old"), entry.get("new")
    return None, entry


def _kind(old: Any, new: Any) -> ChangeKind:
    if old is None and new is None:
        return ChangeKind.UNCHANGED
    if old is None:
        return ChangeKind.ADDED
    if new is None:
        return ChangeKind.REMOVED
    # bool is an int in Python: True == 1 must still count as a change of type.
    if type(old) is not type(new) and (isinstance(old, bool) or isinstance(new, bool)):
        return ChangeKind.CHANGED
    return ChangeKind.UNCHANGED if old == new else ChangeKind.CHANGED


def diff_changes(changes: Mapping[str, Any] | None) -> list[ChangeRow]:
    """Turn an event's ``audit.changes`` into rows sorted by field name.

    Args:
        changes: the ``audit.changes`` object (``None`` or not a mapping: no rows).

    Returns:
        One ``ChangeRow`` per field, sorted by field name.
    """
    if not isinstance(changes, Mapping):
        return []
    rows = []
    for name in sorted(changes, key=str):
        old, new = _sides(changes[name])
        rows.append(ChangeRow(str(name), _kind(old, new), old, new))
    return rows
