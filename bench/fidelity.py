"""Is the stored document the line that was written? Leaf-by-leaf comparison for the reliability bench.

A shipper may add fields (Filebeat adds ``agent.*``, ``host.name``, ``log.*``; the agent's full path adds ECS
categories), so only what the line holds is compared: every leaf of the line must be in the document with the
same value. A difference is named by its path with the keys of ``audit.changes`` generalised to ``*`` (so
"``audit.changes.*.new``: null dropped" is one kind however many fields it hit).
"""

from __future__ import annotations

from typing import Any

_MISSING = object()


def _kind(path: tuple[str, ...]) -> str:
    parts = list(path)
    if parts[:2] == ["audit", "changes"] and len(parts) > 2:
        parts[2] = "*"
    return ".".join(parts)


def differences(line: dict[str, Any], doc: dict[str, Any]) -> list[str]:
    """Return how ``doc`` departs from ``line``: one entry per leaf of the line that is missing or changed.

    Args:
        line: the event as written (parsed JSON line).
        doc: the stored ``_source``.

    Returns:
        Entries like ``"audit.changes.*.new: null dropped"`` or ``"message: changed"``; empty when faithful.
    """
    out: list[str] = []

    def walk(a: Any, b: Any, path: tuple[str, ...]) -> None:
        if isinstance(a, dict):
            if not isinstance(b, dict):
                out.append(f"{_kind(path)}: changed")
                return
            for key, value in a.items():
                # A dotted key in the line and a nested one in the document are the same field to Elasticsearch.
                walk(value, b.get(key, _lookup_dotted(b, key)), (*path, *key.split(".")))
            return
        if b is _MISSING:
            out.append(f"{_kind(path)}: {'null dropped' if a is None else 'dropped'}")
        elif a != b or type(a) is not type(b):
            out.append(f"{_kind(path)}: changed")

    walk(line, doc, ())
    return out


def _lookup_dotted(doc: dict[str, Any], key: str) -> Any:
    node: Any = doc
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


class FidelityTally:
    """Counts documents that depart from their line, and how often each kind of difference occurs."""

    def __init__(self) -> None:
        self.altered = 0
        self.kinds: dict[str, int] = {}

    def add(self, line: dict[str, Any], doc: dict[str, Any]) -> None:
        """Compare one document with its line and count what differs."""
        found = set(differences(line, doc))
        if found:
            self.altered += 1
            for kind in found:
                self.kinds[kind] = self.kinds.get(kind, 0) + 1

    def top(self, n: int = 5) -> dict[str, int]:
        """Return the ``n`` most frequent kinds of difference with their document counts."""
        return dict(sorted(self.kinds.items(), key=lambda kv: (-kv[1], kv[0]))[:n])
