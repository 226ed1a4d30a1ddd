"""A hostile customer with a tenant key, against the real secure node: what Elasticsearch refuses, hides and leaks.

Every read path Elasticsearch offers is tried with the key made by `auditlog keys tenant`. Paths the
customer view does not use are refused (403: the key holds search and point in time only); paths it
does use see only the tenant's documents (document-level security). What still leaks is
Elasticsearch's own, through ``_search`` itself: statistics of a shard (a daily index) that count every
tenant's documents. Those tests assert the leak as docs/elastic-admin.md describes it.
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from auditlog.indexer.keys import TENANT_PRIVILEGES
from auditlog.indexer.tiers import TierTable
from tests.support.seed import seeded_namespace
from tests.support.tenant import TENANT, TenantSetup, status_of
from tests.tui.support import seed_events as tui_events

#: The privileges a read-only attacker would want, beyond the customer view's.
_WANTED = ("read", "view_index_metadata", "indices:data/read/get", "indices:data/read/mget",
           "indices:data/read/tv", "indices:data/read/mtv", "indices:data/read/explain",
           "indices:data/read/xpack/termsenum/list", "indices:data/read/field_caps", "indices:data/read/msearch",
           "indices:data/read/scroll", "indices:data/read/esql", "indices:data/read/eql", "indices:data/read/sql",
           "indices:data/read/async_search/submit", "indices:data/read/rank_eval", "indices:admin/validate/query",
           "indices:admin/mappings/get", "indices:monitor/settings/get", "indices:admin/resolve/index",
           "indices:admin/shards/search_shards", "indices:monitor/stats")


def _index_of(setup: TenantSetup, event_id: str) -> str:
    """The daily index holding ``event_id`` (asked with admin credentials)."""
    found = setup.admin.search(index=setup.tiers.read_pattern, query={"ids": {"values": [event_id]}}, source=False)
    return str(found["hits"]["hits"][0]["_index"])


def _other_event(setup: TenantSetup) -> tuple[str, str]:
    """Index and id of another enterprise tenant's event."""
    event_id = sorted(setup.ids_of[setup.other_enterprise()])[0]
    return _index_of(setup, event_id), event_id


def _own_event(setup: TenantSetup) -> tuple[str, str]:
    """Index and id of one of the tenant's own events."""
    event_id = sorted(setup.ids_of[TENANT])[0]
    return _index_of(setup, event_id), event_id


def _enterprise(setup: TenantSetup) -> str:
    return setup.tiers.class_pattern("enterprise")


def _emails(setup: TenantSetup, tenant: str) -> dict[str, int]:
    """Events per ``user.email`` of ``tenant`` in the enterprise class (admin's view)."""
    found = setup.admin.search(index=_enterprise(setup), size=0, query={"term": {"organization.id": tenant}},
                               aggs={"e": {"terms": {"field": "user.email", "size": 1000}}})
    return {b["key"]: b["doc_count"] for b in found["aggregations"]["e"]["buckets"]}


def _exclusive_emails(setup: TenantSetup) -> tuple[str, str]:
    """The tenant's rarest email, and the other enterprise tenant's most frequent one the tenant does not have."""
    mine, theirs = _emails(setup, TENANT), _emails(setup, setup.other_enterprise())
    own = min(sorted(mine), key=lambda e: mine[e])
    other = max(sorted(e for e in theirs if e not in mine), key=lambda e: theirs[e])
    return own, other


# ---- paths the customer view does not use: refused --------------------------------------------------------------


def test_key_holds_only_the_customer_views_privileges(tenant_setup: TenantSetup) -> None:
    """`_has_privileges` with the key: search and point in time on the enterprise class, none of the others."""
    client = tenant_setup.client()
    answer = client.security.has_privileges(index=[{"names": [_enterprise(tenant_setup)],
                                                    "privileges": [*TENANT_PRIVILEGES, *_WANTED]}])
    expected = {**{p: True for p in TENANT_PRIVILEGES}, **{p: False for p in _WANTED}}
    assert expected == answer["index"][_enterprise(tenant_setup)]


def test_term_vectors_of_an_artificial_document_are_refused(tenant_setup: TenantSetup) -> None:
    """Term vectors with term statistics for a made-up document naming another tenant are refused (403)."""
    index, _ = _other_event(tenant_setup)
    other = tenant_setup.other_enterprise()
    assert 403 == status_of(lambda: tenant_setup.client().termvectors(
        index=index, doc={"organization": {"id": other}}, term_statistics=True, field_statistics=True))


_Call = Callable[[Elasticsearch, TenantSetup], object]

_REFUSED: dict[str, tuple[_Call, int]] = {
    "get": (lambda c, s: c.get(index=_other_event(s)[0], id=_other_event(s)[1]), 403),
    "mget": (lambda c, s: c.mget(docs=[{"_index": _own_event(s)[0], "_id": _own_event(s)[1]}]), 403),
    "explain": (lambda c, s: c.explain(index=_own_event(s)[0], id=_own_event(s)[1], query={"match_all": {}}), 403),
    "mtermvectors": (lambda c, s: c.mtermvectors(index=_own_event(s)[0], ids=[_own_event(s)[1]],
                                                  term_statistics=True), 403),
    "terms_enum": (lambda c, s: c.terms_enum(index=_enterprise(s), field="organization.id"), 403),
    "field_caps": (lambda c, s: c.field_caps(index=_enterprise(s), fields="*"), 403),
    "validate_query": (lambda c, s: c.indices.validate_query(index=_enterprise(s), query={"match_all": {}},
                                                             explain=True), 403),
    "mapping": (lambda c, s: c.indices.get_mapping(index=_enterprise(s)), 403),
    "settings": (lambda c, s: c.indices.get_settings(index=_enterprise(s)), 403),
    "index_stats": (lambda c, s: c.indices.stats(index=_enterprise(s)), 403),
    "resolve_index": (lambda c, s: c.indices.resolve_index(name=_enterprise(s)), 403),
    "search_shards": (lambda c, s: c.search_shards(index=_enterprise(s)), 403),
    "msearch": (lambda c, s: c.msearch(searches=[{"index": _enterprise(s)}, {"query": {"match_all": {}}}]), 403),
    # a terms lookup GETs the named document with the key's privileges
    "terms_lookup": (lambda c, s: c.search(index=_enterprise(s), query={"terms": {"user.email": {
        "index": _other_event(s)[0], "id": _other_event(s)[1], "path": "user.email"}}}), 403),
    # more_like_this fetches the liked document's term vectors with the key's privileges (shard failures: 400)
    "more_like_this_of_a_document": (lambda c, s: c.search(index=_enterprise(s), query={"more_like_this": {
        "fields": ["user.email"], "like": [{"_index": _other_event(s)[0], "_id": _other_event(s)[1]}],
        "min_term_freq": 1, "min_doc_freq": 1}}), 400),
    "create_api_key": (lambda c, s: c.security.create_api_key(name="derived", role_descriptors={"r": {
        "indices": [{"names": list(s.tiers.read_patterns), "privileges": ["read"]}]}}), 403),
    "other_class_index": (lambda c, s: c.search(index=_index_of(s, sorted(s.ids_of[s.of_tier("business")])[0])),
                          403),
}


@pytest.mark.parametrize("name", sorted(_REFUSED))
def test_api_outside_the_customer_view_is_refused(tenant_setup: TenantSetup, name: str) -> None:
    """An API the customer view does not use is refused to the tenant key with the status Elasticsearch gives."""
    call, status = _REFUSED[name]
    assert status == status_of(lambda: call(tenant_setup.client(), tenant_setup))


def test_a_scroll_cannot_be_continued(tenant_setup: TenantSetup) -> None:
    """A search may open a scroll, but the key may not fetch its next page (403)."""
    client = tenant_setup.client()
    opened = client.search(index=_enterprise(tenant_setup), size=10, scroll="1m")
    try:
        status = status_of(lambda: client.scroll(scroll_id=opened["_scroll_id"], scroll="1m"))
    finally:
        client.clear_scroll(scroll_id=opened["_scroll_id"])
    assert 403 == status


@pytest.mark.parametrize("kind", ["term", "phrase", "completion"])
def test_suggesters_are_refused(tenant_setup: TenantSetup, kind: str) -> None:
    """Elasticsearch refuses every suggester under document-level security (400), so the term index stays closed."""
    suggester = {"prefix": "org"} if kind == "completion" else {"text": "org-1002"}
    field = "user.name.text" if kind == "phrase" else "organization.id"
    assert 400 == status_of(lambda: tenant_setup.client().search(
        index=_enterprise(tenant_setup), size=0, suggest={"s": {**suggester, kind: {"field": field}}}))


def test_profiling_is_refused(tenant_setup: TenantSetup) -> None:
    """Elasticsearch refuses `profile: true` under document-level security (400)."""
    assert 400 == status_of(lambda: tenant_setup.client().search(
        index=_enterprise(tenant_setup), size=0, profile=True, query={"term": {"organization.id": "x"}}))


def test_another_namespace_is_out_of_reach(tenant_setup: TenantSetup) -> None:
    """The tenant's own events in another namespace: its wildcard matches nothing, a daily index is refused (403)."""
    events = [e for e in tui_events() if e["organization"]["id"] == TENANT][:10]
    with seeded_namespace(tenant_setup.admin, events, label="elsewhere") as (other, _):
        client = tenant_setup.client()
        daily = _daily_index(tenant_setup.admin, other)
        found = client.search(index=other.read_pattern, size=0)
        expected = (0, 403)
        assert expected == (found["hits"]["total"]["value"], status_of(lambda: client.search(index=daily)))


def _daily_index(admin: Elasticsearch, tiers: TierTable) -> str:
    return sorted(admin.indices.get(index=tiers.class_pattern("enterprise")))[0]


def test_old_descriptor_key_counts_another_tenant_through_term_vectors(tenant_setup: TenantSetup) -> None:
    """A key made with the former descriptor (read, view_index_metadata) counts another tenant's events: narrow it."""
    with _old_key(tenant_setup) as client:
        index, _ = _other_event(tenant_setup)
        other = tenant_setup.other_enterprise()
        vectors = client.termvectors(index=index, doc={"organization": {"id": other}}, term_statistics=True)
        counted = vectors["term_vectors"]["organization.id"]["terms"][other]["doc_freq"]
        assert _count(tenant_setup, index, other) == counted


def test_keys_list_marks_the_old_descriptor_key_broader(tenant_setup: TenantSetup) -> None:
    """`auditlog keys list --json` says a key made with the former descriptor is broader, and a new one is not."""
    with _old_key(tenant_setup) as client:
        old_id = client.security.authenticate()["api_key"]["id"]
        code, out, err = tenant_setup.cli("keys", "list", "--json")
        assert code == 0, err
        broader = {key["id"]: key["broader"] for key in map(json.loads, out.splitlines())}
        expected = (True, False)
        assert expected == (broader[old_id], broader[tenant_setup.key["id"]])


def test_keys_narrow_takes_term_vectors_from_an_old_key_and_keeps_its_secret(tenant_setup: TenantSetup) -> None:
    """`auditlog keys narrow` updates a key made with the former descriptor in place: same secret, no term vectors."""
    with _old_key(tenant_setup) as client:
        old_id = client.security.authenticate()["api_key"]["id"]
        code, out, err = tenant_setup.cli("keys", "narrow", old_id)
        index, _ = _other_event(tenant_setup)
        refused = status_of(lambda: client.termvectors(index=index, doc={"organization": {"id": TENANT}}))
        counted = client.count(index=tenant_setup.tiers.read_pattern)["count"]
        expected = (0, f"narrowed {old_id} (tenant {TENANT})", 403, len(tenant_setup.ids_of[TENANT]))
        assert expected == (code, out.split(":")[0], refused, counted), err


def test_keys_list_no_longer_marks_a_narrowed_key(tenant_setup: TenantSetup) -> None:
    """After `auditlog keys narrow`, `keys list` marks no key of the namespace broader, and a second run has none."""
    with _old_key(tenant_setup) as client:
        old_id = client.security.authenticate()["api_key"]["id"]
        assert tenant_setup.cli("keys", "narrow")[0] == 0
        code, out, err = tenant_setup.cli("keys", "list", "--json")
        broader = {key["id"]: key["broader"] for key in map(json.loads, out.splitlines())}
        again = tenant_setup.cli("keys", "narrow")
        expected = (0, False, 0, f"no broader keys in namespace {tenant_setup.tiers.prefix}")
        assert expected == (code, broader[old_id], again[0], again[1].strip()), err


def test_keys_narrow_names_an_id_that_is_no_broader_tenant_key(tenant_setup: TenantSetup) -> None:
    """An id that is not a broader key of the namespace (a new key) is named, exit 1, nothing changed."""
    code, out, _ = tenant_setup.cli("keys", "narrow", tenant_setup.key["id"])
    expected = (1, f"not narrowed {tenant_setup.key['id']}: not a broader key of namespace "
                   f"{tenant_setup.tiers.prefix}")
    assert expected == (code, out.strip())


#: what the maker of a tenant key could read when it made the key: only another tenant's enterprise events (a
#: document-level query), or no enterprise index at all
_MAKER_READ: dict[str, Callable[[TenantSetup], dict[str, Any]]] = {
    "another-tenants-events": lambda setup: {"names": [_enterprise(setup)], "privileges": ["read"],
                                             "query": {"term": {"organization.id": setup.other_enterprise()}}},
    "no-enterprise-index": lambda setup: {"names": [setup.tiers.class_pattern("business")], "privileges": ["read"]},
}
#: what the maker of a tenant key could read that holds all a new key of its tenant reads: the whole enterprise
#: class, or exactly the key's tenant's events (a document-level query the same as the key's own)
_MAKER_HELD: dict[str, Callable[[TenantSetup], dict[str, Any]]] = {
    "the-whole-class": lambda setup: {"names": [_enterprise(setup)], "privileges": ["read"]},
    "the-keys-own-tenant": lambda setup: {"names": [_enterprise(setup)], "privileges": ["read"],
                                          "query": {"term": {"organization.id": TENANT}}},
}


@dataclass(frozen=True)
class _MakersKey:
    """A tenant key of the former descriptor made by a user, narrowed by that user: what the key counted before and
    after, and what `auditlog keys narrow ID` printed."""

    id: str
    before: int
    code: int
    out: str
    err: str
    after: int


def _narrow_as_maker(setup: TenantSetup, reads: dict[str, Any], *, widen: bool) -> _MakersKey:
    """Have a user who may make its own API keys and read only ``reads`` make a key of the former descriptor, let
    it read the whole enterprise class too when ``widen`` (a role added later), then run `auditlog keys narrow`
    on the key as that user. User, roles and key are deleted afterwards."""
    user, password = f"{setup.tiers.prefix}-tenant-maker", uuid.uuid4().hex
    setup.admin.security.put_role(name=f"{user}-then", cluster=["manage_own_api_key"], indices=[reads])
    setup.admin.security.put_role(name=f"{user}-now", indices=[{"names": [_enterprise(setup)], "privileges": ["read"]}])
    setup.admin.security.put_user(username=user, password=password, roles=[f"{user}-then"])
    maker = Elasticsearch(setup.node.url, basic_auth=(user, password), ca_certs=setup.node.ca_certs,
                          request_timeout=30)
    try:
        with _old_key(setup, maker) as client:
            key_id = client.security.authenticate()["api_key"]["id"]
            before = client.count(index=setup.tiers.read_pattern)["count"]
            if widen:
                setup.admin.security.put_user(username=user, roles=[f"{user}-then", f"{user}-now"])
            code, out, err = setup.cli("keys", "narrow", key_id, user=(user, password))
            return _MakersKey(key_id, before, code, out, err, client.count(index=setup.tiers.read_pattern)["count"])
    finally:
        maker.close()
        setup.admin.options(ignore_status=404).security.delete_user(username=user)
        for role in (f"{user}-then", f"{user}-now"):
            setup.admin.options(ignore_status=404).security.delete_role(name=role)


@pytest.mark.parametrize("reads", sorted(_MAKER_READ))
def test_keys_narrow_never_lets_a_tenant_key_read_what_its_maker_could_not_when_it_was_made(
        tenant_setup: TenantSetup, reads: str) -> None:
    """`keys narrow` refuses a tenant key whose maker could read only another tenant's events (or no enterprise
    index) when it made the key and the whole class since: the update would take the maker's privileges of today,
    and the key, which read nothing, would read its tenant's events; it still reads nothing."""
    key = _narrow_as_maker(tenant_setup, _MAKER_READ[reads](tenant_setup), widen=True)
    expected = (0, 1, f"not narrowed {key.id} (tenant {TENANT}): its maker could not grant", 0)
    assert expected == (key.before, key.code, key.out[:len(expected[2])], key.after), (key.out, key.err)


@pytest.mark.parametrize("reads", sorted(_MAKER_HELD))
def test_keys_narrow_narrows_a_tenant_key_whose_maker_could_read_all_its_tenant_s_events(
        tenant_setup: TenantSetup, reads: str) -> None:
    """`keys narrow` run by a maker with only `manage_own_api_key`, who could read the whole class (or exactly the
    key's tenant's events) when it made the key, narrows it: it reads the same events before and after."""
    key = _narrow_as_maker(tenant_setup, _MAKER_HELD[reads](tenant_setup), widen=False)
    events = len(tenant_setup.ids_of[TENANT])
    expected = (events, 0, f"narrowed {key.id} (tenant {TENANT})", events)
    assert expected == (key.before, key.code, key.out.split(":")[0], key.after), (key.out, key.err)


@contextlib.contextmanager
def _old_key(setup: TenantSetup, maker: Elasticsearch | None = None) -> Iterator[Elasticsearch]:
    """A client with a tenant key as `auditlog keys tenant` made them before the narrowing, made by ``maker`` (the
    admin by default); revoked afterwards."""
    descriptor = {"cluster": [], "indices": [{"names": [_enterprise(setup)],
                                              "privileges": ["read", "view_index_metadata"],
                                              "query": {"term": {"organization.id": TENANT}}}]}
    made = (maker or setup.admin).security.create_api_key(
        name=f"{setup.tiers.prefix}-tenant-{TENANT}-old", role_descriptors={f"{setup.tiers.prefix}-tenant": descriptor},
        metadata={"managed_by": "auditlog", "role": "tenant", "tenant": TENANT, "namespace": setup.tiers.prefix})
    client = Elasticsearch(setup.node.url, api_key=made["encoded"], ca_certs=setup.node.ca_certs, max_retries=0)
    try:
        yield client
    finally:
        client.close()
        setup.admin.security.invalidate_api_key(ids=[made["id"]])


def _count(setup: TenantSetup, index: str, tenant: str) -> int:
    """Events of ``tenant`` in ``index`` (admin's view)."""
    return int(setup.admin.count(index=index, query={"term": {"organization.id": tenant}})["count"])


def test_digest_indices_are_refused(tenant_setup: TenantSetup) -> None:
    """The namespace's digests (every tenant's hashes): a daily digest index is refused (403), the pattern empty."""
    day = (tenant_setup.summary.newest or datetime.now(UTC)).date()
    digest = tenant_setup.tiers.digest_index_for_day("enterprise", day)
    tenant_setup.admin.index(index=digest, document={"agent": {"id": "a"}}, refresh=True)
    client = tenant_setup.client()
    found = client.search(index=tenant_setup.tiers.digest_pattern, size=0)
    expected = (0, 403)
    assert expected == (found["hits"]["total"]["value"], status_of(lambda: client.search(index=digest)))


# ---- paths the customer view uses: document-level security hides the other tenants ------------------------------

_AGGREGATIONS: dict[str, dict[str, Any]] = {
    "terms_with_min_doc_count_0": {"terms": {"field": "organization.id", "min_doc_count": 0, "size": 100}},
    "composite": {"composite": {"sources": [{"o": {"terms": {"field": "organization.id"}}}], "size": 100}},
    "global": {"global": {}, "aggs": {"in": {"terms": {"field": "organization.id", "size": 100}}}},
    "sampler": {"sampler": {"shard_size": 1000}, "aggs": {"in": {"terms": {"field": "organization.id", "size": 100}}}},
    "significant_terms": {"significant_terms": {"field": "organization.id", "min_doc_count": 0, "size": 100}},
}


def _bucket_keys(answer: dict[str, Any]) -> list[str]:
    """The tenant ids in an aggregation answer, found where each kind of aggregation puts its buckets."""
    answer = answer.get("in", answer)
    return sorted(str(b["key"]["o"] if isinstance(b["key"], dict) else b["key"]) for b in answer["buckets"])


@pytest.mark.parametrize("kind", sorted(_AGGREGATIONS))
def test_aggregation_over_tenants_finds_only_the_tenant(tenant_setup: TenantSetup, kind: str) -> None:
    """An aggregation on organization.id over the whole namespace names only the key's tenant."""
    found = tenant_setup.client().search(index=tenant_setup.tiers.read_pattern, size=0,
                                         aggs={"a": _AGGREGATIONS[kind]})
    assert [TENANT] == _bucket_keys(found["aggregations"]["a"])


def test_count_counts_only_the_tenant(tenant_setup: TenantSetup) -> None:
    """`_count` over the whole namespace with the key counts exactly the tenant's events."""
    found = tenant_setup.client().count(index=tenant_setup.tiers.read_pattern)
    assert len(tenant_setup.ids_of[TENANT]) == found["count"]


def test_the_key_closes_the_points_in_time_it_opens(tenant_setup: TenantSetup) -> None:
    """A point in time the key opened is freed by the key: a tenant's exports never pile up open contexts."""
    client = tenant_setup.client()
    pit = client.open_point_in_time(index=tenant_setup.tiers.read_pattern, keep_alive="1m")
    closed = client.close_point_in_time(id=pit["id"])
    assert (True, True) == (closed["succeeded"], closed["num_freed"] > 0)


def test_search_features_on_another_tenants_event_return_nothing(tenant_setup: TenantSetup) -> None:
    """An ids search for another tenant's event with explain, highlight, docvalue and stored fields finds nothing."""
    _, event_id = _other_event(tenant_setup)
    found = tenant_setup.client().search(
        index=tenant_setup.tiers.read_pattern, query={"ids": {"values": [event_id]}}, explain=True,
        highlight={"fields": {"*": {}}}, docvalue_fields=[{"field": "organization.id"}], stored_fields=["_id"],
        seq_no_primary_term=True, version=True)
    expected: tuple[int, list[Any]] = (0, [])
    assert expected == (found["hits"]["total"]["value"], found["hits"]["hits"])


def test_dfs_search_for_another_tenant_finds_nothing(tenant_setup: TenantSetup) -> None:
    """A dfs_query_then_fetch search for another tenant with the key finds nothing."""
    found = tenant_setup.client().search(index=_enterprise(tenant_setup), search_type="dfs_query_then_fetch",
                                         query={"term": {"organization.id": tenant_setup.other_enterprise()}})
    assert 0 == found["hits"]["total"]["value"]


# ---- what Elasticsearch leaks through _search itself (documented in docs/elastic-admin.md) ----------------------


def _explained_counts(explanation: dict[str, Any]) -> dict[str, int]:
    """The BM25 ``n`` (documents holding the term) and ``N`` (documents with the field) of a score explanation."""
    found: dict[str, int] = {}
    for detail in explanation.get("details", []):
        text = str(detail.get("description", ""))
        if text.startswith(("n,", "N,")):
            found[text[0]] = int(detail["value"])
        found.update({k: v for k, v in _explained_counts(detail).items() if k not in found})
    return found


def test_dfs_explain_counts_every_tenants_events(tenant_setup: TenantSetup) -> None:
    """A scored search's explanation gives N = every tenant's events of the class, not only the tenant's (a leak)."""
    found = tenant_setup.client().search(index=_enterprise(tenant_setup), size=1, explain=True,
                                         search_type="dfs_query_then_fetch",
                                         query={"term": {"organization.id": TENANT}})
    counts = _explained_counts(found["hits"]["hits"][0]["_explanation"])
    everyone = int(tenant_setup.admin.count(index=_enterprise(tenant_setup))["count"])
    expected = {"n": len(tenant_setup.ids_of[TENANT]), "N": everyone}
    assert expected == counts


def _blended_score(client: Elasticsearch, setup: TenantSetup, *emails: str) -> list[tuple[str, float]]:
    """Hits and scores of a regexp over ``emails`` whose rewrite blends the terms' document frequencies."""
    pattern = "|".join(re.sub(r"([^A-Za-z0-9])", r"\\\1", e) for e in emails)
    found = client.search(index=_enterprise(setup), size=100, search_type="dfs_query_then_fetch", source=False,
                          query={"regexp": {"user.email": {"value": pattern, "flags": "NONE",
                                                           "rewrite": "top_terms_blended_freqs_10"}}})
    return [(hit["_id"], hit["_score"]) for hit in found["hits"]["hits"]]


def test_scores_reveal_whether_another_tenant_holds_a_value(tenant_setup: TenantSetup) -> None:
    """The same own events score differently when the query also names a value only another tenant holds (a leak)."""
    own, other = _exclusive_emails(tenant_setup)
    client = tenant_setup.client()
    with_other = _blended_score(client, tenant_setup, own, other)
    with_nothing = _blended_score(client, tenant_setup, own, "nobody@nowhere.invalid")
    expected = (True, True)
    assert expected == ([i for i, _ in with_other] == [i for i, _ in with_nothing],
                        [s for _, s in with_other] != [s for _, s in with_nothing])


def _more_like(client: Elasticsearch, setup: TenantSetup, *values: str) -> int:
    """Hits of a more_like_this on user.email needing every value it keeps (it drops terms no document holds)."""
    found = client.search(index=_enterprise(setup), size=0, query={"more_like_this": {
        "fields": ["user.email"], "like": list(values), "min_term_freq": 1, "min_doc_freq": 1,
        "minimum_should_match": "100%"}})
    return int(found["hits"]["total"]["value"])


def test_more_like_this_reveals_whether_another_tenant_holds_a_value(tenant_setup: TenantSetup) -> None:
    """more_like_this keeps a term by its frequency over every tenant, so its hits say if a value exists (a leak)."""
    own, other = _exclusive_emails(tenant_setup)
    client = tenant_setup.client()
    alone = _emails(tenant_setup, TENANT)[own]
    expected = (alone, True)
    together = _more_like(client, tenant_setup, own, other)
    assert expected == (_more_like(client, tenant_setup, own, "nobody@nowhere.invalid"), together < alone)


def test_significant_terms_background_counts_every_tenant(tenant_setup: TenantSetup) -> None:
    """significant_terms' bg_count is the number of every tenant's events in the class, not the tenant's (a leak)."""
    found = tenant_setup.client().search(index=_enterprise(tenant_setup), size=0, aggs={
        "s": {"significant_terms": {"field": "organization.id"}}})
    everyone = int(tenant_setup.admin.count(index=_enterprise(tenant_setup))["count"])
    expected = (len(tenant_setup.ids_of[TENANT]), everyone)
    assert expected == (found["aggregations"]["s"]["doc_count"], found["aggregations"]["s"]["bg_count"])


def _newest(setup: TenantSetup, query: dict[str, Any]) -> dict[str, datetime]:
    """The newest ``@timestamp`` per enterprise index of the events ``query`` selects (admin's view)."""
    found = setup.admin.search(index=_enterprise(setup), size=0, query=query, aggs={"i": {
        "terms": {"field": "_index", "size": 1000}, "aggs": {"t": {"max": {"field": "@timestamp"}}}}})
    return {b["key"]: datetime.fromisoformat(b["t"]["value_as_string"].replace("Z", "+00:00"))
            for b in found["aggregations"]["i"]["buckets"]}


def test_shard_skipping_reveals_other_tenants_later_events(tenant_setup: TenantSetup) -> None:
    """A range after the tenant's newest event finds nothing, yet skips only indices where no tenant has one later."""
    own = max(_newest(tenant_setup, {"term": {"organization.id": TENANT}}).values())
    everyone = _newest(tenant_setup, {"match_all": {}})
    after = own + timedelta(milliseconds=1)
    assert any(newest >= after for newest in everyone.values()), "the seed has no other tenant's event later"
    found = tenant_setup.client().search(index=_enterprise(tenant_setup), size=0, pre_filter_shard_size=1,
                                         query={"range": {"@timestamp": {"gte": after.isoformat()}}})
    expected = (0, sum(newest < after for newest in everyone.values()))
    assert expected == (found["hits"]["total"]["value"], found["_shards"]["skipped"])


def test_sequence_numbers_count_other_tenants_writes(tenant_setup: TenantSetup) -> None:
    """The gaps in the tenant's own `_seq_no` count the other tenants' events written to that index before (a leak)."""
    index, _ = _own_event(tenant_setup)
    mine = tenant_setup.client().search(index=index, size=1000, seq_no_primary_term=True, source=False)
    seq_nos = sorted(int(hit["_seq_no"]) for hit in mine["hits"]["hits"])
    everyone = tenant_setup.admin.search(index=index, size=1000, seq_no_primary_term=True, source=False)
    others_before = sum(hit["_id"] not in tenant_setup.ids_of[TENANT] and hit["_seq_no"] < seq_nos[-1]
                        for hit in everyone["hits"]["hits"])
    assert others_before > 0, "the seed has no other tenant's event between the tenant's in this index"
    assert others_before == seq_nos[-1] + 1 - len(seq_nos)


def test_a_tenant_key_can_close_a_point_in_time_it_did_not_open(tenant_setup: TenantSetup) -> None:
    """Closing a point in time is not owner-checked: a tenant key holding another's PIT id ends that snapshot (the
    owner's next page says so; nothing is read through it)."""
    pit = tenant_setup.admin.open_point_in_time(index=tenant_setup.tiers.read_pattern, keep_alive="1m")["id"]
    closed = tenant_setup.client().close_point_in_time(id=pit)
    after = status_of(lambda: tenant_setup.admin.search(pit={"id": pit}, size=1))
    assert (True, 404) == (closed["succeeded"], after)
