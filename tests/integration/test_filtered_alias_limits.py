"""Why tenant keys need document-level security: a filtered alias is no security boundary.

On a cluster without a licence for document-level security, the obvious substitute is a filtered
alias per tenant. Elasticsearch applies the alias's filter to searches, but a get by id through the
alias returns any document of the index, whoever it belongs to; so auditlog never hands a customer
an alias instead of a tenant key (docs/elastic-admin.md).
"""

from __future__ import annotations

from elasticsearch import Elasticsearch

from auditlog.indexer.tiers import TierTable


def _tenant_alias(es: Elasticsearch, namespace: TierTable) -> str:
    index = f"{namespace.prefix}-enterprise-2026.11.20"
    es.indices.create(index=index, mappings={"properties": {"organization": {"properties": {
        "id": {"type": "keyword"}}}}})
    for doc_id, tenant in (("a1", "org-a"), ("b1", "org-b")):
        es.index(index=index, id=doc_id, document={"organization": {"id": tenant}})
    es.indices.refresh(index=index)
    alias = f"{namespace.prefix}-tenant-org-a"
    es.indices.put_alias(index=index, name=alias, filter={"term": {"organization.id": "org-a"}})
    return alias


def test_filtered_alias_hides_other_tenants_from_search(es: Elasticsearch, namespace: TierTable) -> None:
    """A search through a tenant's filtered alias returns only that tenant's documents."""
    alias = _tenant_alias(es, namespace)
    hits = es.search(index=alias, query={"match_all": {}})["hits"]["hits"]
    assert ["a1"] == [hit["_id"] for hit in hits]


def test_get_by_id_escapes_the_filtered_alias(es: Elasticsearch, namespace: TierTable) -> None:
    """A get by id through the same alias returns another tenant's document: the filter does not apply."""
    alias = _tenant_alias(es, namespace)
    found = es.get(index=alias, id="b1")
    expected = (True, "org-b")
    assert expected == (found["found"], found["_source"]["organization"]["id"])
