"""Redaction of secrets inside audit.changes."""

from __future__ import annotations

import pytest

from auditlog.agent.redact import REDACTED, Redactor


def test_default_keys_catch_spelling_variants() -> None:
    """apiKey, X-Api-Key, new_password and PasswordHash are all secrets by default."""
    redactor = Redactor()
    assert [n for n in ("apiKey", "X-Api-Key", "new_password", "PasswordHash", "start") if redactor.is_secret(n)] == [
        "apiKey",
        "X-Api-Key",
        "new_password",
        "PasswordHash",
    ]


def test_secret_values_are_replaced() -> None:
    """Both sides of a secret change become the replacement; other fields stay."""
    changes = {"password": {"old": "hunter2", "new": "s3cret"}, "start": {"old": "10:00", "new": "11:00"}}
    assert Redactor()(changes) == {
        "password": {"old": REDACTED, "new": REDACTED},
        "start": {"old": "10:00", "new": "11:00"},
    }


def test_null_side_stays_null() -> None:
    """A secret that was set for the first time keeps old = null."""
    assert Redactor()({"api_token": {"old": None, "new": "abc"}}) == {"api_token": {"old": None, "new": REDACTED}}


def test_nested_secrets_are_scrubbed() -> None:
    """A secret key inside an object value is redacted too."""
    changes = {"smtp": {"old": {"host": "a", "password": "x"}, "new": {"host": "b", "password": "y"}}}
    assert Redactor()(changes) == {
        "smtp": {"old": {"host": "a", "password": REDACTED}, "new": {"host": "b", "password": REDACTED}}
    }


def test_input_is_not_mutated() -> None:
    """The caller's dict is left as it was."""
    changes = {"password": {"old": "a", "new": "b"}}
    Redactor()(changes)
    assert changes == {"password": {"old": "a", "new": "b"}}


def test_clean_changes_are_returned_as_is() -> None:
    """Without secrets the same object comes back (no copy on the hot path)."""
    changes = {"start": {"old": "10:00", "new": "11:00"}}
    assert Redactor()(changes) is changes


def test_substring_mode_over_redacts_on_purpose() -> None:
    """token_count contains "token" and is hidden in substring mode (the documented safe side)."""
    assert Redactor().is_secret("token_count") is True


def test_exact_mode_matches_whole_names_only() -> None:
    """In exact mode only the normalised whole name counts."""
    redactor = Redactor(["token"], mode="exact")
    assert (redactor.is_secret("Token"), redactor.is_secret("token_count")) == (True, False)


@pytest.mark.parametrize(
    ("keys", "mode", "message"),
    [
        ("password", "substring", "list of names"),
        ([], "substring", "at least one"),
        (["_-"], "substring", "empty once normalised"),
        ([1], "substring", "must be strings"),
        (["password"], "fuzzy", "mode must be"),
    ],
)
def test_bad_configuration_raises_at_construction(keys: object, mode: str, message: str) -> None:
    """Bad keys or mode stop construction with a message saying what is wrong."""
    with pytest.raises(ValueError, match=message):
        Redactor(keys, mode=mode)  # type: ignore[arg-type]


def test_any_secret_names_a_hit_among_field_names() -> None:
    """any_secret is true when one name is secret and false for only plain names."""
    redactor = Redactor()
    assert (redactor.any_secret(["start", "X-Api-Key"]), redactor.any_secret(["start", "end"])) == (True, False)
