"""The ``auditlog`` command: one entry point, subcommands registered by each package.

Each area has a module in ``auditlog.commands`` with ``register(subparsers)``; a subcommand sets
``func(args) -> int``. Errors: ``UsageError`` (bad flags, bad config) exits 2 with one line naming
the option or key, ``CommandError`` exits 1 with one line saying what to do. argparse itself exits 2
on malformed arguments.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from auditlog.core.errors import CommandError, UsageError


def build_parser() -> argparse.ArgumentParser:
    """Return the root parser with every package's subcommands."""
    from auditlog import __version__
    from auditlog.commands import admin, agent, demo, es, keys, show, tui

    parser = argparse.ArgumentParser(
        prog="auditlog",
        description="Audit-log pipeline: emit, ship, index, retain, browse and export audit events.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for area in (es, admin, keys, show, agent, demo, tui):
        area.register(sub)
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
