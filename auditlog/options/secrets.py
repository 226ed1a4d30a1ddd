"""Where secrets may come from on the command line: environment, a file, a prompt, or (warned) a flag.

A flag's value shows in ``ps`` and in shell history, so ``--api-key`` / ``--password`` (and the
Kibana ones) still work but print a warning naming the safer sources. A secret file is read once;
one that group or others may read is used with a warning to ``chmod 600`` it. Nothing here ever
prints a secret's value: messages name the option, the variable or the file.
"""

from __future__ import annotations

import getpass
import stat
import sys
from collections.abc import Callable
from pathlib import Path

from auditlog.core.errors import UsageError
from auditlog.core.files import FileTooLargeError, read_limited

Warn = Callable[[str], None]


def warn_stderr(message: str) -> None:
    """Print ``auditlog: warning: MESSAGE`` on stderr."""
    print(f"auditlog: warning: {message}", file=sys.stderr)


def flag_warning(flag: str, env_var: str, file_flag: str | None) -> str:
    """Return the warning for a secret given as a command-line flag (pure)."""
    safer = f"{env_var}" + (f" or {file_flag} FILE" if file_flag else "")
    return f"{flag} shows in `ps` and in shell history; prefer {safer}"


#: the most a secret file may hold (a password or an API key is a line; a 64 KiB file is not one)
SECRET_FILE_LIMIT = 64 * 1024


def read_secret_file(path: str, option: str, warn: Warn = warn_stderr) -> str:
    """Return the secret in ``path`` (first line, stripped), warning when group or others may read it.

    Args:
        path: the file.
        option: the flag or variable that named it, for messages.
        warn: where the mode warning goes.

    Returns:
        The secret.

    Raises:
        UsageError: the file cannot be read or is empty (the message names the option and the file only).
    """
    file = Path(path)
    try:
        mode = stat.S_IMODE(file.stat().st_mode)
        text = read_limited(file, SECRET_FILE_LIMIT).decode("utf-8")
    except OSError as exc:
        raise UsageError(f"{option}: cannot read {path}: {exc.strerror or type(exc).__name__}") from None
    except FileTooLargeError as exc:
        raise UsageError(f"{option}: {exc}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{option}: {path} is not UTF-8 text") from None
    lines = text.strip().splitlines()
    if not lines or not lines[0].strip():
        raise UsageError(f"{option}: {path} is empty")
    if mode & 0o077:
        warn(f"{option}: {path} may be read by other users (mode {mode:04o}); chmod 600 {path}")
    return lines[0].strip()


def prompt_password(user: str, prompt: Callable[[str], str] | None = None, *, option: str = "--user") -> str:
    """Ask for ``user``'s password on the terminal without echo.

    Args:
        user: named in the prompt.
        prompt: asks and returns the answer (``getpass.getpass`` by default).
        option: where the user name came from (``--user`` or ``AUDITLOG_ES_USERNAME``), named on refusal.

    Raises:
        UsageError: stdin is not a terminal (the message names the non-interactive sources).
    """
    if not sys.stdin.isatty():
        raise UsageError(f"{option}: no password given; set AUDITLOG_ES_PASSWORD or --password-file FILE "
                         "(no terminal to prompt on)")
    return (prompt or getpass.getpass)(f"Elasticsearch password for {user}: ")
