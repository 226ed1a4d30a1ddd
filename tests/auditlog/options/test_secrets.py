"""Where command-line secrets come from, and the warnings about unsafe sources (no cluster needed)."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest

from auditlog.core.errors import UsageError
from auditlog.options.connection import add_connection_args, resolve_secrets
from auditlog.options.secrets import prompt_password, read_secret_file


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_connection_args(parser)
    return parser.parse_args(list(argv))


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_key_file_fills_the_api_key(tmp_path: Path) -> None:
    """--api-key-file reads the first line of a 0600 file, without a warning."""
    (tmp_path / "key").write_text("the-key\n")
    (tmp_path / "key").chmod(0o600)
    args = _args("--api-key-file", str(tmp_path / "key"))
    warnings: list[str] = []
    resolve_secrets(args, env={}, warn=warnings.append)
    expected: tuple[str, list[str]] = ("the-key", [])
    assert expected == (args.es_api_key, warnings)


def test_readable_file_warns_without_the_secret(tmp_path: Path) -> None:
    """A secret file with mode 0640 is used, with one warning naming the file and chmod 600, not the secret."""
    (tmp_path / "pw").write_text("pw-value")
    (tmp_path / "pw").chmod(0o640)
    warnings: list[str] = []
    read_secret_file(str(tmp_path / "pw"), "--password-file", warnings.append)
    expected = (1, True, False)
    assert expected == (len(warnings), "chmod 600" in warnings[0], "pw-value" in warnings[0])


def test_password_file_from_the_environment(tmp_path: Path) -> None:
    """AUDITLOG_ES_PASSWORD_FILE names a file the password is read from."""
    (tmp_path / "pw").write_text("pw-value\n")
    (tmp_path / "pw").chmod(0o600)
    args = _args("--user", "elastic")
    resolve_secrets(args, env={"AUDITLOG_ES_PASSWORD_FILE": str(tmp_path / "pw")}, warn=lambda _: None)
    assert "pw-value" == args.es_password


def test_secret_flag_warns_that_it_shows_in_ps() -> None:
    """--password on the command line keeps working and warns once, naming the safer sources."""
    args = _args("--user", "elastic", "--password", "pw-value")
    warnings: list[str] = []
    resolve_secrets(args, env={}, warn=warnings.append)
    resolve_secrets(args, env={}, warn=warnings.append)
    expected = ("pw-value", 1, True, False)
    assert expected == (args.es_password, len(warnings), "AUDITLOG_ES_PASSWORD" in warnings[0],
                        "pw-value" in warnings[0])


def test_missing_file_is_a_usage_error_naming_the_flag(tmp_path: Path) -> None:
    """A secret file that does not exist is a usage error naming the flag and the path."""
    with pytest.raises(UsageError, match="--api-key-file: cannot read"):
        resolve_secrets(_args("--api-key-file", str(tmp_path / "none")), env={}, warn=lambda _: None)


def test_user_without_password_is_prompted_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """--user with no password anywhere asks on the terminal."""
    monkeypatch.setattr("sys.stdin", _Tty())
    asked: list[str] = []

    def answer(text: str) -> str:
        asked.append(text)
        return "typed"

    expected = ("typed", ["Elasticsearch password for elastic: "])
    assert expected == (prompt_password("elastic", answer), asked)


def test_user_without_password_and_no_terminal_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a terminal the missing password is a usage error naming the non-interactive sources."""
    monkeypatch.setattr("sys.stdin", io.StringIO())
    with pytest.raises(UsageError, match="AUDITLOG_ES_PASSWORD or --password-file"):
        resolve_secrets(_args("--user", "elastic"), env={}, warn=lambda _: None)


def test_a_user_name_from_the_environment_without_password_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without a terminal, a user name from AUDITLOG_ES_USERNAME and no password is refused naming that variable."""
    monkeypatch.setattr("sys.stdin", io.StringIO())
    with pytest.raises(UsageError, match=r"^AUDITLOG_ES_USERNAME: no password given"):
        resolve_secrets(_args(), env={"AUDITLOG_ES_USERNAME": "elastic"}, warn=lambda _: None)
