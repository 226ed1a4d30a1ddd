"""BoundedCache: at most ``limit`` entries, the one stored longest ago forgotten first."""

from __future__ import annotations

import pytest

from auditlog.core.cache import BoundedCache


def test_get_returns_what_put_stored() -> None:
    """A stored value is returned by get; an unknown key gives None."""
    cache: BoundedCache[str, int] = BoundedCache(4)
    returned = cache.put("a", 1)
    assert (1, 1, None) == (returned, cache.get("a"), cache.get("b"))


def test_full_cache_forgets_the_oldest_entry() -> None:
    """Storing past the limit forgets the entry stored first and keeps the rest."""
    cache: BoundedCache[str, int] = BoundedCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.put("c", 3)
    assert (None, 2, 3, 2) == (cache.get("a"), cache.get("b"), cache.get("c"), len(cache))


def test_storing_a_key_again_makes_it_the_newest() -> None:
    """A key stored again survives the next eviction (least recently used when callers store on hits)."""
    cache: BoundedCache[str, int] = BoundedCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.put("a", 10)
    cache.put("c", 3)
    assert (10, None, 3) == (cache.get("a"), cache.get("b"), cache.get("c"))


def test_never_repeating_keys_keep_it_bounded_and_learning() -> None:
    """Thousands of distinct keys leave at most ``limit`` entries, the latest of them."""
    cache: BoundedCache[int, int] = BoundedCache(100)
    for key in range(10_000):
        cache.put(key, key)
    assert (100, 9_999, False) == (len(cache), cache.get(9_999), 0 in cache)


def test_clear_forgets_everything() -> None:
    """clear() leaves the cache empty."""
    cache: BoundedCache[str, int] = BoundedCache(2)
    cache.put("a", 1)
    cache.clear()
    assert (0, None) == (len(cache), cache.get("a"))


def test_limit_below_one_is_refused() -> None:
    """A cache that could hold nothing is a configuration error."""
    with pytest.raises(ValueError, match="limit=0"):
        BoundedCache(0)


def test_keys_view_follows_puts_and_evictions() -> None:
    """The keys view taken once answers subset questions about the cache's current keys."""
    cache: BoundedCache[str, bool] = BoundedCache(2)
    keys = cache.keys()
    cache.put("a", True)
    cache.put("b", True)
    held = {"a": 1, "b": 2}.keys() <= keys
    cache.put("c", True)
    assert (held, {"a": 1}.keys() <= keys, {"b": 1, "c": 2}.keys() <= keys) == (True, False, True)
