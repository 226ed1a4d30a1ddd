"""The ``auditlog`` command: one entry point, subcommands registered by each package.

Each package owns a ``commands`` module with ``register(subparsers)``; a subcommand sets
``func(args) -> int``. Errors: ``UsageError`` (bad flags, bad config) exits 2 with one line naming
the option or key, ``CommandError`` exits 1 with one line saying what to do. argparse itself exits 2
on malformed arguments.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from agent.errors import CommandError, UsageError


def build_parser() -> argparse.ArgumentParser:
    """Return the root parser with every package's subcommands."""
    from agent import commands as agent_commands
    from indexer import commands as indexer_commands
    from tui import commands as tui_commands

    parser = argparse.ArgumentParser(
        prog="auditlog",
        description="Audit-log pipeline: emit, ship, index, retain, browse and export audit events.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    indexer_commands.register(sub)
    agent_commands.register(sub)
    tui_commands.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``auditlog`` command.

    Args:
        argv: arguments without the program name (defaults to ``sys.argv[1:]``).

    Returns:
        The process exit status.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"auditlog {args.command}: {exc}", file=sys.stderr)
        return 2
    except CommandError as exc:
        print(f"auditlog {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
