"""Retention on the real node: back-dated daily indices expire by the date in their name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from elasticsearch import Elasticsearch

from auditlog.indexer import retention
from auditlog.indexer.setup import install_templates
from auditlog.indexer.tiers import TierTable

NOW = datetime(2026, 11, 26, 10, 15, tzinfo=UTC)

#: (class, age in days, expected to be deleted)
CASES = [
    ("enterprise", 31, True), ("enterprise", 29, False),
    ("business", 8, True), ("business", 6, False),
    ("professional", 4, True), ("professional", 2, False),
]


def _back_date(es: Elasticsearch, tiers: TierTable) -> dict[str, bool]:
    install_templates(es, tiers, ilm=False)
    expect = {tiers.index_for_day(cls, (NOW - timedelta(days=age)).date()): goes for cls, age, goes in CASES}
    # one bulk request creates all six daily indices (one document each) from the templates
    operations: list[dict[str, object]] = []
    for name in expect:
        operations += [{"create": {"_index": name}}, {"@timestamp": f"{name[-10:].replace('.', '-')}T12:00:00Z"}]
    result = es.bulk(operations=operations, refresh=True)
    assert not result["errors"]
    return expect


def _existing(es: Elasticsearch, tiers: TierTable) -> set[str]:
    return set(es.indices.get(index=tiers.read_pattern, expand_wildcards="all"))


def test_enforce_deletes_exactly_the_expired_indices(es: Elasticsearch, namespace: TierTable) -> None:
    """31-day enterprise, 8-day business and 4-day professional indices go; 29/6/2-day ones stay."""
    expect = _back_date(es, namespace)
    deleted = retention.enforce(es, namespace, NOW)
    expected_gone = {name for name, goes in expect.items() if goes}
    assert (expected_gone, set(expect) - expected_gone) == ({i.name for i in deleted}, _existing(es, namespace))


def test_dry_run_lists_but_deletes_nothing(es: Elasticsearch, namespace: TierTable) -> None:
    """--dry-run reports the same three expired indices and every index still exists afterwards."""
    expect = _back_date(es, namespace)
    would = retention.enforce(es, namespace, NOW, dry_run=True)
    expected = ({name for name, goes in expect.items() if goes}, set(expect))
    assert expected == ({i.name for i in would}, _existing(es, namespace))


def test_enforce_leaves_other_namespaces_alone(es: Elasticsearch, namespace: TierTable) -> None:
    """An expired index of another prefix that shares our pattern's start is never touched."""
    _back_date(es, namespace)
    foreign = f"{namespace.prefix}-other-enterprise-2020.01.01"
    es.indices.create(index=foreign)
    retention.enforce(es, namespace, NOW)
    assert es.indices.exists(index=foreign)


def test_status_reports_each_class(es: Elasticsearch, namespace: TierTable) -> None:
    """Status shows per class two indices, the oldest day, doc totals, the overdue count and the enforcer."""
    _back_date(es, namespace)
    statuses = {s.retention_class: s for s in retention.status(es, namespace, NOW)}
    expected = {
        "enterprise": (2, (NOW - timedelta(days=31)).date(), 2, 1, "enforcer"),
        "business": (2, (NOW - timedelta(days=8)).date(), 2, 1, "enforcer"),
        "professional": (2, (NOW - timedelta(days=4)).date(), 2, 1, "enforcer"),
    }
    actual = {cls: (s.indices, s.oldest_day, s.docs, s.overdue, s.managed_by) for cls, s in statuses.items()}
    assert expected == actual
    assert all(s.bytes > 0 for s in statuses.values())


def test_next_deletion_after_enforce_is_the_oldest_kept_index(es: Elasticsearch, namespace: TierTable) -> None:
    """After enforcing, the enterprise class's next deletion is due 30 days after its 29-day-old index's date."""
    _back_date(es, namespace)
    retention.enforce(es, namespace, NOW)
    enterprise = retention.status(es, namespace, NOW)[0]
    expected = datetime.combine((NOW - timedelta(days=29)).date(), datetime.min.time(), UTC) + timedelta(days=30)
    assert (expected, 0) == (enterprise.next_due, enterprise.overdue)


def _make_indices(es: Elasticsearch, names: list[str]) -> None:
    for name in names:
        es.indices.create(index=name)


def test_unusable_names_are_listed_and_never_deleted(es: Elasticsearch, namespace: TierTable) -> None:
    """Year-9999, short-year, pre-1000 and garbage dates are listed as unreadable; the expired index is deleted."""
    install_templates(es, namespace, ilm=False)
    strange = [f"{namespace.prefix}-business-9999.12.31", f"{namespace.prefix}-business-999.12.31",
               f"{namespace.prefix}-business-0999.12.31",
               f"{namespace.prefix}-enterprise-2026.13.45", f"{namespace.prefix}-professional-garbage"]
    expired_one = namespace.index_for_day("business", (NOW - timedelta(days=8)).date())
    _make_indices(es, [*strange, expired_one])
    inventory = retention.scan(es, namespace)
    deleted = retention.enforce(es, namespace, NOW, inventory=inventory)
    expected = (sorted(strange), [expired_one], set(strange))
    assert expected == ([u.name for u in inventory.unreadable], [i.name for i in deleted], _existing(es, namespace))


def test_status_survives_a_year_9999_index(es: Elasticsearch, namespace: TierTable) -> None:
    """Status of a namespace holding audit-business-9999.12.31 counts only the readable business index."""
    install_templates(es, namespace, ilm=False)
    _make_indices(es, [f"{namespace.prefix}-business-9999.12.31",
                       namespace.index_for_day("business", (NOW - timedelta(days=2)).date())])
    business = retention.status(es, namespace, NOW)[1]
    assert (1, (NOW - timedelta(days=2)).date()) == (business.indices, business.oldest_day)


@pytest.mark.parametrize("block", ["index.blocks.read_only", "index.blocks.metadata"])
def test_an_index_whose_block_forbids_deleting_it_stays_and_every_other_expired_one_goes(
    es: Elasticsearch, namespace: TierTable, block: str
) -> None:
    """An expired index with a block that forbids deleting it is kept and listed; the other expired ones are deleted."""
    expect = _back_date(es, namespace)
    held = namespace.index_for_day("business", (NOW - timedelta(days=8)).date())
    es.indices.put_settings(index=held, settings={block: True})
    try:
        inventory = retention.scan(es, namespace)
        deleted = retention.enforce(es, namespace, NOW, inventory=inventory)
    finally:
        es.indices.put_settings(index=held, settings={block: None})
    kept = _existing(es, namespace)  # the metadata block refuses this read too
    gone = {name for name, goes in expect.items() if goes} - {held}
    expected = (gone, set(expect) - gone, [held])
    assert expected == ({i.name for i in deleted}, kept, [b.name for b in inventory.blocked])


def test_more_blocked_indices_than_one_request_line_can_name_are_listed_and_the_rest_enforced(
    es: Elasticsearch, namespace: TierTable
) -> None:
    """With so many blocked indices of long names that leaving them all out of one ``_cat/indices`` URL passes
    Elasticsearch's 4 KiB request line, the scan lists them and counts the others, and the free expired one goes."""
    tiers = TierTable(prefix=f"{namespace.prefix}-{'l' * (190 - len(namespace.prefix))}")  # cleaned with the fixture's
    held = [tiers.index_for_day("business", (NOW - timedelta(days=8 + i)).date()) for i in range(20)]
    free, kept = (tiers.index_for_day("business", (NOW - timedelta(days=age)).date()) for age in (40, 2))
    assert len("".join(f",-{name}" for name in held)) > 4096
    operations: list[dict[str, object]] = []
    for name in [*held, free, kept]:
        operations += [{"create": {"_index": name}}, {"@timestamp": f"{name[-10:].replace('.', '-')}T12:00:00Z"}]
    assert not es.bulk(operations=operations, refresh=True)["errors"]
    es.indices.put_settings(index=",".join(held[:10]), settings={"index.blocks.metadata": True})
    es.indices.put_settings(index=",".join(held[10:]), settings={"index.blocks.read_only": True})
    try:
        inventory = retention.scan(es, tiers)
        deleted = retention.enforce(es, tiers, NOW, inventory=inventory)
    finally:
        es.indices.put_settings(index=",".join(held[:10]), settings={"index.blocks.metadata": None})
        es.indices.put_settings(index=",".join(held[10:]), settings={"index.blocks.read_only": None})
    expected = (sorted(held), {free, kept}, [free], {*held, kept})  # free and kept counted with their document
    assert expected == ([b.name for b in inventory.blocked], {i.name for i in inventory.indices if i.docs},
                        [i.name for i in deleted], _existing(es, tiers))
