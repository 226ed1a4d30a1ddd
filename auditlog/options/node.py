"""Options of the commands that start a local node (``es start``, ``demo run``)."""

from __future__ import annotations

import argparse

from auditlog.indexer.es_node import heap_size


def heap_arg(text: str) -> str:
    """argparse ``type`` for ``--heap``: :func:`auditlog.indexer.es_node.heap_size`, its message kept (exit 2)."""
    try:
        return heap_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
