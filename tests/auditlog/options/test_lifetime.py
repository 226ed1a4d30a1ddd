"""Tests for auditlog.options.lifetime: the one parser of API key lifetimes."""

from __future__ import annotations

import argparse

import pytest

from auditlog.cli import main
from auditlog.options.lifetime import key_lifetime


@pytest.mark.parametrize("value", ["90d", "12h", "30m", "45s"])
def test_lifetimes_with_a_unit_pass_unchanged(value: str) -> None:
    """A positive whole number with d, h, m or s is handed to Elasticsearch as written."""
    assert value == key_lifetime(value)


@pytest.mark.parametrize("value", ["90 days", "0d", "1.5h", "30", "d", "-1d", "1w", "9\u0660d", "\uff19d"])
def test_other_lifetimes_are_refused_naming_the_value(value: str) -> None:
    """Anything else is refused with a message quoting the value."""
    with pytest.raises(argparse.ArgumentTypeError, match=f"not a lifetime like 90d, 12h, 30m: {value!r}"):
        key_lifetime(value)


@pytest.mark.parametrize("argv", [["keys", "tenant", "org-1", "--expires", "30 days"],
                                  ["setup", "--api-keys", "--key-expiration", "0d"]])
def test_both_lifetime_flags_exit_2_on_a_bad_value(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """keys tenant --expires and setup --key-expiration refuse the same bad lifetimes with exit 2."""
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert (2, True) == (caught.value.code, "not a lifetime like" in capsys.readouterr().err)
