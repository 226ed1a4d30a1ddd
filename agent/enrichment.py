"""The contract's enrichment rules applied, once, for the emitter and the agent alike.

:data:`auditlog.core.contract.ENRICHMENTS` declares what may be left out because it is filled in:
``event.kind`` / ``event.category`` / ``event.type`` from ``event.action`` (:func:`agent.categorize.categorize`),
``audit.changed_fields`` from non-empty ``audit.changes``, and ``event.id``. A given value always wins.

* The emitter's processors (``Categorizer``, ``ChangeRecorder``) and the agent's ``Enricher`` fill the
  categories with :class:`ActionCategories` and the changed fields with :func:`changed_fields_of`.
* The pass-through requires every rule without ``when`` in its typed decode (``agent.fastpath.line_type``)
  and checks the ``when`` rule of :data:`CHANGED_FIELDS` after it: a line that lacks one is one the
  enricher would change, so it takes the full path (``tests/agent/test_fastpath.py`` proves it per rule).
"""

from __future__ import annotations

from typing import Any

from auditlog.agent.categorize import categorize
from auditlog.core.cache import BoundedCache
from auditlog.core.contract import ENRICHMENTS, F

__all__ = ["CATEGORY_KEYS", "CHANGED_FIELDS", "ActionCategories", "changed_fields_of"]

#: keys of the ``event`` object filled from ``event.action``, in the definition's order.
CATEGORY_KEYS: tuple[str, ...] = tuple(e.path.split(".", 1)[1] for e in ENRICHMENTS if e.source == F.action)

#: the rule filling ``audit.changed_fields`` from ``audit.changes`` (its ``when``).
CHANGED_FIELDS = next(e for e in ENRICHMENTS if e.path == F.changed_fields)

_CACHE_LIMIT = 1024


class ActionCategories:
    """Fill an ``event`` object's missing ECS categories from its action; each verb is categorised once."""

    __slots__ = ("_cache", "_fresh")

    def __init__(self, *, fresh_lists: bool = True) -> None:
        """Choose whether each event gets its own lists.

        Args:
            fresh_lists: ``True`` when the filled event is handed on and may be changed (the emitter's
                events reach apps' tests); ``False`` when it is serialised and dropped (the agent), which
                may then share the remembered lists.
        """
        self._cache: BoundedCache[str, dict[str, Any]] = BoundedCache(_CACHE_LIMIT)
        self._fresh = fresh_lists

    def fill(self, ev: dict[str, Any]) -> None:
        """Add each of :data:`CATEGORY_KEYS` that ``ev`` lacks.

        Args:
            ev: the ``event`` object, holding a string ``action``.
        """
        action = ev["action"]
        values = self._cache.get(action)
        if values is None:
            values = self._cache.put(action, categorize(action))
        if not self._fresh and ev.keys().isdisjoint(values):  # the usual line without categories: one update
            ev.update(values)
            return
        for key in CATEGORY_KEYS:
            if key not in ev:
                value = values[key]
                ev[key] = value[:] if self._fresh and type(value) is list else value


def changed_fields_of(changes: Any) -> list[Any]:
    """Return ``audit.changed_fields`` for ``changes``: its keys sorted (by their text when of mixed types)."""
    try:
        return sorted(changes)
    except TypeError:  # mixed key types: the renderer rejects the non-str ones with a reason
        return sorted(changes, key=str)
