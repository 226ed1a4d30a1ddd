"""Errors every command maps to an exit status: usage/config problems exit 2, runtime failures 1."""

from __future__ import annotations


class UsageError(ValueError):
    """Bad arguments or configuration; the message names the option or key. Exit status 2."""


class CommandError(Exception):
    """A command could not do its job (cluster unreachable, download failed...). Exit status 1."""
