"""Unit tests of the shared filter flags (add_filter_args / filter_from_args)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta, timezone

import pytest

from auditlog.core.errors import UsageError
from auditlog.indexer.query import filter as filter_module
from auditlog.indexer.query.dsl import MAX_TEXT_TERMS
from auditlog.indexer.query.filter import Filter
from auditlog.indexer.query.timespec import TimeSpec, parse_time
from auditlog.options.filters import add_filter_args, filter_from_args

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="auditlog export")
    add_filter_args(parser)
    return parser


def _filter(*argv: str) -> Filter:
    parser = _parser()
    return filter_from_args(parser.parse_args(list(argv)), now=NOW, parser=parser)


def _usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exc:
        _filter(*argv)
    assert exc.value.code == 2
    return capsys.readouterr().err


def test_no_flags_give_the_empty_filter() -> None:
    """Without filter flags every event matches."""
    assert Filter() == _filter()


def test_every_flag_lands_in_the_filter() -> None:
    """Each flag fills its field; repeatable flags collect all values in order."""
    flt = _filter("--tenant", "org-1", "--worker", "w-1", "--worker", "w-2", "--action", "Delete",
                  "--source", "slots", "--since", "2026-11-20T10:00:00Z", "--until", "2026-11-21T10:00:00+01:00",
                  "--query", "anna keller")
    assert Filter(
        tenants=("org-1",),
        workers=("w-1", "w-2"),
        actions=("delete",),
        sources=("slots",),
        since=datetime(2026, 11, 20, 10, 0, tzinfo=UTC),
        until=datetime(2026, 11, 21, 10, 0, tzinfo=timezone(timedelta(hours=1))),
        text="anna keller",
    ) == flt


def test_repeated_values_are_deduplicated() -> None:
    """The same worker twice is one selection."""
    assert _filter("--worker", "w-1", "--worker", "w-1").workers == ("w-1",)


@pytest.mark.parametrize(("value", "delta"), [("15m", timedelta(minutes=15)), ("24h", timedelta(hours=24)),
                                              ("7d", timedelta(days=7)), ("30s", timedelta(seconds=30)),
                                              ("2w", timedelta(weeks=2)), ("now", timedelta(0))])
def test_relative_since_counts_back_from_now(value: str, delta: timedelta) -> None:
    """A relative age means that long before now."""
    assert NOW - delta == _filter("--since", value).since


def test_bare_date_is_utc_midnight() -> None:
    """A date without time starts at midnight UTC."""
    assert datetime(2026, 11, 20, tzinfo=UTC) == _filter("--until", "2026-11-20").until


def test_lowercase_rfc3339_letters_are_accepted() -> None:
    """RFC 3339 allows lowercase t and z."""
    assert datetime(2026, 11, 20, 10, 0, 1, 500000, tzinfo=UTC) == _filter("--since", "2026-11-20t10:00:01.5z").since


@pytest.mark.parametrize("value", ["yesterday", "2026-11-20T10:00:00", "15x", "-5m", "2026-13-01", "2026-11-20T25:00Z",
                                   ""])
def test_bad_time_is_a_usage_error_naming_the_flag(capsys: pytest.CaptureFixture[str], value: str) -> None:
    """A malformed --since exits 2 with a message naming --since."""
    err = _usage_error(capsys, "--since", value)
    assert "argument --since" in err


def test_naive_time_is_rejected() -> None:
    """RFC 3339 requires an offset; a time without one is ambiguous and refused."""
    with pytest.raises(argparse.ArgumentTypeError):
        parse_time("2026-11-20T10:00:00")


@pytest.mark.parametrize("flag", ["--tenant", "--worker", "--action", "--source"])
def test_empty_value_is_a_usage_error_naming_the_flag(capsys: pytest.CaptureFixture[str], flag: str) -> None:
    """An empty value exits 2 naming the flag."""
    err = _usage_error(capsys, flag, "  ")
    assert f"argument {flag}" in err


def test_since_after_until_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """A reversed range exits 2 naming --since."""
    err = _usage_error(capsys, "--since", "1h", "--until", "2h")
    assert "--since" in err and "--until" in err


def test_since_after_until_without_parser_raises_usage_error() -> None:
    """Without a parser the contradiction is a UsageError (exit 2 through the CLI)."""
    args = argparse.Namespace(since=TimeSpec(ago=timedelta(hours=1)), until=TimeSpec(ago=timedelta(hours=2)))
    with pytest.raises(UsageError, match="--since"):
        filter_from_args(args, now=NOW)


def test_blank_query_means_no_text() -> None:
    """--query with only spaces filters nothing."""
    assert _filter("--query", "   ").text is None


def test_missing_attributes_mean_any() -> None:
    """A namespace without filter attributes gives the empty filter (commands may add only some flags)."""
    assert Filter() == filter_from_args(argparse.Namespace(), now=NOW)


#: every repeatable filter flag -> the Filter field it fills
REPEATABLE = {"--tenant": "tenants", "--worker": "workers", "--action": "actions", "--source": "sources"}


def _commands_with_filters() -> list[str]:
    """The commands of the real CLI whose parser has the filter flags."""
    from auditlog.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sorted(name for name, parser in sub.choices.items()
                  if any("--worker" in a.option_strings for a in parser._actions))


def test_export_and_verify_are_the_commands_with_filter_flags() -> None:
    """The filter flags belong to export and verify (tui's --tenant is the single-tenant customer view)."""
    assert ["export", "verify"] == _commands_with_filters()


#: arguments a command requires besides the filter flags
_REQUIRED = {"export": ["-o", "x.xlsx"]}


@pytest.mark.parametrize("command", _commands_with_filters())
@pytest.mark.parametrize("flag", sorted(REPEATABLE))
def test_repeated_flag_keeps_both_values(command: str, flag: str) -> None:
    """`FLAG a FLAG b` on a command of the real CLI puts both values into the filter, in order."""
    from auditlog.cli import build_parser

    args = build_parser().parse_args([command, *_REQUIRED.get(command, []), flag, "b-value", flag, "a-value"])
    assert ("b-value", "a-value") == getattr(filter_from_args(args, now=NOW), REPEATABLE[flag])


#: what Python makes of a Latin-1 terminal's "Müller" on a UTF-8 system: the byte 0xfc as a lone surrogate
NOT_UTF8 = b"M\xfcller".decode("utf-8", "surrogateescape")


@pytest.mark.parametrize("flag", [*sorted(REPEATABLE), "--query"])
def test_a_value_that_is_not_utf8_is_a_usage_error_naming_the_flag(capsys: pytest.CaptureFixture[str],
                                                                    flag: str) -> None:
    """A filter value holding bytes that are not UTF-8 exits 2 naming the flag, instead of failing the request."""
    err = _usage_error(capsys, flag, NOT_UTF8)
    assert f"argument {flag}: 'M\\udcfcller' holds bytes that are not UTF-8" in err, err


def test_query_over_the_limits_is_a_usage_error_naming_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    """--query with more words than are searched exits 2 naming the flag, instead of dropping the extra words."""
    err = _usage_error(capsys, "--query", " ".join(["w"] * (MAX_TEXT_TERMS + 1)))
    assert f"argument --query: search text too long: at most {MAX_TEXT_TERMS} words" in err, err


def test_more_workers_than_are_searched_at_once_are_a_usage_error_naming_them(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--worker repeated past the terms limit exits 2 naming the dimension and the limit (the limit lowered here:
    argparse takes minutes over 131,074 arguments)."""
    monkeypatch.setattr(filter_module, "MAX_VALUES", 3)
    err = _usage_error(capsys, *[arg for i in range(4) for arg in ("--worker", f"w{i}")])
    assert "too many workers: at most 3 are searched at once" in err, err[-300:]
