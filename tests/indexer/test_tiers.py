"""The tier table: tier -> retention class -> daily index, routing by UTC day, parsing names back."""

from __future__ import annotations

import argparse
import fnmatch
import os
import re
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditlog.indexer.tiers import RETENTION_DAYS, TierTable, UnknownTierError, lucene_regex_literal
from auditlog.options.tiers import tiers_from_args


def test_table_matches_the_architecture() -> None:
    """Tiers map to the classes and retention days of ARCHITECTURE.md."""
    tiers = TierTable()
    expected = {"enterprise": ("enterprise", 30), "business": ("business", 7), "whitelabel": ("business", 7),
                "professional": ("professional", 3), "flatrate": ("professional", 3), "basic": ("professional", 3)}
    assert expected == {t: (tiers.class_of(t), RETENTION_DAYS[tiers.class_of(t)]) for t in expected}


def test_basic_class_is_configurable() -> None:
    """with_basic_class routes basic elsewhere and leaves every other tier alone."""
    tiers = TierTable.with_basic_class("enterprise")
    expected = ("enterprise", "professional")
    assert expected == (tiers.class_of("basic"), tiers.class_of("flatrate"))


def test_unknown_basic_class_is_rejected() -> None:
    """A basic class that is not a retention class fails at construction, naming it."""
    with pytest.raises(ValueError, match="'gold'"):
        TierTable.with_basic_class("gold")


def test_unknown_tier_names_the_known_ones() -> None:
    """Routing an unknown tier raises UnknownTierError listing the known tiers (the dead-letter reason)."""
    with pytest.raises(UnknownTierError, match=r"unknown tier 'premium' \(known: basic, business, enterprise"):
        TierTable().index_for("premium", datetime(2026, 11, 26, tzinfo=UTC))


def test_routing_uses_the_utc_day() -> None:
    """An event at 00:30 +02:00 on 27 Nov belongs to the 26 Nov (UTC) index."""
    moment = datetime(2026, 11, 27, 0, 30, tzinfo=timezone(timedelta(hours=2)))
    expected = "audit-business-2026.11.26"
    assert expected == TierTable().index_for("whitelabel", moment)


@given(st.sampled_from(sorted(TierTable().classes)), st.dates(date(1, 1, 1), date(9999, 12, 31)))
def test_parse_index_inverts_index_for_day(tier: str, day: date) -> None:
    """Parsing a daily index name gives back its class and day, for every tier and every date from year 1 to 9999."""
    tiers = TierTable(prefix="x-audit")
    cls = tiers.class_of(tier)
    assert (cls, day) == tiers.parse_index(tiers.index_for_day(cls, day))


@pytest.mark.parametrize(
    ("day", "name"),
    [(date(999, 3, 4), "audit-business-0999.03.04"), (date(1, 1, 1), "audit-business-0001.01.01"),
     (date(9999, 12, 31), "audit-business-9999.12.31")],
)
def test_index_name_has_a_four_digit_year(day: date, name: str) -> None:
    """Years below 1000 are zero-padded, so the name sorts and parses like any other."""
    assert (name, ("business", day)) == (TierTable().index_for_day("business", day), TierTable().parse_index(name))


@pytest.mark.parametrize("name", ["audit-gold-2026.11.26", "audit-enterprise-999.01.01", "audit-enterprise-2026.02.30",
                                  "audit-enterprise-2026.1.01", "audit-enterprise-+2026.11.26",
                                  "audit-enterprise-2026.13.01", "audit-enterprise",
                                  "other-enterprise-2026.11.26", "audit-x-audit-enterprise-2026.11.26"])
def test_parse_index_ignores_foreign_names(name: str) -> None:
    """Names of other classes, prefixes or malformed dates are not ours."""
    assert TierTable().parse_index(name) is None


@pytest.mark.parametrize("prefix", ["", "Audit", "audit*"])
def test_bad_prefix_is_rejected(prefix: str) -> None:
    """Empty, upper-case or wildcard prefixes cannot name indices."""
    with pytest.raises(ValueError, match="prefix"):
        TierTable(prefix=prefix)


def test_prefix_flag_beats_environment() -> None:
    """--prefix wins over AUDITLOG_INDEX_PREFIX, which wins over the default."""
    env = {"AUDITLOG_INDEX_PREFIX": "env-audit"}
    chosen = [tiers_from_args(argparse.Namespace(prefix=p), env).prefix for p in ("flag-audit", None)]
    expected = (["flag-audit", "env-audit"], "audit")
    assert expected == (chosen, tiers_from_args(argparse.Namespace(prefix=None), {}).prefix)


@pytest.mark.parametrize(("prefix", "reason"), [
    ("a b", "printable without spaces"), ("a:b", "printable without spaces"), ("-audit", "must not start"),
    ("a\x1b", "printable"), (os.fsdecode(b"\xff"), "printable"), ("x" * 201, "at most 200 bytes"),
    ("Audit", "lowercase"), ("", "empty"),
])
def test_a_prefix_elasticsearch_or_a_terminal_cannot_take_is_refused(prefix: str, reason: str) -> None:
    """A namespace that cannot start an index name (or be shown) is refused with the rule it breaks."""
    with pytest.raises(ValueError, match=reason):
        TierTable(prefix=prefix)


def test_a_lowercase_unicode_prefix_is_accepted() -> None:
    """Elasticsearch takes lowercase non-ASCII index names, so the namespace may be one."""
    assert "über-enterprise-2026.12.03" == TierTable(prefix="über").index_for_day("enterprise", date(2026, 12, 3))


@pytest.mark.parametrize("prefix", ["audit-enterprise", "audit-enterprise-eu", "audit-x-business-y", "a-professional",
                                    "audit.digest", "audit-x.digest"])
def test_a_prefix_another_namespace_s_patterns_would_cover_is_refused(prefix: str) -> None:
    """A class name as a later '-' part, or a '.digest' ending, would put the namespace inside another's patterns."""
    with pytest.raises(ValueError, match="another namespace's index patterns"):
        TierTable(prefix=prefix)


def test_read_and_digest_patterns_name_each_class() -> None:
    """The namespace is read and granted per retention class, never as audit-*."""
    tiers = TierTable()
    expected = (("audit-enterprise-*", "audit-business-*", "audit-professional-*"),
                ("audit.digest-enterprise-*", "audit.digest-business-*", "audit.digest-professional-*"),
                "audit-enterprise-*,audit-business-*,audit-professional-*")
    assert expected == (tiers.read_patterns, tiers.digest_patterns, tiers.read_pattern)


def test_daily_regexes_name_each_class_s_daily_layout() -> None:
    """The writer's names are one Lucene regular expression per class: prefix, class, four digits, month, day."""
    tiers = TierTable(prefix="x.audit")
    day = r"[0-9]{4}\.(0[1-9]|1[0-2])\.(0[1-9]|[12][0-9]|3[01])"
    expected = (tuple(rf"/x\.audit-{cls}-{day}/" for cls in RETENTION_DAYS),
                tuple(rf"/x\.audit\.digest-{cls}-{day}/" for cls in RETENTION_DAYS))
    assert expected == (tiers.daily_regexes, tiers.digest_daily_regexes)


def test_lucene_regex_literal_escapes_every_character_but_letters_digits_dash_and_underscore() -> None:
    """Lucene's operators (. + ( ) [ ] { } @ & ~ ^ $ ! % ' ; = `) and non-ASCII letters get a backslash."""
    text = "a1-_.+()[]{}@&~^$!%';=`é"
    expected = "a1-_" + "".join("\\" + c for c in ".+()[]{}@&~^$!%';=`é")
    assert expected == lucene_regex_literal(text)


@given(st.dates(min_value=date(1000, 1, 1)), st.sampled_from(sorted(RETENTION_DAYS)))
def test_every_daily_name_the_router_makes_matches_its_class_s_regex(day: date, cls: str) -> None:
    """Every events and digest index name of a day with a four-digit year matches its class's regex (the regex
    read as a Python pattern: the same syntax for digits, classes, counts, groups and escaped literals)."""
    tiers = TierTable(prefix="a.b-c_d")
    matched = [re.fullmatch(regex.strip("/"), name, re.ASCII) is not None
               for regex, name in ((tiers.daily_regex(cls), tiers.index_for_day(cls, day)),
                                   (tiers.digest_daily_regex(cls), tiers.digest_index_for_day(cls, day)))]
    assert [True, True] == matched


def _covered(mine: TierTable, theirs: TierTable) -> list[str]:
    """The indices of ``theirs`` (events and digests, every class) that a pattern of ``mine`` matches."""
    day = date(2026, 12, 4)
    names = [n for c in RETENTION_DAYS for n in (theirs.index_for_day(c, day), theirs.digest_index_for_day(c, day))]
    return [n for n in names for p in (*mine.read_patterns, *mine.digest_patterns) if fnmatch.fnmatchcase(n, p)]


PREFIXES = ["audit", "audit-eu", "audit-staging", "audit.x", "auditx", "a", "a-b", "a-b-c", "enterprise", "x.digest-y",
            "audit-digest", "über", "a_b-c"]


@pytest.mark.parametrize("other", PREFIXES)
@pytest.mark.parametrize("prefix", PREFIXES)
def test_no_namespace_s_patterns_cover_another_s_indices(prefix: str, other: str) -> None:
    """Of two accepted, different prefixes, neither's event or digest patterns match an index of the other."""
    if prefix == other:
        return
    mine, theirs = TierTable(prefix=prefix), TierTable(prefix=other)
    assert [] == _covered(mine, theirs)


_PARTS = st.sampled_from(["audit", "eu", "digest", "enterprise", "business", "professional", "x", "staging"])
_GENERATED_PREFIX = st.lists(st.tuples(st.sampled_from(["-", "."]), _PARTS), min_size=0, max_size=4).flatmap(
    lambda rest: _PARTS.map(lambda first: first + "".join(sep + part for sep, part in rest)))


def _accepted(prefix: str) -> TierTable | None:
    try:
        return TierTable(prefix=prefix)
    except ValueError:
        return None


@given(_GENERATED_PREFIX, _GENERATED_PREFIX)
def test_generated_namespaces_never_cover_each_other(prefix: str, other: str) -> None:
    """Any two accepted, different prefixes built of class names, dots and dashes keep to their own indices."""
    mine, theirs = _accepted(prefix), _accepted(other)
    if mine is None or theirs is None or prefix == other:
        return
    assert [] == _covered(mine, theirs)
