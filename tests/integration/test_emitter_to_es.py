"""Emitter -> Elasticsearch: lines written by the real emitter index under the real templates and read back equal."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from elasticsearch import Elasticsearch, helpers

from auditlog.agent.contract import parse_timestamp
from auditlog.agent.emitter import audit_context, configure, get_audit_logger, shutdown
from auditlog.agent.redact import REDACTED
from auditlog.indexer.setup import install_templates
from auditlog.indexer.tiers import TierTable

TENANTS = [("org-e1", "enterprise"), ("org-b1", "business"), ("org-p1", "basic")]


@pytest.fixture
def emitted(tmp_path: Path) -> Iterator[list[dict[str, Any]]]:
    """Write 60 events (three tenants, all verbs, changes with a secret, an IPv6 client) and return the lines."""
    path = tmp_path / "audit.jsonl"
    configure(path=path, strict=True)
    audit = get_audit_logger(source="appointments")
    start = datetime.now(UTC) - timedelta(hours=1)
    for i in range(60):
        tenant, tier = TENANTS[i % 3]
        with audit_context(tenant=tenant, tier=tier, worker_id=f"w-{i % 5}", worker_name=f"Worker {i % 5}"):
            when = start + timedelta(seconds=i)
            if i % 4 == 0:
                audit.auth("signed in", source="login", outcome="success", ip="2a00:1128::15", timestamp=when)
            elif i % 4 == 1:
                audit.create(f"booked {i}", changes={"start": (None, "10:00")}, timestamp=when)
            elif i % 4 == 2:
                changes = {"start": ("10:00", "11:00"), "api_token": ("a", "b")}
                audit.update(f"moved {i}", changes=changes, timestamp=when)
            else:
                audit.delete(f"cancelled {i}", changes={"start": ("11:00", None)}, timestamp=when, url="https://x/a")
    shutdown()
    yield [orjson.loads(line) for line in path.read_bytes().splitlines()]


def _index(es: Elasticsearch, tiers: TierTable, events: list[dict[str, Any]]) -> None:
    actions = (
        {
            "_op_type": "create",
            "_index": tiers.index_for(e["audit"]["tier"], parse_timestamp(e["@timestamp"])),
            "_id": e["event"]["id"],
            "_source": e,
        }
        for e in events
    )
    ok, errors = helpers.bulk(es, actions, refresh="wait_for", raise_on_error=False)
    assert (ok, errors) == (len(events), [])


def test_emitted_lines_index_and_read_back_equal(
    es: Elasticsearch, namespace: TierTable, emitted: list[dict[str, Any]]
) -> None:
    """Every emitted line is accepted by the real templates and comes back unchanged by its event.id."""
    install_templates(es, namespace)
    _index(es, namespace, emitted)
    found = es.search(index=namespace.read_pattern, size=100, query={"match_all": {}})
    by_id = {hit["_id"]: hit["_source"] for hit in found["hits"]["hits"]}
    assert by_id == {e["event"]["id"]: e for e in emitted}


def test_emitted_fields_are_searchable(es: Elasticsearch, namespace: TierTable, emitted: list[dict[str, Any]]) -> None:
    """Tenant, ECS category, changed fields and the IPv6 client address are queryable as mapped fields."""
    install_templates(es, namespace)
    _index(es, namespace, emitted)
    query = {
        "bool": {
            "filter": [
                {"term": {"organization.id": "org-e1"}},
                {"term": {"event.category": "authentication"}},
                {"term": {"source.ip": "2a00:1128::15"}},
            ]
        }
    }
    count = es.count(index=namespace.read_pattern, query=query)["count"]
    expected = sum(
        1 for e in emitted if e["organization"]["id"] == "org-e1" and e["event"]["action"] == "auth"
    )
    changed = es.count(index=namespace.read_pattern, query={"term": {"audit.changed_fields": "api_token"}})["count"]
    assert (count, changed) == (expected, 15)


def test_secrets_never_reach_elasticsearch(
    es: Elasticsearch, namespace: TierTable, emitted: list[dict[str, Any]]
) -> None:
    """The redacted token is stored as the placeholder in every document that changed it."""
    install_templates(es, namespace)
    _index(es, namespace, emitted)
    hits = es.search(index=namespace.read_pattern, size=100, query={"term": {"audit.changed_fields": "api_token"}})
    tokens = {str(h["_source"]["audit"]["changes"]["api_token"]) for h in hits["hits"]["hits"]}
    assert tokens == {str({"old": REDACTED, "new": REDACTED})}


def test_events_land_in_their_tier_class_index(
    es: Elasticsearch, namespace: TierTable, emitted: list[dict[str, Any]]
) -> None:
    """Each retention class index holds exactly its tiers' events."""
    install_templates(es, namespace)
    _index(es, namespace, emitted)
    classes = ("enterprise", "business", "professional")
    counts = {cls: es.count(index=namespace.class_pattern(cls))["count"] for cls in classes}
    assert counts == {"enterprise": 20, "business": 20, "professional": 20}
