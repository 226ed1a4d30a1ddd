"""The ``auditlog`` command: one entry point, subcommands registered by each package.

Each area has a module in ``auditlog.commands`` with ``register(subparsers)``; a subcommand sets
``func(args) -> int``. Errors: ``UsageError`` (bad flags, bad config) exits 2 with one line naming
the option or key, ``CommandError`` exits 1 with one line saying what to do. argparse itself exits 2
on malformed arguments.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from auditlog.core.errors import CommandError, UsageError
from auditlog.extras import AREAS, MODULE_EXTRA, missing_extra_message, optional_module


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Return the root parser with every package's subcommands, or only those of ``command``'s area.

    An area whose optional dependencies are not installed still gets its commands, as stubs that say
    which extra to install.

    Args:
        command: the subcommand about to run (``None`` or an unknown name: every area). Importing one
            area instead of all spares each run a third of a second of imports (``auditlog agent``
            would load the demo generator, the TUI's export and the key tools it never uses).
    """
    from auditlog import __version__

    parser = argparse.ArgumentParser(
        prog="auditlog",
        description="Audit-log pipeline: emit, ship, index, retain, browse and export audit events.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chosen = [area for area in AREAS if command in area.commands]
    for area in chosen or AREAS:
        try:
            module = importlib.import_module(f"auditlog.commands.{area.module}")
        except ModuleNotFoundError as exc:
            missing = optional_module(exc)
            if missing is None:
                raise
            for command in area.commands:
                stub = sub.add_parser(command, add_help=False,
                                      help=f"(needs: pip install 'auditlog-pipeline[{area.extra}]')")
                stub.set_defaults(func=_needs_extra(area.extra, missing), missing_extra=True)
            continue
        module.register(sub)
    return parser


def _needs_extra(extra: str, module: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        raise CommandError(missing_extra_message(extra, module))

    return run


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``auditlog`` command.

    Args:
        argv: arguments without the program name (defaults to ``sys.argv[1:]``).

    Returns:
        The process exit status.
    """
    args_in = sys.argv[1:] if argv is None else list(argv)
    # the subcommand is the first argument (the root parser's own options end the run: --help, --version)
    parser = build_parser(args_in[0] if args_in else None)
    # parse_args = parse_known_args + an error on leftovers; a stub for a missing extra takes any arguments
    args, leftover = parser.parse_known_args(args_in)
    operands = getattr(args, "dash_operands", None)
    if operands is not None and leftover:  # ids that start with '-' (see the command's register)
        dashed = [a for a in leftover if a.startswith("-") and not a.startswith("--")]
        setattr(args, operands, [*getattr(args, operands), *dashed])
        leftover = [a for a in leftover if a not in dashed]
    if leftover and not getattr(args, "missing_extra", False):
        parser.error(f"unrecognized arguments: {' '.join(leftover)}")
    try:
        return int(args.func(args) or 0)
    except ModuleNotFoundError as exc:
        missing = optional_module(exc)
        if missing is None:
            raise
        print(f"auditlog {args.command}: {missing_extra_message(MODULE_EXTRA[missing], missing)}", file=sys.stderr)
        return 1
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
