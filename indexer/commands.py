"""``auditlog`` subcommands owned by the ``indexer`` package: ``es``, ``setup``, ``retention``, ``show``."""

from __future__ import annotations

import argparse

from indexer import admin_commands, es_commands, query_commands


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add this package's subcommands to the root parser."""
    es_commands.register(sub)
    admin_commands.register(sub)
    query_commands.register(sub)
