"""Subcommands (see the module name) of ``auditlog``."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add these subcommands to the root parser."""
