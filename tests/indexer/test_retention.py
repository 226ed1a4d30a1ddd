"""Retention arithmetic: when a daily index is due, what is expired, per-class summaries (pure)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from elasticsearch import ApiError

from auditlog.indexer.retention import (
    Blocked,
    DailyIndex,
    Inventory,
    enforce,
    expired,
    list_digest_indices,
    summarize,
    who_deletes,
)
from auditlog.indexer.tiers import TierTable
from tests.indexer.recording_es import not_found, recording_client

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
MANAGED = {"enterprise": "enforcer", "business": "enforcer", "professional": "ILM policy audit-professional"}


def _index(cls: str, day: date, docs: int = 1, size: int = 100) -> DailyIndex:
    return DailyIndex(f"audit-{cls}-{day:%Y.%m.%d}", cls, day, docs, size)


def test_due_is_retention_days_after_midnight_of_the_name_date() -> None:
    """An enterprise index of 1 Nov is due at 1 Dec 00:00 UTC, like ILM's min_age with parse_origination_date."""
    assert datetime(2026, 12, 1, tzinfo=UTC) == _index("enterprise", date(2026, 11, 1)).due


def test_exactly_due_counts_as_expired() -> None:
    """At the due instant the index is expired; one microsecond earlier it is not."""
    index = _index("professional", date(2026, 11, 23))
    expected: tuple[list[DailyIndex], list[DailyIndex]] = ([index], [])
    assert expected == (expired([index], index.due), expired([index], index.due - timedelta(microseconds=1)))


def test_acceptance_ages_per_class() -> None:
    """31/8/4-day-old indices are expired and 29/6/2-day-old ones are not, oldest first."""
    ages = {"enterprise": (31, 29), "business": (8, 6), "professional": (4, 2)}
    indices = [_index(cls, (NOW - timedelta(days=age)).date()) for cls, pair in ages.items() for age in pair]
    expected = sorted((i for i in indices if (NOW.date() - i.day).days in (31, 8, 4)), key=lambda i: i.day)
    assert expected == expired(indices, NOW)


def test_summary_per_class() -> None:
    """Counts, oldest day, totals, next due and overdue count are aggregated per class, empty classes included."""
    indices = [
        _index("enterprise", date(2026, 10, 20), docs=5, size=1000),
        _index("enterprise", date(2026, 11, 25), docs=7, size=2000),
        _index("professional", date(2026, 11, 25), docs=1, size=10),
    ]
    rows = {s.retention_class: s for s in summarize(indices, NOW, MANAGED)}
    enterprise, business, professional = rows["enterprise"], rows["business"], rows["professional"]
    expected = (
        (2, date(2026, 10, 20), 12, 3000, datetime(2026, 11, 19, tzinfo=UTC), 1, "enforcer"),
        (0, None, 0, 0, None, 0),
        (1, datetime(2026, 11, 28, tzinfo=UTC), "ILM policy audit-professional"),
    )
    assert expected == (
        (enterprise.indices, enterprise.oldest_day, enterprise.docs, enterprise.bytes, enterprise.next_due,
         enterprise.overdue, enterprise.managed_by),
        (business.indices, business.oldest_day, business.docs, business.bytes, business.next_due, business.overdue),
        (professional.indices, professional.next_due, professional.managed_by),
    )


def test_status_json_uses_iso_strings() -> None:
    """as_dict renders dates as ISO strings and keeps the field names of `retention status --json`."""
    row = summarize([_index("business", date(2026, 11, 20))], NOW, MANAGED)[1].as_dict()
    expected = {"class": "business", "retention_days": 7, "indices": 1, "oldest_day": "2026-11-20", "docs": 1,
                "bytes": 100, "next_deletion_due": "2026-11-27T00:00:00+00:00", "overdue": 0, "managed_by": "enforcer"}
    assert expected == row


def test_ilm_is_in_charge_where_its_policy_is_installed() -> None:
    """On a cluster with ILM, a class whose policy exists is deleted by ILM and one without by the enforcer."""
    def respond(method: str, path: str, body: object) -> tuple[int, object]:
        if path == "/_nodes/_local/plugins":
            return 200, {"nodes": {"n1": {"modules": [{"name": "x-pack-ilm"}]}}}
        if path in ("/_ilm/policy/audit-enterprise", "/_ilm/policy/audit-business"):
            name = path.rsplit("/", 1)[1]
            return 200, {name: {"policy": {"_meta": {"managed_by": "auditlog", "version": 1}, "phases": {}}}}
        return not_found(path)

    client, _ = recording_client(respond)
    expected = {"enterprise": "ILM policy audit-enterprise", "business": "ILM policy audit-business",
                "professional": "enforcer"}
    assert expected == who_deletes(client, TierTable())


def test_classify_sorts_names_into_usable_unusable_and_foreign() -> None:
    """Readable dates are daily indices; bad, pre-1000 and year-9999 dates are unusable; other names are not ours."""
    from auditlog.indexer.retention import classify

    tiers = TierTable()
    names = ["audit-business-2026.11.20", "audit-business-2026.13.45", "audit-business-999.12.31",
             "audit-business-0999.12.31", "audit-enterprise-9999.12.31", "audit-other-2026.11.20", "logs-1"]
    kinds = [type(classify(name, tiers)).__name__ for name in names]
    expected = ["DailyIndex", "Unreadable", "Unreadable", "Unreadable", "Unreadable", "NoneType", "NoneType"]
    assert expected == kinds


def test_enforce_says_each_deleted_chunk_before_a_later_one_fails() -> None:
    """With 60 expired indices and the second delete refused, the first 50 are reported deleted, then it raises."""
    indices = [_index("professional", date(2026, 9, 1) + timedelta(days=n)) for n in range(60)]
    deletes = 0

    def respond(method: str, path: str, body: object) -> tuple[int, object]:
        nonlocal deletes
        if method == "DELETE":
            deletes += 1
            if deletes == 2:
                return 500, {"error": {"type": "internal_server_error", "reason": "node left"}, "status": 500}
            return 200, {"acknowledged": True}
        return 200, []  # _cat/indices of the digests: none

    client, _ = recording_client(respond)
    said: list[list[DailyIndex]] = []
    with pytest.raises(ApiError):
        enforce(client, TierTable(), NOW, inventory=Inventory(indices, []), on_deleted=said.append)
    assert [len(chunk) for chunk in said] == [50]


def test_enforce_deletes_long_names_in_requests_whose_line_fits_the_nodes_limit() -> None:
    """50 expired indices of a 190-byte prefix (11 KB of names) are deleted, all of them, in DELETE requests whose
    request line stays under Elasticsearch's 4 KiB http.max_initial_line_length."""
    tiers = TierTable(prefix="a" * 190)
    indices = [DailyIndex(tiers.index_for_day("professional", date(2026, 9, 1) + timedelta(days=n)), "professional",
                          date(2026, 9, 1) + timedelta(days=n), 1, 100) for n in range(50)]
    client, log = recording_client(lambda method, path, body: (200, {"acknowledged": True} if method == "DELETE"
                                                                     else []))
    said: list[list[DailyIndex]] = []
    enforce(client, tiers, NOW, inventory=Inventory(indices, []), on_deleted=said.append)
    lines = [len(f"{r.method} {r.path} HTTP/1.1") for r in log if r.method == "DELETE"]
    assert (True, indices) == (max(lines) < 4096, [i for chunk in said for i in chunk])


def test_an_index_deleted_between_the_listing_and_its_count_is_skipped_not_fatal() -> None:
    """Past one request line of blocked names the others are asked for by name; one deleted meanwhile (its chunk
    answers 404) is left out and the rest are counted."""
    tiers = TierTable(prefix="a" * 190)
    day = date(2026, 9, 1)
    blocked = [Blocked(tiers.digest_index_for_day("business", day + timedelta(days=n)), "held") for n in range(20)]
    alive, gone = (tiers.digest_index_for_day("business", day - timedelta(days=n)) for n in (1, 2))

    def respond(method: str, path: str, body: object) -> tuple[int, object]:
        if path.startswith("/_cluster/state"):
            return 200, {"metadata": {"indices": {name: {"state": "open"} for name in (alive, gone)}}}
        if path == f"/_cat/indices/{alive}":
            return 200, [{"index": alive, "docs.count": "3", "store.size": "10"}]
        return not_found(path)

    client, _ = recording_client(respond)
    found = list_digest_indices(client, tiers, blocked)
    assert [(alive, 3)] == [(i.name, i.docs) for i in found if i.docs]
