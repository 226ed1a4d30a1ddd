"""The filter users set in the TUI and on the command line: one object for list, facets and export."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime


@dataclass(frozen=True)
class Filter:
    """What the user is looking for; empty tuples and ``None`` mean "any" (values in a tuple are OR-ed)."""

    tenants: tuple[str, ...] = ()
    workers: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    text: str | None = None

    def __post_init__(self) -> None:
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"filter {name} must be timezone-aware: {value!r}")
        if self.since and self.until and self.since > self.until:
            raise ValueError("filter since is after until")

    def with_(self, **changes: object) -> Filter:
        """Return a copy with ``changes`` applied (the dataclass is frozen)."""
        return replace(self, **changes)  # type: ignore[arg-type]


#: the most values one filter dimension ORs: Elasticsearch's ``index.max_terms_count`` (its default), past which a
#: ``terms`` clause fails every shard with a message that names no limit
MAX_VALUES = 65_536
#: the filter dimensions that hold OR-ed values, with the flag a user sets them by
VALUE_DIMENSIONS = {"tenants": "--tenant", "workers": "--worker", "actions": "--action", "sources": "--source"}


def values_problem(flt: Filter) -> str | None:
    """Why ``flt`` cannot be searched (one line naming the dimension and the limit), or ``None`` when it can.

    Args:
        flt: a filter.

    Returns:
        ``None``, or the dimension holding more than :data:`MAX_VALUES` values.
    """
    for name in VALUE_DIMENSIONS:
        count = len(getattr(flt, name))
        if count > MAX_VALUES:
            return (f"too many {name}: at most {MAX_VALUES:,} are searched at once (Elasticsearch's "
                    f"index.max_terms_count), this has {count:,}; narrow it")
    return None


def tenants_in(text: str) -> tuple[str, ...]:
    """Read the tenants typed into one box: separated by commas or spaces (as ``--tenant`` repeats), each once.

    Returns:
        The tenants in the order typed; ``()`` (no tenant filter) for an empty or blank box.
    """
    return tuple(dict.fromkeys(t for t in re.split(r"[,\s]+", text) if t))
