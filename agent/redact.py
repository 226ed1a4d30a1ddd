"""Redaction of secrets inside ``audit.changes`` before an event is written or shipped.

Matching rule (the choice, and why): a changed field is secret when its *normalised* name contains
one of the configured keys, where normalising lowercases and drops ``_``, ``-``, ``.`` and spaces.
So the default key ``api_key`` catches ``api_key``, ``apiKey``, ``X-Api-Key`` and ``smtp.api_key``,
and ``password`` catches ``new_password`` and ``PasswordHash``. Substring matching over-redacts a
little (``token`` also hides ``token_count``); for an audit log that is the safe side: a leaked
secret cannot be taken back, a hidden counter can be looked up elsewhere. ``mode="exact"`` matches
whole normalised names only, for deployments that need it.

Values: ``old`` and ``new`` of a secret field become ``"[REDACTED]"``; a ``null`` stays ``null`` so the
trail still shows "password was set" versus "password was changed". Objects and arrays inside
change values are scrubbed recursively (``{"smtp": {"password": ...}}``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

__all__ = ["DEFAULT_SECRET_KEYS", "REDACTED", "Redactor"]

#: secret field names redacted by default (ARCHITECTURE.md), in normalised or plain form.
DEFAULT_SECRET_KEYS: tuple[str, ...] = ("password", "passwd", "token", "secret", "api_key", "private_key")

#: the value a redacted secret is replaced with.
REDACTED = "[REDACTED]"

_DROP = str.maketrans("", "", "_-. ")
_CACHE_LIMIT = 4096  # distinct field names remembered; apps use a few dozen


def _normalise(name: str) -> str:
    return name.lower().translate(_DROP)


class Redactor:
    """Callable that returns ``audit.changes`` with the values of secret fields replaced."""

    __slots__ = ("_cache", "_keys", "_mode", "replacement")

    def __init__(
        self,
        keys: Iterable[str] = DEFAULT_SECRET_KEYS,
        *,
        mode: Literal["substring", "exact"] = "substring",
        replacement: str = REDACTED,
    ) -> None:
        """Check and normalise the configuration once.

        Args:
            keys: secret names (see the module doc for how they match).
            mode: ``"substring"`` (default) or ``"exact"``.
            replacement: the string secrets become.

        Raises:
            ValueError: when ``keys`` is a bare string, empty, holds a non-string or an empty name,
                or ``mode`` is unknown.
        """
        if isinstance(keys, str):
            raise ValueError(f"keys must be a list of names, not the string {keys!r}")
        normalised: list[str] = []
        for key in keys:
            if not isinstance(key, str):
                raise ValueError(f"secret key names must be strings, got {key!r}")
            norm = _normalise(key)
            if not norm:
                raise ValueError(f"secret key name {key!r} is empty once normalised")
            normalised.append(norm)
        if not normalised:
            raise ValueError("at least one secret key name is required (pass redact=False to turn redaction off)")
        if mode not in ("substring", "exact"):
            raise ValueError(f"mode must be 'substring' or 'exact', got {mode!r}")
        if not isinstance(replacement, str):
            raise ValueError(f"replacement must be a string, got {replacement!r}")
        self._keys: tuple[str, ...] = tuple(dict.fromkeys(normalised))
        self._mode = mode
        self.replacement = replacement
        self._cache: dict[str, bool] = {}

    def __repr__(self) -> str:
        return f"Redactor(keys={list(self._keys)!r}, mode={self._mode!r})"

    def is_secret(self, name: str) -> bool:
        """Return whether a field called ``name`` holds a secret."""
        hit = self._cache.get(name)
        if hit is None:
            norm = _normalise(name)
            hit = norm in self._keys if self._mode == "exact" else any(key in norm for key in self._keys)
            if len(self._cache) < _CACHE_LIMIT:
                self._cache[name] = hit
        return hit

    def any_secret(self, names: Iterable[str]) -> bool:
        """Return whether any of ``names`` is a secret field's name (see :meth:`is_secret`)."""
        cache = self._cache
        for name in names:
            hit = cache.get(name)
            if hit is None:
                hit = self.is_secret(name)
            if hit:
                return True
        return False

    def __call__(self, changes: Mapping[str, Any]) -> Any:
        """Return ``changes`` with secrets replaced.

        Args:
            changes: ``{field: {"old": v, "new": v}}`` (other shapes are scrubbed as plain values).

        Returns:
            ``changes`` itself when nothing needed redaction, else a new dict (the input is never mutated).
        """
        out: dict[str, Any] | None = None
        cache = self._cache
        for name, change in changes.items():
            secret = cache.get(name)
            if secret is None:
                secret = isinstance(name, str) and self.is_secret(name)
            if secret:
                new_value = self._blank(change)
            elif type(change) is dict and len(change) == 2:
                # the usual {"old", "new"} pair: only nested values can hide secrets (one loop over
                # the values costs less than two lookups and two type checks)
                for value in change.values():
                    if type(value) is dict or type(value) is list:
                        break
                else:
                    continue
                new_value = self._scrub(change)
            elif isinstance(change, dict | list):
                new_value = self._scrub(change)
            else:
                continue
            if new_value is not change:
                if out is None:
                    out = dict(changes)
                out[name] = new_value
        return changes if out is None else out

    def _blank(self, change: Any) -> Any:
        if isinstance(change, Mapping) and ("old" in change or "new" in change):
            blanked = dict(change)
            for side in ("old", "new"):
                if blanked.get(side) is not None:
                    blanked[side] = self.replacement
            return blanked
        return None if change is None else self.replacement

    def _scrub(self, value: Any) -> Any:
        """Redact secret keys anywhere inside nested objects/arrays; return ``value`` itself when clean."""
        if isinstance(value, dict):
            out: dict[str, Any] | None = None
            for key, item in value.items():
                if isinstance(key, str) and self.is_secret(key):
                    replaced: Any = None if item is None else self.replacement
                elif isinstance(item, dict | list):
                    replaced = self._scrub(item)
                else:
                    continue
                if replaced is not item:
                    if out is None:
                        out = dict(value)
                    out[key] = replaced
            return value if out is None else out
        if isinstance(value, list):
            items = [self._scrub(item) if isinstance(item, dict | list) else item for item in value]
            return value if all(a is b for a, b in zip(items, value, strict=True)) else items
        return value
