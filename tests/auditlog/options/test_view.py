"""Tests for auditlog.options.view: zone, language and namespace flags."""

from __future__ import annotations

import argparse

import pytest

from auditlog.core.errors import UsageError
from auditlog.options.tiers import tiers_from_args
from auditlog.options.view import summarizer_from_args, zone_from_args


def _args(**values: object) -> argparse.Namespace:
    base: dict[str, object] = {"tz": None, "lang": None, "templates": None, "prefix": None}
    base.update(values)
    return argparse.Namespace(**base)


def test_zone_flag_wins_over_environment() -> None:
    """--tz beats AUDITLOG_TZ and TZ."""
    expected = "Asia/Tokyo"
    assert expected == zone_from_args(_args(tz="Asia/Tokyo"), {"AUDITLOG_TZ": "Europe/Zurich", "TZ": "UTC"})


def test_zone_from_tz_variable_and_default() -> None:
    """TZ is used when it names a zone; an odd TZ falls back to UTC; no setting means UTC."""
    expected = ["Europe/Zurich", "UTC", "UTC"]
    assert expected == [zone_from_args(_args(), {"TZ": ":Europe/Zurich"}), zone_from_args(_args(), {"TZ": "XYZ+3"}),
                        zone_from_args(_args(), {})]


def test_unknown_zone_flag_is_a_usage_error() -> None:
    """An unknown --tz stops the command with a message naming the flag."""
    with pytest.raises(UsageError, match="--tz"):
        zone_from_args(_args(tz="Mars/Olympus"), {})


def test_unknown_language_is_a_usage_error() -> None:
    """A language without templates names --lang."""
    with pytest.raises(UsageError, match="--lang"):
        summarizer_from_args(_args(lang="fr"), {})


def test_missing_template_folder_is_a_usage_error() -> None:
    """A template folder that does not exist names --templates."""
    with pytest.raises(UsageError, match="--templates"):
        summarizer_from_args(_args(templates="/no/such/folder"), {})


def test_prefix_from_environment() -> None:
    """AUDITLOG_INDEX_PREFIX picks the namespace when --prefix is absent."""
    expected = "staging-audit"
    assert expected == tiers_from_args(_args(), {"AUDITLOG_INDEX_PREFIX": "staging-audit"}).prefix


def test_bad_prefix_is_a_usage_error() -> None:
    """An invalid namespace is a usage error."""
    with pytest.raises(UsageError, match="prefix"):
        tiers_from_args(_args(prefix="Bad*"), {})


def test_a_zone_name_too_long_for_a_file_is_a_short_usage_error() -> None:
    """--tz of 5000 characters is a usage error naming --tz in one short line, not 'File name too long'."""
    with pytest.raises(UsageError, match=r"^--tz: unknown time zone") as refused:
        zone_from_args(argparse.Namespace(tz="a" * 5000), env={})
    assert len(str(refused.value)) <= 200


def test_a_bad_prefix_from_the_environment_names_the_variable() -> None:
    """An invalid AUDITLOG_INDEX_PREFIX without --prefix is a usage error naming the variable, not --prefix."""
    with pytest.raises(UsageError, match=r"^AUDITLOG_INDEX_PREFIX: "):
        tiers_from_args(_args(), {"AUDITLOG_INDEX_PREFIX": "BAD"})
