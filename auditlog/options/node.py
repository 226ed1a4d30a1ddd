"""Options of the commands that start a local node (``es start``, ``demo run``): its heap and ports."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from auditlog.indexer.es_node import heap_size


def heap_arg(text: str) -> str:
    """argparse ``type`` for ``--heap``: :func:`auditlog.indexer.es_node.heap_size`, its message kept (exit 2)."""
    try:
        return heap_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def port_arg(lowest: int = 1) -> Callable[[str], int]:
    """argparse ``type`` for a TCP port from ``lowest`` (0: any free one, where that is allowed) to 65535.

    Args:
        lowest: the smallest port accepted.

    Returns:
        The parser: a value out of range or not a whole number is a usage error (exit 2) quoting it.
    """

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a port: {text!r}") from None
        if not lowest <= value <= 65535:
            raise argparse.ArgumentTypeError(f"must be a TCP port ({lowest}-65535), got {value}")
        return value

    return parse
