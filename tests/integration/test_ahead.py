"""Daily indices created ahead on the real node: `auditlog setup` and `retention enforce` leave no midnight stall."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from elasticsearch import Elasticsearch

from auditlog.cli import main
from auditlog.indexer import ahead
from auditlog.indexer.setup import install_templates
from auditlog.indexer.tiers import RETENTION_DAYS, TierTable

NOW = datetime(2026, 11, 26, 23, 59, tzinfo=UTC)


def _days(tiers: TierTable, now: datetime) -> set[str]:
    return {tiers.index_for_day(cls, (now + timedelta(days=n)).date()) for cls in RETENTION_DAYS for n in (0, 1)}


def _existing(es: Elasticsearch, tiers: TierTable) -> set[str]:
    return set(es.indices.get(index=tiers.read_pattern, expand_wildcards="all"))


def test_setup_creates_today_and_tomorrow_for_every_class(
    es: Elasticsearch, es_url: str, namespace: TierTable, capsys: pytest.CaptureFixture[str]
) -> None:
    """After `auditlog setup` the current and the next UTC day's index of each class exist."""
    before = datetime.now(UTC)
    code = main(["setup", "--es", es_url, "--prefix", namespace.prefix])
    after = datetime.now(UTC)
    capsys.readouterr()
    assert (0, _days(namespace, before) | _days(namespace, after)) == (code, _existing(es, namespace))


def test_indices_made_ahead_carry_the_templates(es: Elasticsearch, namespace: TierTable) -> None:
    """An index created ahead has the audit mappings (dynamic false, @timestamp a date) from its template."""
    install_templates(es, namespace, ilm=False)
    ahead.create_ahead(es, namespace, NOW)
    name = namespace.index_for_day("enterprise", (NOW + timedelta(days=1)).date())
    mapping = es.indices.get_mapping(index=name)[name]["mappings"]
    assert ("false", "date") == (str(mapping["dynamic"]).lower(), mapping["properties"]["@timestamp"]["type"])


def test_create_ahead_is_idempotent(es: Elasticsearch, namespace: TierTable) -> None:
    """The second run finds every index existing and creates nothing."""
    install_templates(es, namespace, ilm=False)
    first = ahead.create_ahead(es, namespace, NOW)
    second = ahead.create_ahead(es, namespace, NOW)
    expected = ([ahead.CREATED] * 6, [ahead.EXISTS] * 6)
    assert expected == ([i.outcome for i in first], [i.outcome for i in second])


def test_no_index_without_its_template(es: Elasticsearch, namespace: TierTable) -> None:
    """Without templates nothing is created (an index must never lack the audit mappings)."""
    made = ahead.create_ahead(es, namespace, NOW)
    expected: tuple[set[str], set[str]] = ({ahead.NO_TEMPLATE}, set())
    assert expected == ({i.outcome for i in made}, _existing(es, namespace))


def test_enforce_creates_the_next_day_ahead(
    es: Elasticsearch, es_url: str, namespace: TierTable, capsys: pytest.CaptureFixture[str]
) -> None:
    """`auditlog retention enforce` (the periodic admin job) creates today's and tomorrow's indices."""
    install_templates(es, namespace, ilm=False)
    code = main(["retention", "enforce", "--es", es_url, "--prefix", namespace.prefix, "--now", NOW.isoformat()])
    out = capsys.readouterr().out
    expected = (0, _days(namespace, NOW), 6)
    assert expected == (code, _existing(es, namespace), out.count("created ahead"))


def _foreign_template(es: Elasticsearch, tiers: TierTable, cls: str) -> str:
    """Someone else's index template over one class's daily names, at a priority above ours; its name."""
    name = f"{tiers.prefix}-zz-foreign"  # the namespace fixture deletes it afterwards
    es.indices.put_index_template(name=name, index_patterns=[tiers.class_pattern(cls)], priority=500,
                                  template={"settings": {"number_of_shards": 1}})
    return name


def test_no_index_is_made_ahead_through_a_template_that_overrides_ours(es: Elasticsearch, namespace: TierTable) -> None:
    """A class whose names another template of a higher priority would shape gets no index ahead; the others do."""
    install_templates(es, namespace, ilm=False)
    _foreign_template(es, namespace, "professional")
    made = ahead.create_ahead(es, namespace, NOW)
    created = {i.name for i in made if i.outcome == ahead.CREATED}
    expected = (_days(namespace, NOW) - _professional(namespace), _days(namespace, NOW) - _professional(namespace))
    assert expected == (created, _existing(es, namespace))


def _professional(tiers: TierTable) -> set[str]:
    return {name for name in _days(tiers, NOW) if name.startswith(f"{tiers.prefix}-professional-")}


def test_enforce_names_the_overriding_template_and_exits_1(
    es: Elasticsearch, es_url: str, namespace: TierTable, capsys: pytest.CaptureFixture[str]
) -> None:
    """`retention enforce` says in one warning per day's index which template overrides ours, and exits 1."""
    install_templates(es, namespace, ilm=False)
    foreign = _foreign_template(es, namespace, "professional")
    code = main(["retention", "enforce", "--es", es_url, "--prefix", namespace.prefix, "--now", NOW.isoformat()])
    err = capsys.readouterr().err
    warned = sorted(line.split()[3] for line in err.splitlines()
                    if line.startswith("warning: daily index ") and foreign in line)
    assert (1, sorted(_professional(namespace))) == (code, warned)


def _alias_of_another_index(es: Elasticsearch, name: str, tiers: TierTable) -> None:
    es.indices.create(index=f"{tiers.prefix}-zz-other", aliases={name: {"is_write_index": True}})


def _closed(es: Elasticsearch, name: str, tiers: TierTable) -> None:
    es.indices.create(index=name)
    es.indices.close(index=name)


def _write_blocked(es: Elasticsearch, name: str, tiers: TierTable) -> None:
    es.indices.create(index=name)
    es.indices.put_settings(index=name, settings={"index.blocks.write": True})


@pytest.mark.parametrize(("stage", "said"), [(_alias_of_another_index, "alias"), (_closed, "closed"),
                                             (_write_blocked, "index.blocks.write")])
def test_a_name_taken_by_what_agents_cannot_write_into_is_refused_naming_it(
    es: Elasticsearch, namespace: TierTable, stage: Callable[[Elasticsearch, str, TierTable], None], said: str
) -> None:
    """Tomorrow's name held by an alias, a closed index or a write-blocked index is refused in one line saying so."""
    install_templates(es, namespace, ilm=False)
    name = namespace.index_for_day("business", (NOW + timedelta(days=1)).date())
    stage(es, name, namespace)
    made = {i.name: i for i in ahead.create_ahead(es, namespace, NOW)}
    expected = (ahead.REFUSED, True, 1)
    assert expected == (made[name].outcome, said in made[name].detail, len(made[name].detail.splitlines()))


def test_setup_names_a_day_taken_by_an_alias_and_exits_1(
    es: Elasticsearch, es_url: str, namespace: TierTable, capsys: pytest.CaptureFixture[str]
) -> None:
    """`auditlog setup` says in one warning that today's business name is an alias of another index, and exits 1."""
    name = namespace.index_for_day("business", datetime.now(UTC).date())
    _alias_of_another_index(es, name, namespace)
    code = main(["setup", "--es", es_url, "--prefix", namespace.prefix])
    warned = [line for line in capsys.readouterr().err.splitlines() if name in line]
    assert (1, 1, True) == (code, len(warned), f"{namespace.prefix}-zz-other" in "".join(warned))
