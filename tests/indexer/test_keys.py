"""Tenant key descriptors (pure): what a new key is granted, and which existing keys grant more."""

from __future__ import annotations

from typing import Any

import pytest

from auditlog.indexer.keys import TENANT_PRIVILEGES, broader_than_tenant, tenant_descriptor
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
