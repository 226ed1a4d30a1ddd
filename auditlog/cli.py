"""The ``auditlog`` command: one entry point, subcommands registered by each package.

Each area has a module in ``auditlog.commands`` with ``register(subparsers)``; a subcommand sets
``func(args) -> int``. Errors: ``UsageError`` (bad flags, bad config) exits 2 with one line naming
the option or key, ``CommandError`` exits 1 with one line saying what to do. argparse itself exits 2
on malformed arguments. SIGTERM and SIGHUP stop a command the way Ctrl-C does (its cleanups run), exit
128 + the signal's number.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from types import FrameType
from typing import NoReturn, TextIO, cast

from auditlog.core.errors import CommandError, Terminated, UsageError
from auditlog.core.terminal import ShownStream, shown
from auditlog.extras import AREAS, MODULE_EXTRA, missing_extra_message, optional_module

#: commands that draw the terminal themselves (Textual renders event text as text, tui/): their output is not filtered.
DRAWS_ITS_OWN_SCREEN = frozenset({"tui"})


#: the longest error line argparse may print (a 5,000-character value echoed back helps nobody)
MAX_ERROR = 300


class _Parser(argparse.ArgumentParser):
    """argparse's parser whose error line shows escapes as text and stays short (subcommands inherit it)."""

    def error(self, message: str) -> NoReturn:
        """Print the usage and one line (escaped, at most :data:`MAX_ERROR` characters), then exit 2."""
        self.print_usage(sys.stderr)
        self.exit(2, _error_line(f"{self.prog}: error: {message}") + "\n")


def _error_line(text: str) -> str:
    """``text`` as one line a terminal shows as it is (escapes as text), cut to :data:`MAX_ERROR` characters."""
    line = shown(text, line_breaks=False)
    return line if len(line) <= MAX_ERROR else line[:MAX_ERROR - 1] + "…"


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

    parser = _Parser(
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


def glue_dash_values(parser: argparse.ArgumentParser, argv: Sequence[str]) -> list[str]:
    """Make values that start with ``-`` reach argparse as values, not as options.

    argparse reads any token that starts with ``-`` as an option, so ``--password -r_9l...`` (a
    generated password may start with ``-``) failed with "expected one argument", and ``show -a1b2``
    (an event id from another producer) or ``keys revoke -Xk3...`` (base64url key ids) with "required:
    ID". Like getopt, the token after a one-value option is its value, unless it is one of the
    command's own option strings (``--password --user`` still says the value is missing). A token
    after the command that starts with a single ``-`` and is no option of the command (nor a short
    option with its value attached, ``-oout.xlsx``) is an operand: it moves behind ``--``, so a
    command that takes operands gets it and one that takes none still exits 2 naming it. A token
    that starts with ``--`` and is no option stays an unknown option. ``--`` ends the options.

    Args:
        parser: the root parser from ``build_parser``.
        argv: the arguments without the program name.

    Returns:
        ``argv`` with such values written as ``--option=value`` and such operands behind ``--``.
    """
    options = _option_arities(parser)
    out: list[str] = []
    operands: list[str] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        if token == "--":
            operands += argv[i + 1:]
            break
        following = argv[i + 1] if i + 1 < len(argv) else None
        if (options.get(token) is True and following is not None and _dashed(following)
                and following.split("=", 1)[0] not in options):
            out.append(f"{token}={following}")
            i += 2
            continue
        if i > 0 and _dashed(token) and not token.startswith("--") and token not in options \
                and token[:2] not in options:
            operands.append(token)
        else:
            out.append(token)
        i += 1
    return [*out, "--", *operands] if operands or "--" in argv else out


def _dashed(token: str) -> bool:
    return token.startswith("-") and token not in ("-", "--")


def _option_arities(parser: argparse.ArgumentParser) -> dict[str, bool]:
    """Map every option string of ``parser`` and its subparsers to whether it takes exactly one value."""
    arities: dict[str, bool] = {}
    pending = [parser]
    while pending:
        current = pending.pop()
        for action in current._actions:
            if isinstance(action, argparse._SubParsersAction):
                pending.extend(action.choices.values())
            one_value = action.nargs is None and isinstance(action, (argparse._StoreAction, argparse._AppendAction))
            for flag in action.option_strings:
                # a flag that takes one value in one subcommand and none in another is left to argparse
                arities[flag] = arities.get(flag, one_value) and one_value
    return arities


def _needs_extra(extra: str, module: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        raise CommandError(missing_extra_message(extra, module))

    return run


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Parse ``auditlog``'s arguments as :func:`main` does, without running the command.

    Exits 2 (``SystemExit``) with argparse's usage line on malformed arguments.

    Args:
        argv: arguments without the program name.
    """
    args_in = list(argv)
    # the subcommand is the first argument (the root parser's own options end the run: --help, --version)
    parser = build_parser(args_in[0] if args_in else None)
    args_in = glue_dash_values(parser, args_in)
    # parse_args = parse_known_args + an error on leftovers; a stub for a missing extra takes any arguments
    args, leftover = parser.parse_known_args(args_in)
    leftover = [a for a in leftover if a != "--"]  # the end of options, not an argument of its own
    if leftover and not getattr(args, "missing_extra", False):
        # said by the subcommand that ran, with its usage: the root's usage line tells nothing about its options
        _chosen_parser(parser, args).error(f"unrecognized arguments: {' '.join(leftover)}")
    return args


def _chosen_parser(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """Return the innermost subcommand's parser ``args`` were parsed by (``parser`` itself without one)."""
    while True:
        subs = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
        name = getattr(args, subs[0].dest, None) if subs else None
        if name is None or name not in subs[0].choices:
            return parser
        parser = subs[0].choices[name]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``auditlog`` command.

    Args:
        argv: arguments without the program name (defaults to ``sys.argv[1:]``).

    Returns:
        The process exit status.
    """
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.command in DRAWS_ITS_OWN_SCREEN:
        return _run(args)
    # file names, ids, index names and the cluster's reasons reach the output: escapes are shown, not obeyed
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = cast(TextIO, ShownStream(out)), cast(TextIO, ShownStream(err))
    try:
        return _run(args)
    finally:
        sys.stdout, sys.stderr = out, err


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated(signum)


@contextlib.contextmanager
def _terminated_cleanly(command: str) -> Iterator[None]:
    """SIGTERM and SIGHUP raise :class:`Terminated` while a command runs (where their action is the default).

    Not for the agent: it handles both itself once running, and a service manager takes a death by SIGTERM
    before that for a clean stop where exit status 143 would be a failure. An ignored SIGHUP (``nohup``) stays
    ignored. Only the main thread may set handlers (tests call ``main`` from others: nothing changes there).
    """
    if command == "agent" or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _raise_terminated) for sig in (signal.SIGTERM, signal.SIGHUP)
                if signal.getsignal(sig) is signal.SIG_DFL}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run(args: argparse.Namespace) -> int:
    """Run the parsed command; map the project's errors to one line and an exit status."""
    try:
        with _terminated_cleanly(args.command):
            return int(args.func(args) or 0)
    except Terminated as exc:  # after every cleanup on the way out
        return 128 + exc.signum
    except ModuleNotFoundError as exc:
        missing = optional_module(exc)
        if missing is None:
            raise
        print(_error_line(f"auditlog {args.command}: {missing_extra_message(MODULE_EXTRA[missing], missing)}"),
              file=sys.stderr)
        return 1
    except UsageError as exc:
        print(_error_line(f"auditlog {args.command}: {exc}"), file=sys.stderr)
        return 2
    except CommandError as exc:
        print(_error_line(f"auditlog {args.command}: {exc}"), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (`auditlog dlq list | head`): nothing to tell it
        # point stdout at /dev/null, or the interpreter's final flush raises again (Python's signal docs)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.__stdout__.fileno() if sys.__stdout__ else 1)
        return 1
    except OSError as exc:  # a path the command was given or derived: too long, missing, a file not a folder
        where = f": {exc.filename}" if exc.filename is not None else ""  # last: a long path is what gets cut
        print(_error_line(f"auditlog {args.command}: {exc.strerror or exc}{where}"), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
