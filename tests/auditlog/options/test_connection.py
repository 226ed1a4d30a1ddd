"""The shared connection flags: a malformed URL or credential names its flag or variable, never a secret."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from auditlog.core.errors import UsageError
from auditlog.options.connection import add_connection_args, settings_from_args


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_connection_args(parser)
    return parser.parse_args(list(argv))


def test_a_malformed_es_flag_names_the_flag_without_the_password() -> None:
    """--es with a space in the host is a usage error naming --es and hiding the password."""
    with pytest.raises(UsageError) as refused:
        settings_from_args(_args("--es", "http://user:s3cr3tPW@a b"), env={})
    assert (True, False) == (str(refused.value).startswith("--es: "), "s3cr3tPW" in str(refused.value))


def test_a_malformed_url_variable_names_the_variable() -> None:
    """AUDITLOG_ES_URL with a full-width host letter is a usage error naming the variable."""
    with pytest.raises(UsageError, match=r"^AUDITLOG_ES_URL: "):
        settings_from_args(_args(), env={"AUDITLOG_ES_URL": "http://elastic:pw@\uff41:9200"})


def test_a_non_ascii_password_variable_is_named_without_its_value() -> None:
    """AUDITLOG_ES_PASSWORD with an umlaut is a usage error naming the variable, not the password."""
    with pytest.raises(UsageError) as refused:
        settings_from_args(_args(), env={"AUDITLOG_ES_USERNAME": "u", "AUDITLOG_ES_PASSWORD": "p\u00e4sswort"})
    assert (True, False) == (str(refused.value).startswith("AUDITLOG_ES_PASSWORD: must be printable ASCII"),
                             "p\u00e4sswort" in str(refused.value))


def test_a_non_ascii_user_flag_is_named() -> None:
    """--user with a non-ASCII name is a usage error naming --user."""
    with pytest.raises(UsageError, match=r"^--user: must be printable ASCII"):
        settings_from_args(_args("--user", "j\u00fcrgen"), env={"AUDITLOG_ES_PASSWORD": "pw"})


@pytest.mark.parametrize("make", ["missing", "directory"])
def test_a_ca_bundle_that_is_no_file_names_the_flag(tmp_path: Path, make: str) -> None:
    """--ca-certs naming a missing file or a directory is a usage error naming the flag, up front."""
    path = tmp_path / "ca.crt"
    if make == "directory":
        path.mkdir()
    with pytest.raises(UsageError, match=r"^--ca-certs: (no such file|not a file)"):
        settings_from_args(_args("--es", "https://127.0.0.1:9200", "--ca-certs", str(path)), env={})


def test_a_ca_bundle_in_the_environment_that_is_missing_names_the_variable(tmp_path: Path) -> None:
    """AUDITLOG_ES_CA_CERTS naming a missing file is a usage error naming the variable."""
    with pytest.raises(UsageError, match=r"^AUDITLOG_ES_CA_CERTS: no such file"):
        settings_from_args(_args("--es", "https://127.0.0.1:9200"), env={"AUDITLOG_ES_CA_CERTS": str(tmp_path / "x")})


def test_a_password_file_without_a_user_names_the_variable_and_the_flag_to_add(tmp_path: Path) -> None:
    """AUDITLOG_ES_PASSWORD_FILE without a user name is a usage error naming the variable and --user (before: "es
    username and password go together", which names neither)."""
    secret = tmp_path / "elastic-password"
    secret.write_text("pw\n")
    secret.chmod(0o600)
    with pytest.raises(UsageError) as refused:
        settings_from_args(_args(), env={"AUDITLOG_ES_PASSWORD_FILE": str(secret)})
    assert (True, True) == (str(refused.value).startswith("AUDITLOG_ES_PASSWORD_FILE: "),
                            "--user NAME (or AUDITLOG_ES_USERNAME)" in str(refused.value))
