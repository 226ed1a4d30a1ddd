"""The lifetime flag of API keys (``setup --key-expiration``, ``keys tenant --expires``): one parser for both."""

from __future__ import annotations

import argparse
import re

_LIFETIME = re.compile(r"[1-9]\d*[dhms]", re.ASCII)


def key_lifetime(value: str) -> str:
    """Return ``value`` when it is an Elasticsearch time value Elasticsearch takes as an API key's expiration.

    Args:
        value: the flag's text, e.g. ``90d``, ``12h``, ``30m`` or ``45s``.

    Returns:
        ``value`` unchanged (Elasticsearch reads it).

    Raises:
        argparse.ArgumentTypeError: when it is not a positive whole number followed by d, h, m or s.
    """
    if not _LIFETIME.fullmatch(value):
        raise argparse.ArgumentTypeError(f"not a lifetime like 90d, 12h, 30m: {value!r}")
    return value
