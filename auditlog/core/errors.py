"""Errors every command maps to an exit status: usage/config problems exit 2, runtime failures 1."""

from __future__ import annotations


class UsageError(ValueError):
    """Bad arguments or configuration; the message names the option or key. Exit status 2."""


class CommandError(Exception):
    """A command could not do its job (cluster unreachable, download failed...). Exit status 1."""


class Terminated(BaseException):
    """SIGTERM or SIGHUP raised where the command was, as SIGINT raises KeyboardInterrupt. Exit status 128 + signal.

    A BaseException for the same reason as KeyboardInterrupt: an ``except Exception`` must not swallow it, and
    every ``finally`` and ``except BaseException`` cleanup on the way out runs (an export's temporary file,
    its point in time), where the default action of those signals ended the process on the spot.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(f"signal {signum}")
        self.signum = signum
