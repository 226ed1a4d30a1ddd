"""Tenant key descriptors (pure): what a new key is granted, and which existing keys grant more."""

from __future__ import annotations

import json
from typing import Any

import pytest
from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig
from elasticsearch import ApiError

from auditlog.core.errors import CommandError
from auditlog.indexer.keys import (
    MANAGED_BY,
    TENANT,
    TENANT_PRIVILEGES,
    broader_than_tenant,
    key_scope,
    list_keys,
    narrow_keys,
    not_held,
    tenant_descriptor,
)
from auditlog.indexer.security import READER, WRITER, WRITER_PRIVILEGES, key_role_descriptors
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


_SUPERUSER = {"superuser": {"cluster": ["all"], "indices": [{"names": ["*"], "privileges": ["all"]}]}}


class _Security:
    """The security client of a cluster where updating a key answers ``status`` (200: updated) and every key's maker
    had the roles ``limited_by`` when it made the key (a superuser's by default)."""

    def __init__(self, keys: list[dict[str, Any]], status: int = 200,
                 limited_by: dict[str, Any] | None = None) -> None:
        self.keys, self.status, self.limited_by = keys, status, limited_by or _SUPERUSER
        self.updated: list[tuple[str, str]] = []  # (key id, the tenant its new descriptor's query names)
        self.given: dict[str, dict[str, Any]] = {}  # key id -> the role descriptors it was given

    def query_api_keys(self, **_: Any) -> dict[str, Any]:
        return {"api_keys": self.keys}

    def get_api_key(self, *, id: str, owner: bool, with_limited_by: bool) -> dict[str, Any]:
        """The key with its maker's privileges; another user's key (status not 200) is not seen."""
        return {"api_keys": [{"id": id, "limited_by": [self.limited_by]}] if self.status == 200 and with_limited_by
                and owner else []}

    def update_api_key(self, *, id: str, role_descriptors: dict[str, Any]) -> dict[str, Any]:
        if self.status != 200:
            meta = ApiResponseMeta(status=self.status, http_version="1.1", headers=HttpHeaders(), duration=0.0,
                                   node=NodeConfig("http", "localhost", 9200))
            raise ApiError("resource_not_found_exception", meta,
                           {"error": {"type": "resource_not_found_exception", "reason": f"no API key\nwith id {id}"}})
        self.given[id] = role_descriptors
        (descriptor,) = role_descriptors.values()
        if "query" in descriptor["indices"][0]:  # a tenant key's; a writer or reader key's has none
            self.updated.append((id, descriptor["indices"][0]["query"]["term"]["organization.id"]))
        return {"updated": True}


class _Client:
    def __init__(self, security: _Security) -> None:
        self.security = security


def _stored(key_id: str, tenant: str | None, *, query: object = "same",
            expiration: int | None = None) -> dict[str, Any]:
    """A tenant key as the cluster lists it, made with the former descriptor; its query as a JSON string."""
    meta = {"managed_by": "auditlog", "role": "tenant", "namespace": "audit"} | ({"tenant": tenant} if tenant else {})
    descriptors = _descriptors("read", "view_index_metadata")
    term = {"term": {"organization.id": tenant if query == "same" else query}}
    descriptors["audit-tenant"]["indices"][0]["query"] = json.dumps(term)
    return {"id": key_id, "name": key_id, "creation": 0, "metadata": meta, "role_descriptors": descriptors} | (
        {"expiration": expiration} if expiration is not None else {})


def _narrowed(*stored: dict[str, Any], status: int = 200) -> tuple[list[tuple[str, str | None]], list[tuple[str, str]]]:
    """(id, problem) per result of narrowing ``stored``, and the (id, tenant) updates the cluster received."""
    security = _Security(list(stored), status)
    done = narrow_keys(_Client(security), TierTable())  # type: ignore[arg-type]
    return [(d.id, d.problem) for d in done], security.updated


def test_narrowing_a_key_of_another_user_says_who_may_change_it() -> None:
    """A key Elasticsearch does not let this user update is reported in one line naming who may, not raised."""
    ((key_id, problem),), _ = _narrowed(_stored("k1", "org-1"), status=404)
    assert problem is not None and "\n" not in problem
    assert ("k1", True) == (key_id, "only the user who made a key" in problem)


def test_the_narrowed_descriptor_reads_the_keys_own_tenant() -> None:
    """The descriptor a key gets in place names the tenant its query and metadata named."""
    assert ([("k1", None)], [("k1", "org-1")]) == _narrowed(_stored("k1", "org-1"))


@pytest.mark.parametrize(("stored", "reads"), [
    (_stored("k1", "org-1", query="org-2"), "org-2"),
    (_stored("k1", None, query="org-2"), "org-2"),
    (_stored("k1", "org-1", query={"prefix": "org"}), "every tenant"),
], ids=["query-names-another-tenant", "metadata-names-none", "no-term-query"])
def test_a_key_whose_query_and_metadata_disagree_is_not_narrowed(stored: dict[str, Any], reads: str) -> None:
    """Narrowing never moves a key to another tenant: a key whose query and metadata differ is only reported."""
    ((key_id, problem),), updated = _narrowed(stored)
    assert ("k1", True, []) == (key_id, problem is not None and f"its role reads {reads} but" in problem, updated)


def test_a_key_whose_metadata_names_no_text_tenant_is_reported_and_the_rest_narrowed() -> None:
    """A key anyone may make with ``"tenant": {"x": 1}`` in its metadata is reported; the keys after it are narrowed."""
    hostile = _stored("k0", "org-1")
    hostile["metadata"]["tenant"] = {"x": 1}
    results, updated = _narrowed(hostile, _stored("k1", "org-1"))
    assert (results[1:], updated, results[0][1] is not None) == ([("k1", None)], [("k1", "org-1")], True)


def test_an_expired_key_is_neither_broader_nor_narrowed() -> None:
    """Elasticsearch updates no expired key, so `keys list` does not ask for it and `keys narrow` skips it."""
    assert ([], []) == _narrowed(_stored("k1", "org-1", expiration=1))


def test_a_query_given_as_an_object_is_read_too() -> None:
    """A descriptor whose query comes back as an object, not a JSON string, names its tenant the same way."""
    stored = _stored("k1", "org-1")
    indices = stored["role_descriptors"]["audit-tenant"]["indices"][0]
    indices["query"] = {"term": {"organization.id": {"value": "org-1"}}}
    assert ([("k1", None)], [("k1", "org-1")]) == _narrowed(stored)


class _KeyOf:
    """A client whose API key is a tenant key of ``namespace`` (only what key_scope asks)."""

    def __init__(self, namespace: str) -> None:
        self.security = self
        self.namespace = namespace

    def authenticate(self) -> dict[str, object]:
        return {"authentication_type": "api_key", "api_key": {"id": "k1"}}

    def get_api_key(self, *, id: str) -> dict[str, object]:
        meta = {"managed_by": MANAGED_BY, "role": TENANT, "tenant": "org-1", "namespace": self.namespace}
        return {"api_keys": [{"id": id, "metadata": meta}]}


def test_a_tenant_key_of_a_namespace_this_version_refuses_is_one_line_naming_it() -> None:
    """A key an earlier version made for 'acme-business' (now refused: 'acme''s patterns cover it) says so."""
    with pytest.raises(CommandError, match="tenant key's namespace cannot be used: index prefix must not have"):
        key_scope(_KeyOf("acme-business"))  # type: ignore[arg-type]


# Writer and reader keys `auditlog setup --api-keys` made with an earlier role version (indexer/security.py)

_TIERS = TierTable()
_CLASSES = ["audit-enterprise-*", "audit-business-*", "audit-professional-*"]
_DIGEST_CLASSES = ["audit.digest-enterprise-*", "audit.digest-business-*", "audit.digest-professional-*"]
#: the writer's descriptor of each earlier role version (names, privileges)
_WRITER_V1 = (["audit-*"], ["create_doc", "create_index", "auto_configure"])
_WRITER_V2 = (["audit-*", "audit.digest-*"], ["create_doc", "create_index", "auto_configure"])
_WRITER_V3 = ([*_CLASSES, *_DIGEST_CLASSES], ["create_doc", "auto_configure"])
_WRITER_V4 = ([*_CLASSES, *_DIGEST_CLASSES], list(WRITER_PRIVILEGES))


def _role_key(key_id: str, role: str, names: list[str] | None = None, privileges: list[str] | None = None,
              **extra: object) -> dict[str, Any]:
    """A writer or reader key as the cluster lists it: today's descriptor, or ``names`` and ``privileges``."""
    descriptors = key_role_descriptors(_TIERS, role)
    (descriptor,) = descriptors.values()
    descriptor = json.loads(json.dumps(descriptor)) | extra
    if names is not None:
        descriptor["indices"] = [{"names": names, "privileges": privileges, "allow_restricted_indices": False}]
    meta = {"managed_by": "auditlog", "role": role, "namespace": "audit"}
    return {"id": key_id, "name": key_id, "creation": 0, "metadata": meta,
            "role_descriptors": {f"audit-{role}": descriptor}}


def _broader(*stored: dict[str, Any]) -> list[bool]:
    return [key.broader for key in list_keys(_Client(_Security(list(stored))), _TIERS)]  # type: ignore[arg-type]


def test_writer_and_reader_keys_made_now_are_not_broader() -> None:
    """The writer and reader keys `setup --api-keys` makes now are listed as no broader than themselves."""
    assert [False, False] == _broader(_role_key("w", WRITER), _role_key("r", READER))


@pytest.mark.parametrize("version", [_WRITER_V1, _WRITER_V2, _WRITER_V3, _WRITER_V4], ids=["v1", "v2", "v3", "v4"])
def test_a_writer_key_of_an_earlier_version_is_broader(version: tuple[list[str], list[str]]) -> None:
    """A writer key made before version 5 (class patterns or ``audit-*``, ``create_doc``) is listed broader."""
    assert [True] == _broader(_role_key("w", WRITER, *version))


def test_a_reader_key_made_before_version_3_is_broader() -> None:
    """A reader key holding ``audit-*`` and ``audit.digest-*`` (every namespace starting ``audit-``) is broader."""
    assert [True] == _broader(_role_key("r", READER, ["audit-*", "audit.digest-*"], ["read", "view_index_metadata"]))


def test_a_writer_key_that_may_run_as_another_user_is_broader() -> None:
    """A writer key with today's index grants and a run-as grant is broader (it is more than a writer)."""
    assert [True] == _broader(_role_key("w", WRITER, run_as=["elastic"]))


def test_a_writer_key_with_a_configurable_cluster_privilege_is_broader() -> None:
    """A writer key with today's index grants and a ``global`` grant (application privileges) is broader."""
    key = _role_key("w", WRITER)
    key["role_descriptors"]["audit-writer"]["global"] = {"application": {"manage": {"applications": ["*"]}}}
    assert [True] == _broader(key)


def _narrow_roles(*stored: dict[str, Any], status: int = 200) -> tuple[list[tuple[str, str | None]], dict[str, Any]]:
    """(id, problem) per result of narrowing ``stored``, and the descriptors each updated key was given."""
    security = _Security(list(stored), status)
    done = narrow_keys(_Client(security), _TIERS)  # type: ignore[arg-type]
    return [(d.id, d.problem) for d in done], security.given


@pytest.mark.parametrize("version", [_WRITER_V2, _WRITER_V3, _WRITER_V4], ids=["v2", "v3", "v4"])
def test_a_writer_key_of_an_earlier_version_gets_todays_writer_descriptor(version: tuple[list[str], list[str]]) -> None:
    """Narrowing a writer key made before version 5 gives it exactly the descriptor a new writer key embeds."""
    assert ([("w", None)], {"w": key_role_descriptors(_TIERS, WRITER)}) == _narrow_roles(
        _role_key("w", WRITER, *version))


def test_a_reader_key_made_before_version_3_gets_todays_reader_descriptor() -> None:
    """Narrowing a reader key holding ``audit-*`` and ``audit.digest-*`` gives it today's class patterns."""
    stored = _role_key("r", READER, ["audit-*", "audit.digest-*"], ["read", "view_index_metadata"])
    assert ([("r", None)], {"r": key_role_descriptors(_TIERS, READER)}) == _narrow_roles(stored)


def test_a_writer_key_without_the_digest_indices_is_reported_not_widened() -> None:
    """A writer key of version 1 (``audit-*`` only, no digest index) is reported in one line and not updated:
    today's descriptor would add the digest indices."""
    ((key_id, problem),), given = _narrow_roles(_role_key("w", WRITER, *_WRITER_V1))
    assert ("w", {}, True) == (key_id, given, problem is not None and "would widen" in problem and "\n" not in problem)


def test_a_writer_key_whose_entry_is_restricted_by_a_query_is_reported_not_widened() -> None:
    """A writer key whose class patterns come with a document query holds less than today's unrestricted names:
    it is reported, not updated."""
    stored = _role_key("w", WRITER, *_WRITER_V4)
    stored["role_descriptors"]["audit-writer"]["indices"][0]["query"] = '{"term": {"organization.id": "org-1"}}'
    ((key_id, problem),), given = _narrow_roles(stored)
    assert ("w", {}, True) == (key_id, given, problem is not None and "would widen" in problem)


def test_a_key_whose_role_holds_a_workflow_restriction_is_reported_not_lifted() -> None:
    """A key whose descriptor restricts the workflows it serves is reported, not updated: today's descriptor has no
    restriction, and the update replaces the descriptors whole."""
    stored = _role_key("w", WRITER, *_WRITER_V4)
    stored["role_descriptors"]["audit-writer"]["restriction"] = {"workflows": ["search_application_query"]}
    tenant = _stored("k1", "org-1")
    tenant["role_descriptors"]["audit-tenant"]["restriction"] = {"workflows": ["search_application_query"]}
    ((key_id, problem),), given = _narrow_roles(stored)
    ((tenant_id, tenant_problem),), updated = _narrowed(tenant)
    assert ("w", {}, True, "k1", [], True) == (
        key_id, given, problem is not None and "restriction" in problem, tenant_id, updated,
        tenant_problem is not None and "restriction" in tenant_problem)


def test_narrowing_a_writer_key_of_another_user_says_who_may_change_it() -> None:
    """A writer key Elasticsearch does not let this user update is reported in one line naming who may."""
    ((key_id, problem),), _ = _narrow_roles(_role_key("w", WRITER, *_WRITER_V4), status=404)
    assert ("w", True, False) == (key_id, problem is not None and "only the user who made a key" in problem,
                                  "\n" in (problem or ""))


# A tenant key's maker (``limited_by``): the update takes the maker's privileges of today, so the snapshot taken
# when the key was made must have held all a new tenant key grants (indexer/keys.py, not_held and _maker_lacks)


def _maker(*privileges: str, names: tuple[str, ...] = ("audit-enterprise-*",), **restriction: object) -> dict[str, Any]:
    """A maker's role as ``limited_by`` lists it: ``privileges`` on ``names``, maybe with a ``query`` or
    ``field_security``."""
    return {"maker": {"cluster": ["manage_own_api_key"],
                      "indices": [{"names": list(names), "privileges": list(privileges or ("read",))} | restriction]}}


def _own_query(tenant: str = "org-1") -> str:
    """A tenant's document-level query as Elasticsearch lists it: JSON text."""
    return json.dumps({"term": {"organization.id": tenant}})


def test_a_maker_who_could_read_every_index_held_a_tenant_key() -> None:
    """A superuser's snapshot holds all a new tenant key grants."""
    assert not_held(_SUPERUSER, _TIERS, TENANT, "org-1") is None


def test_a_maker_who_could_read_the_enterprise_class_held_a_tenant_key() -> None:
    """``read`` on ``audit-enterprise-*`` holds search and both point-in-time actions."""
    assert not_held(_maker("read"), _TIERS, TENANT, "org-1") is None


def test_a_maker_who_could_read_only_another_tenants_events_did_not_hold_a_tenant_key() -> None:
    """A snapshot restricted by another tenant's query lacks the key's tenant's events, named in the answer."""
    expected = "indices:data/read/search on org-1's events in audit-enterprise-*"
    assert expected == not_held(_maker(query=_own_query("org-2")), _TIERS, TENANT, "org-1")


def test_a_maker_restricted_to_the_keys_own_tenant_held_a_tenant_key() -> None:
    """A snapshot restricted by exactly the key's own tenant query granted all the key will ever read: it holds."""
    assert not_held(_maker(query=_own_query()), _TIERS, TENANT, "org-1") is None


def test_the_keys_own_tenant_query_as_an_object_with_value_holds_too() -> None:
    """The own tenant query given as an object in the ``value`` form holds as its JSON text does."""
    query = {"term": {"organization.id": {"value": "org-1"}}}
    assert not_held(_maker(query=query), _TIERS, TENANT, "org-1") is None


def test_a_maker_restricted_by_another_query_naming_the_tenant_did_not_hold_a_tenant_key() -> None:
    """A query other than the key's own ``term`` (a ``bool`` that also names the tenant) may hide events: no hold."""
    query = {"bool": {"filter": [{"term": {"organization.id": "org-1"}}, {"term": {"audit.source": "x"}}]}}
    assert not_held(_maker(query=query), _TIERS, TENANT, "org-1") is not None


def test_a_maker_with_field_level_security_did_not_hold_a_tenant_key() -> None:
    """A snapshot with a field restriction lacks fields a new key reads, even with the key's own tenant query."""
    restricted = _maker(query=_own_query(), field_security={"grant": ["@timestamp"]})
    assert not_held(restricted, _TIERS, TENANT, "org-1") is not None


def test_a_maker_who_could_read_another_class_only_did_not_hold_a_tenant_key() -> None:
    """A snapshot reading ``audit-business-*`` only lacks the enterprise class."""
    assert not_held(_maker(names=("audit-business-*",)), _TIERS, TENANT, "org-1") is not None


def test_a_maker_who_could_search_but_not_open_a_point_in_time_did_not_hold_a_tenant_key() -> None:
    """A snapshot with the search action only lacks opening a point in time, named in the answer."""
    expected = "indices:data/read/open_point_in_time on org-1's events in audit-enterprise-*"
    assert expected == not_held(_maker("indices:data/read/search"), _TIERS, TENANT, "org-1")


def test_a_tenant_key_whose_maker_read_another_tenants_events_is_reported_not_widened() -> None:
    """`keys narrow` reports a tenant key made by a user who read only another tenant's events, in one line, and
    does not update it."""
    security = _Security([_stored("k1", "org-1")], limited_by=_maker(query=_own_query("org-2")))
    (done,) = narrow_keys(_Client(security), _TIERS)  # type: ignore[arg-type]
    problem = done.problem or ""
    assert ({}, True, False) == (security.given, problem.startswith("its maker could not grant"), "\n" in problem)


def test_a_tenant_key_whose_own_role_lacks_a_point_in_time_is_reported_not_widened() -> None:
    """A broader tenant key whose own descriptor holds search and get but not opening a point in time is reported:
    the new descriptor would add it."""
    stored = _stored("k1", "org-1")
    stored["role_descriptors"]["audit-tenant"]["indices"][0]["privileges"] = ["indices:data/read/search",
                                                                              "indices:data/read/get"]
    ((key_id, problem),), updated = _narrowed(stored)
    assert ("k1", [], True) == (key_id, updated, problem is not None and "its role lacks indices:data/read/open_p"
                                in problem)
