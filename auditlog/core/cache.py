"""One small bounded cache for answers that are cheaper to remember than to work out again.

Every cache in the project is a :class:`BoundedCache`: at most ``limit`` entries; when a new entry
would pass the limit, the one stored longest ago is forgotten. Storing a key again makes it the newest,
so a caller that stores on every hit gets least-recently-used eviction (the query pager does).

Lookups are the backing dict's own ``get`` (no Python frame on the agent's hot path); only a miss pays
for :meth:`BoundedCache.put`. A stream of never-repeating keys (hostile input) therefore costs one
eviction per new key and never stops the cache from learning the keys that do repeat.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, KeysView
from typing import Generic, TypeVar

__all__ = ["BoundedCache"]

K = TypeVar("K")
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """A mapping of at most ``limit`` entries that forgets the entry stored longest ago."""

    __slots__ = ("_data", "get", "limit")

    def __init__(self, limit: int) -> None:
        """Start empty.

        Args:
            limit: the most entries kept (at least 1).

        Raises:
            ValueError: when ``limit`` is below 1.
        """
        if limit < 1:
            raise ValueError(f"a cache holds at least one entry, got limit={limit}")
        self.limit = limit
        self._data: OrderedDict[K, V] = OrderedDict()
        #: ``key -> value | None``: the remembered value (``None`` when not cached); the dict's own method
        self.get: Callable[[K], V | None] = self._data.get

    def put(self, key: K, value: V) -> V:
        """Remember ``value`` for ``key`` as the newest entry, forgetting the oldest when full.

        Args:
            key: what the value was worked out from.
            value: the answer to remember.

        Returns:
            ``value``, so a miss can read ``return cache.put(key, compute(key))``.
        """
        data = self._data
        if key in data:
            data.move_to_end(key)
        elif len(data) >= self.limit:
            data.popitem(last=False)
        data[key] = value
        return value

    def keys(self) -> KeysView[K]:
        """The keys remembered, as a live view (it follows later puts and evictions).

        Returns:
            A set-like view: ``mapping.keys() <= cache.keys()`` asks whether every key is remembered
            in one C-level call.
        """
        return self._data.keys()

    def clear(self) -> None:
        """Forget every entry."""
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data
