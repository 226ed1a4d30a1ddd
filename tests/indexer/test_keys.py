"""Tenant key descriptors (pure): what a new key is granted, and which existing keys grant more."""

from __future__ import annotations

from typing import Any

import pytest
from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig
from elasticsearch import ApiError

from auditlog.indexer.keys import TENANT_PRIVILEGES, broader_than_tenant, narrow_tenant_keys, tenant_descriptor
from auditlog.indexer.tiers import TierTable


def _descriptors(*privileges: str, cluster: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"audit-tenant": {"cluster": list(cluster), "indices": [{"names": ["audit-enterprise-*"],
                                                                    "privileges": list(privileges)}]}}


def test_new_descriptor_grants_search_and_point_in_time_only() -> None:
    """A new tenant key's descriptor holds exactly TENANT_PRIVILEGES and no cluster privilege."""
    descriptor = tenant_descriptor(TierTable(), "org-1")
    expected: tuple[list[str], list[str], list[str]] = ([], list(TENANT_PRIVILEGES), ["audit-enterprise-*"])
    assert expected == (descriptor["cluster"], descriptor["indices"][0]["privileges"],
                        descriptor["indices"][0]["names"])


def test_a_new_descriptor_is_not_broader() -> None:
    """The descriptor `auditlog keys tenant` makes now is not broader than itself."""
    assert broader_than_tenant({"audit-tenant": tenant_descriptor(TierTable(), "org-1")}) is False


@pytest.mark.parametrize("descriptors", [
    _descriptors("read", "view_index_metadata"),
    _descriptors("indices:data/read/search", "indices:data/read/tv"),
    _descriptors("indices:data/read/search", cluster=("monitor",)),
    {},
], ids=["former-descriptor", "one-more-action", "a-cluster-privilege", "no-descriptor"])
def test_a_key_granting_more_is_broader(descriptors: dict[str, Any]) -> None:
    """A key with the former privileges, one more action, a cluster privilege or no descriptor at all is broader."""
    assert broader_than_tenant(descriptors) is True


@pytest.mark.parametrize("descriptors", [None, [], "read", {"r": "read"}, {"r": {"indices": "read"}}])
def test_an_answer_of_another_shape_is_not_judged(descriptors: object) -> None:
    """Role descriptors that are not Elasticsearch's shape mark nothing (``keys list`` must still answer)."""
    assert broader_than_tenant(descriptors) is False


class _Security:
    """The security client of a cluster where updating a key answers ``status`` (200: updated)."""

    def __init__(self, keys: list[dict[str, Any]], status: int = 200) -> None:
        self.keys, self.status = keys, status
        self.updated: list[str] = []

    def query_api_keys(self, **_: Any) -> dict[str, Any]:
        return {"api_keys": self.keys}

    def update_api_key(self, *, id: str, role_descriptors: dict[str, Any]) -> dict[str, Any]:
        if self.status != 200:
            meta = ApiResponseMeta(status=self.status, http_version="1.1", headers=HttpHeaders(), duration=0.0,
                                   node=NodeConfig("http", "localhost", 9200))
            raise ApiError("resource_not_found_exception", meta,
                           {"error": {"type": "resource_not_found_exception", "reason": f"no API key\nwith id {id}"}})
        self.updated.append(id)
        return {"updated": True}


class _Client:
    def __init__(self, security: _Security) -> None:
        self.security = security


def _stored(key_id: str, tenant: str | None) -> dict[str, Any]:
    meta = {"managed_by": "auditlog", "role": "tenant", "namespace": "audit"} | ({"tenant": tenant} if tenant else {})
    return {"id": key_id, "name": key_id, "creation": 0, "metadata": meta,
            "role_descriptors": _descriptors("read", "view_index_metadata")}


def test_narrowing_a_key_of_another_user_says_who_may_change_it() -> None:
    """A key Elasticsearch does not let this user update is reported in one line naming who may, not raised."""
    security = _Security([_stored("k1", "org-1")], status=404)
    (done,) = narrow_tenant_keys(_Client(security), TierTable())  # type: ignore[arg-type]
    assert done.problem is not None and "\n" not in done.problem
    assert ("k1", "org-1", True) == (done.id, done.tenant, "only the user who made a key" in done.problem)


def test_a_broader_key_without_a_tenant_is_not_narrowed() -> None:
    """A tenant key whose metadata names no tenant gets no descriptor (it would read nobody's or the wrong events)."""
    security = _Security([_stored("k1", None), _stored("k2", "org-2")])
    done = narrow_tenant_keys(_Client(security), TierTable())  # type: ignore[arg-type]
    expected = ([("k1", "its metadata names no tenant: revoke it"), ("k2", None)], ["k2"])
    assert expected == ([(d.id, d.problem) for d in done], security.updated)
