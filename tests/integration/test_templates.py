"""Templates on the real node: daily indices of every class get the contract mapping and settings."""

from __future__ import annotations

from datetime import UTC, datetime

from elasticsearch import Elasticsearch

from auditlog.indexer.setup import install_templates
from auditlog.indexer.templates import TEMPLATE_VERSION
from auditlog.indexer.tiers import RETENTION_DAYS, TierTable

WHEN = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


def _event(**extra: object) -> dict[str, object]:
    event: dict[str, object] = {
        "@timestamp": "2026-11-20T09:30:00Z",
        "event": {"id": "e1", "action": "update", "outcome": "success"},
        "audit": {"source": "appointments", "tier": "enterprise", "changed_fields": ["start", "status"],
                  "changes": {"status": {"old": "booked", "new": "cancelled"}, "start": {"old": 1, "new": 2}}},
        "organization": {"id": "org-1", "name": "Praxis Muster"},
        "user": {"id": "w-7", "name": "Anna Muster", "email": "anna@example.com", "roles": ["admin"]},
        "source": {"ip": "192.0.2.10"},
        "url": {"full": "https://app.example.com/appointments/42"},
        "message": "Appointment 42 cancelled",
    }
    event.update(extra)
    return event


def test_every_class_index_gets_the_contract_mapping(es: Elasticsearch, namespace: TierTable) -> None:
    """A new daily index of each retention class is created with dynamic=false and the keyword/ip/date fields."""
    install_templates(es, namespace)
    for cls in RETENTION_DAYS:
        index = namespace.index_for_day(cls, WHEN.date())
        es.indices.create(index=index)
        mapping = es.indices.get_mapping(index=index)[index]["mappings"]
        props = mapping["properties"]
        expected = ("false", "date", "keyword", "ip", "flattened", "text")
        assert expected == (
            str(mapping["dynamic"]).lower(),
            props["@timestamp"]["type"],
            props["organization"]["properties"]["id"]["type"],
            props["source"]["properties"]["ip"]["type"],
            props["audit"]["properties"]["changes"]["type"],
            props["message"]["type"],
        )


def test_filters_and_raw_changes_work_on_an_indexed_event(es: Elasticsearch, namespace: TierTable) -> None:
    """Keyword filters, changed_fields and a leaf of audit.changes all find the event; _source keeps Raw as sent."""
    install_templates(es, namespace)
    index = namespace.index_for("enterprise", WHEN)
    es.index(index=index, id="e1", document=_event(), refresh=True)
    queries = [
        {"term": {"organization.id": "org-1"}},
        {"term": {"audit.changed_fields": "status"}},
        {"term": {"audit.changes.status.new": "cancelled"}},
        {"term": {"source.ip": "192.0.2.0/24"}},
        {"match": {"message": "cancelled"}},
        {"match": {"user.name.text": "anna"}},
    ]
    counts = [es.count(index=namespace.read_pattern, query=q)["count"] for q in queries]
    expected = [1] * len(queries)
    assert expected == counts
    source = es.get(index=index, id="e1")["_source"]
    expected_raw = {"status": {"old": "booked", "new": "cancelled"}, "start": {"old": 1, "new": 2}}
    assert expected_raw == source["audit"]["changes"]


def test_unknown_and_malformed_fields_never_reject_an_event(es: Elasticsearch, namespace: TierTable) -> None:
    """Extra fields, a bad IP and a huge changed value are kept in _source and the event is indexed."""
    install_templates(es, namespace)
    index = namespace.index_for("basic", WHEN)
    huge = "x" * 40_000  # beyond Lucene's 32k term limit: ignore_above must keep it out of the index
    event = _event(extra_field={"anything": [1, "two"]}, source={"ip": "not-an-ip"},
                   audit={"source": "settings", "tier": "basic", "changes": {"notes": {"old": "", "new": huge}}})
    es.index(index=index, id="e2", document=event, refresh=True)
    source = es.get(index=index, id="e2")["_source"]
    assert ("not-an-ip", huge, {"anything": [1, "two"]}) == (
        source["source"]["ip"], source["audit"]["changes"]["notes"]["new"], source["extra_field"])
    mapping = es.indices.get_mapping(index=index)[index]["mappings"]["properties"]
    assert "extra_field" not in mapping


def test_templates_carry_the_version(es: Elasticsearch, namespace: TierTable) -> None:
    """Every installed component and index template reports TEMPLATE_VERSION."""
    install_templates(es, namespace)
    components = es.cluster.get_component_template(name=f"{namespace.prefix}-*")["component_templates"]
    indexes = es.indices.get_index_template(name=f"{namespace.prefix}-*")["index_templates"]
    versions = [c["component_template"]["version"] for c in components] + [
        i["index_template"]["version"] for i in indexes]
    expected = [TEMPLATE_VERSION] * 5
    assert expected == versions


def test_query_without_fields_searches_the_default_fields(es: Elasticsearch, namespace: TierTable) -> None:
    """A query_string without field names finds the event by tenant name, worker email and changed field."""
    install_templates(es, namespace)
    es.index(index=namespace.index_for("enterprise", WHEN), id="e1", document=_event(), refresh=True)
    counts = [es.count(index=namespace.read_pattern, q=text)["count"] for text in ("Muster", "anna@example.com",
                                                                                  "status")]
    expected = [1, 1, 1]
    assert expected == counts
