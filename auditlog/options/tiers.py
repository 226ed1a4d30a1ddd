"""``--prefix`` / ``AUDITLOG_INDEX_PREFIX``: the index namespace every command works in."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping

from auditlog.core.errors import UsageError
from auditlog.indexer.tiers import DEFAULT_PREFIX, PREFIX_ENV, TierTable


def add_prefix_arg(parser: argparse.ArgumentParser) -> None:
    """Add ``--prefix NAME`` (the index namespace) to a command's parser."""
    parser.add_argument("--prefix", metavar="NAME",
                        help=f"index namespace (env {PREFIX_ENV}, default {DEFAULT_PREFIX!r})")


def tiers_from_args(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> TierTable:
    """Build the tier table of the namespace chosen by ``--prefix``, ``AUDITLOG_INDEX_PREFIX`` or the default.

    Raises:
        UsageError: when the prefix is not a valid index namespace (the message starts with ``--prefix``, or
            with ``AUDITLOG_INDEX_PREFIX`` when the value came from there; exit 2).
    """
    env = os.environ if env is None else env
    flag = getattr(args, "prefix", None)
    prefix = flag or env.get(PREFIX_ENV) or DEFAULT_PREFIX
    try:
        return TierTable(prefix=prefix)
    except ValueError as exc:
        raise UsageError(f"{'--prefix' if flag else PREFIX_ENV}: {exc}") from None
