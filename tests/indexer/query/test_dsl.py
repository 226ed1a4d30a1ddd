"""Unit tests of the Filter -> query DSL builder (pure, no Elasticsearch)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from auditlog.indexer.query.dsl import (
    MAX_TEXT_CHARS,
    MAX_TEXT_TERMS,
    SORT,
    TEXT_FIELDS,
    build_query,
    filter_clauses,
    format_time,
    text_problem,
    text_query,
    time_range,
)
from auditlog.indexer.query.filter import Filter

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def test_empty_filter_matches_all() -> None:
    """An empty filter selects every event."""
    assert build_query(Filter()) == {"match_all": {}}


def test_tenant_is_a_term_on_organization_id() -> None:
    """The tenant becomes an exact term on organization.id."""
    assert filter_clauses(Filter(tenants=("org-1001",))) == [{"term": {"organization.id": "org-1001"}}]


def test_workers_are_terms_on_user_id() -> None:
    """Several workers become one terms clause on user.id (OR within the dimension), sorted and deduplicated."""
    flt = Filter(workers=("w-2", "w-1", "w-2"))
    assert filter_clauses(flt) == [{"terms": {"user.id": ["w-1", "w-2"]}}]


def test_actions_and_sources_are_terms() -> None:
    """Actions filter event.action and sources filter audit.source."""
    flt = Filter(actions=("delete",), sources=("slots", "appointments"))
    assert filter_clauses(flt) == [
        {"terms": {"event.action": ["delete"]}},
        {"terms": {"audit.source": ["appointments", "slots"]}},
    ]


def test_dimensions_are_anded_in_bool_filter() -> None:
    """All clauses go into bool.filter, so dimensions combine with AND and nothing is scored."""
    flt = Filter(tenants=("org-1",), actions=("update",), sources=("slots",))
    query = build_query(flt)
    assert list(query["bool"]) == ["filter"]
    assert len(query["bool"]["filter"]) == 3


def test_time_range_is_inclusive_and_utc() -> None:
    """since/until become gte/lte on @timestamp, converted to UTC."""
    zurich = timezone(timedelta(hours=1))
    rng = time_range(datetime(2026, 11, 20, 11, 0, tzinfo=zurich), datetime(2026, 11, 21, 0, 0, tzinfo=UTC))
    assert rng == {
        "range": {
            "@timestamp": {
                "gte": "2026-11-20T10:00:00.000000Z",
                "lte": "2026-11-21T00:00:00.000000Z",
                "format": "strict_date_optional_time_nanos",
            }
        }
    }


def test_open_time_range_has_one_bound() -> None:
    """Only since gives only gte."""
    rng = time_range(T0, None)
    assert rng is not None
    assert {"gte", "format"} == set(rng["range"]["@timestamp"])


def test_no_time_range_gives_no_clause() -> None:
    """Without since and until there is no range clause."""
    assert time_range(None, None) is None


def test_format_time_keeps_microseconds() -> None:
    """Times are sent with microseconds so sub-millisecond bounds are not widened silently."""
    assert format_time(T0 + timedelta(microseconds=123)) == "2026-11-20T10:00:00.000123Z"


def test_text_uses_simple_query_string_safely() -> None:
    """Free text is a lenient AND simple_query_string over the text fields."""
    query = text_query('anna "keller')
    assert query is not None
    sqs = query["simple_query_string"]
    assert sqs["query"] == 'anna "keller'
    assert list(TEXT_FIELDS) == sqs["fields"]
    assert sqs["lenient"] is True
    assert sqs["default_operator"] == "and"
    assert "FUZZY" not in sqs["flags"]


def test_text_fields_cover_the_seed_columns() -> None:
    """The free-text fields include message, worker, organization, changed fields and URL."""
    for name in ("message", "user.name", "organization.name", "audit.changed_fields", "url.full"):
        assert name in TEXT_FIELDS


def test_blank_text_gives_no_clause() -> None:
    """Whitespace-only text filters nothing."""
    assert text_query("  \t ") is None
    assert text_query(None) is None


def test_text_at_the_limits_is_searched_whole() -> None:
    """MAX_TEXT_TERMS words, or one word of MAX_TEXT_CHARS characters, are searched as typed."""
    words = " ".join(["w"] * MAX_TEXT_TERMS)
    queries = [text_query(text) for text in (words, "x" * MAX_TEXT_CHARS)]
    assert [words, "x" * MAX_TEXT_CHARS] == [q["simple_query_string"]["query"] if q else None for q in queries]


def test_text_over_the_word_limit_is_refused_not_cut() -> None:
    """One word more than MAX_TEXT_TERMS is refused in one line: dropping it would widen the search."""
    with pytest.raises(ValueError, match=rf"^search text too long: .* \(this has {MAX_TEXT_TERMS + 1} words"):
        text_query(" ".join(["w"] * MAX_TEXT_TERMS + ["excluded"]))


def test_text_over_the_character_limit_is_refused_not_cut() -> None:
    """A character more than MAX_TEXT_CHARS is refused in one line, even a 100 KB paste."""
    assert [text_problem("x" * (MAX_TEXT_CHARS + 1)), text_problem("x" * 100_000)] == [
        f"search text too long: at most {MAX_TEXT_TERMS} words and {MAX_TEXT_CHARS} characters are searched "
        f"(this has 1 word, {n:,} characters); shorten it" for n in (MAX_TEXT_CHARS + 1, 100_000)]


def test_exclude_leaves_out_one_dimension() -> None:
    """exclude drops that dimension's clause but keeps tenant and the others (facet rule)."""
    flt = Filter(tenants=("org-1",), workers=("w-1",), actions=("delete",))
    clauses = filter_clauses(flt, exclude="actions")
    assert clauses == [{"term": {"organization.id": "org-1"}}, {"terms": {"user.id": ["w-1"]}}]


def test_sort_is_timestamp_desc_then_shard_doc() -> None:
    """The stable order is newest first with the PIT tiebreaker."""
    assert [next(iter(s)) for s in SORT] == ["@timestamp", "_shard_doc"]
    assert SORT[0]["@timestamp"]["order"] == "desc"
