"""``auditlog`` subcommands owned by the ``agent`` package: ``agent``, ``dlq``, ``demo``."""

from __future__ import annotations

import argparse

from agent import agent_commands, demo_commands


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add this package's subcommands to the root parser."""
    agent_commands.register(sub)
    demo_commands.register(sub)
