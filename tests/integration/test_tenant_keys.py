"""Tenant keys on the secure node: Elasticsearch itself keeps every other tenant's events out of reach.

`auditlog keys tenant ORG` makes an API key whose role descriptor carries a document-level-security
query on ORG (the secure local node runs a self-generated trial licence for it). Every read path the
TUI, export and `auditlog show` use is run here with that key and a filter that does *not* name the
tenant, so only Elasticsearch can be what hides the others.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import openpyxl
import pytest
from elasticsearch import AuthorizationException, Elasticsearch

from auditlog.indexer import keys as keys_module
from auditlog.indexer.keys import KeyRefused, TenantScope, key_scope, require_dls
from auditlog.indexer.query import EventStream, Filter, Pager, facet_counts, get_event, histogram
from auditlog.tui.access import AccessDenied, key_view
from auditlog.tui.screens.main import MainScreen
from tests.support.paging import all_pages
from tests.support.tenant import TENANT, TenantSetup, status_of
from tests.tui.support import NOW, make_app, settle


def test_seed_has_the_tenants_the_tests_need(tenant_setup: TenantSetup) -> None:
    """The seed holds TENANT on enterprise, another enterprise tenant and a business tenant (test precondition)."""
    expected = ("enterprise", True, True)
    assert expected == (tenant_setup.tier_of[TENANT], bool(tenant_setup.other_enterprise()),
                        bool(tenant_setup.of_tier("business")))


def test_search_without_a_filter_returns_only_the_keys_tenant(tenant_setup: TenantSetup) -> None:
    """A match_all over every audit index with the tenant key returns exactly the tenant's events."""
    found = tenant_setup.client().search(index=tenant_setup.tiers.read_pattern, query={"match_all": {}}, size=1000,
                                         source=False)
    assert tenant_setup.ids_of[TENANT] == {hit["_id"] for hit in found["hits"]["hits"]}


def test_point_in_time_paging_sees_only_the_tenant(tenant_setup: TenantSetup) -> None:
    """Paging the whole namespace through a point in time with the tenant key yields only the tenant's events."""
    with Pager(tenant_setup.client(), tenant_setup.tiers, Filter(), page_size=50) as pager:
        ids = {hit.id for page in all_pages(pager) for hit in page.hits}
    assert tenant_setup.ids_of[TENANT] == ids


def test_facets_count_only_the_tenant(tenant_setup: TenantSetup) -> None:
    """Facet counts over the whole namespace with the tenant key total only the tenant's events."""
    counts = facet_counts(tenant_setup.client(), tenant_setup.tiers, Filter())
    assert len(tenant_setup.ids_of[TENANT]) == counts.total


def test_histogram_counts_only_the_tenant(tenant_setup: TenantSetup) -> None:
    """The histogram over the whole namespace with the tenant key counts only the tenant's events."""
    found = histogram(tenant_setup.client(), tenant_setup.tiers, Filter(), now=NOW)
    assert len(tenant_setup.ids_of[TENANT]) == found.total


def test_export_stream_yields_only_the_tenant(tenant_setup: TenantSetup) -> None:
    """The export stream over the whole namespace with the tenant key yields only the tenant's events."""
    with EventStream(tenant_setup.client(), tenant_setup.tiers, Filter()) as stream:
        ids = {event["event"]["id"] for event in stream}
    assert tenant_setup.ids_of[TENANT] == ids


def test_filter_for_another_tenant_finds_nothing(tenant_setup: TenantSetup) -> None:
    """Asking for another enterprise tenant by filter with the tenant key finds nothing."""
    other = tenant_setup.other_enterprise()
    counts = facet_counts(tenant_setup.client(), tenant_setup.tiers, Filter(tenants=(other,)))
    assert 0 == counts.total


def test_get_by_id_of_another_tenant_finds_nothing(tenant_setup: TenantSetup) -> None:
    """Another tenant's event is not found by the ids search, and a direct GET on its index is refused (403)."""
    other = tenant_setup.other_enterprise()
    event_id = sorted(tenant_setup.ids_of[other])[0]
    client = tenant_setup.client()
    index = tenant_setup.admin.search(index=tenant_setup.tiers.read_pattern, query={"ids": {"values": [event_id]}},
                                      source=False)["hits"]["hits"][0]["_index"]
    # GET is not among a tenant key's privileges (the customer view finds events by an ids search)
    expected = (None, 403)
    assert expected == (get_event(client, tenant_setup.tiers, event_id),
                        status_of(lambda: client.get(index=index, id=event_id)))


def test_get_by_id_of_own_event_is_found(tenant_setup: TenantSetup) -> None:
    """The tenant's own event is found by id with its key (the filter hides others, not everything)."""
    event_id = sorted(tenant_setup.ids_of[TENANT])[0]
    found = get_event(tenant_setup.client(), tenant_setup.tiers, event_id)
    assert event_id == (found or {}).get("event", {}).get("id")


def test_cli_export_with_the_key_writes_only_the_tenant(tenant_setup: TenantSetup, tmp_path: Path) -> None:
    """`auditlog export` with the tenant key and no --tenant writes exactly the tenant's events."""
    output = tmp_path / "tenant.xlsx"
    code, _, err = tenant_setup.cli("export", "-o", str(output), "--since", "2026-01-01T00:00:00Z",
                                    key=tenant_setup.key["encoded"])
    assert code == 0, err
    rows = list(openpyxl.load_workbook(output, read_only=True)["Events"].iter_rows(values_only=True))[1:]
    assert tenant_setup.ids_of[TENANT] == {row[-1] for row in rows}


def test_cli_export_cannot_leave_the_keys_tenant(tenant_setup: TenantSetup, tmp_path: Path) -> None:
    """`auditlog export --tenant OTHER` with a tenant key exits 1 with one line naming the key's tenant."""
    code, _, err = tenant_setup.cli("export", "-o", str(tmp_path / "x.xlsx"), "--tenant",
                                    tenant_setup.other_enterprise(), key=tenant_setup.key["encoded"])
    expected = (1, 1, True)
    assert expected == (code, len(err.strip().splitlines()), f"reads only tenant {TENANT!r}" in err)


def test_cli_verify_with_the_key_says_to_use_the_reader_key(tenant_setup: TenantSetup) -> None:
    """`auditlog verify` with a tenant key exits 1 with the one line `export --verify` gives, not a raw 403."""
    code, _, err = tenant_setup.cli("verify", key=tenant_setup.key["encoded"])
    expected = (1, ["auditlog verify: digests list every tenant's events; verify with the reader key"])
    assert expected == (code, err.strip().splitlines())


def test_key_metadata_names_tenant_and_namespace(tenant_setup: TenantSetup) -> None:
    """The key reads its own metadata: tenant, namespace and the enterprise class pattern."""
    scope = key_scope(tenant_setup.client())
    expected = TenantScope(tenant=TENANT, namespace=tenant_setup.tiers.prefix,
                           index=tenant_setup.tiers.class_pattern("enterprise"), key_id=tenant_setup.key["id"])
    assert expected == scope


def test_key_view_refuses_another_tenant(tenant_setup: TenantSetup) -> None:
    """Asking the TUI for another tenant with a tenant key is refused."""
    with pytest.raises(AccessDenied, match=f"reads only tenant '{TENANT}'"):
        key_view(tenant_setup.client(), (tenant_setup.other_enterprise(),))


def test_admin_credentials_open_no_key_view(tenant_setup: TenantSetup) -> None:
    """Basic-auth credentials are not a tenant key: no customer view is forced."""
    assert key_view(tenant_setup.admin) is None


async def test_tui_with_the_key_opens_the_customer_view(tenant_setup: TenantSetup, tmp_path: Path) -> None:
    """The TUI opened with the key's view lists the tenant's events and offers no tenant box."""
    client = tenant_setup.client()
    view = key_view(client)
    app = make_app(client, tenant_setup.tiers, tmp_path, customer=view)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, MainScreen)
        assert screen.listing is not None
        expected = (len(tenant_setup.ids_of[TENANT]), 0)
        assert expected == (screen.listing.total, len(screen.query("#tenant")))


def test_business_tenant_is_refused_without_force(tenant_setup: TenantSetup) -> None:
    """`auditlog keys tenant` for a business tenant exits 1 with one line saying tenant keys are for enterprise."""
    code, _, err = tenant_setup.cli("keys", "tenant", tenant_setup.of_tier("business"))
    expected = (1, 1, True)
    assert expected == (code, len(err.strip().splitlines()), "--force" in err)


def test_business_tenant_with_force_gets_a_key(tenant_setup: TenantSetup) -> None:
    """With --force a key is made for a business tenant; it still reads the enterprise class only (nothing)."""
    code, out, err = tenant_setup.cli("keys", "tenant", tenant_setup.of_tier("business"), "--force", "--json")
    assert code == 0, err
    client = Elasticsearch(tenant_setup.node.url, api_key=json.loads(out)["encoded"],
                           ca_certs=tenant_setup.node.ca_certs)
    assert 0 == facet_counts(client, tenant_setup.tiers, Filter()).total


def test_keys_list_shows_the_tenant_key_without_its_secret(tenant_setup: TenantSetup) -> None:
    """`auditlog keys list --json` names the tenant key with its tenant, and never prints a secret."""
    code, out, _ = tenant_setup.cli("keys", "list", "--json")
    listed = [json.loads(line) for line in out.splitlines()]
    mine = [k for k in listed if k["id"] == tenant_setup.key["id"]]
    expected = (0, [TENANT], False)
    assert expected == (code, [k["tenant"] for k in mine], tenant_setup.key["encoded"] in out)


def test_keys_list_pages_past_one_answer(tenant_setup: TenantSetup, monkeypatch: pytest.MonkeyPatch) -> None:
    """With pages of 2, `auditlog keys list` still names every key of the namespace, each once, oldest first
    (before: one answer was all, so past 1,000 keys the newest went unlisted and `keys narrow` passed them over)."""
    for _ in range(3):
        assert tenant_setup.cli("keys", "tenant", TENANT, "--json")[0] == 0
    monkeypatch.setattr(keys_module, "KEYS_PAGE", 2)
    code, out, _ = tenant_setup.cli("keys", "list", "--json")
    listed = [json.loads(line)["id"] for line in out.splitlines()]
    monkeypatch.setattr(keys_module, "KEYS_PAGE", 1000)
    _, whole, _ = tenant_setup.cli("keys", "list", "--json")
    assert (code, listed) == (0, [json.loads(line)["id"] for line in whole.splitlines()])
    assert len(listed) == len(set(listed)) >= 4


def test_a_key_name_holding_a_line_feed_is_listed_on_one_line(tenant_setup: TenantSetup) -> None:
    """A key made outside auditlog with auditlog's metadata and a name holding a line feed and ESC is one line of
    `auditlog keys list`, its controls as escapes (a name could otherwise forge a line of the listing)."""
    made = tenant_setup.admin.security.create_api_key(
        name="forged\nAAAA  tenant org-1  created 2026  no expiry  \x1b[2J", role_descriptors={},
        metadata={"managed_by": keys_module.MANAGED_BY, "namespace": tenant_setup.tiers.prefix, "role": "tenant",
                  "tenant": "org-x"})
    code, out, _ = tenant_setup.cli("keys", "list")
    mine = [line for line in out.splitlines() if line.startswith(made["id"])]
    assert (code, len(mine)) == (0, 1)
    assert "forged\\x0aAAAA" in mine[0] and "\\x1b[2J" in mine[0] and "\x1b" not in out


def test_revoked_tenant_key_gets_401(tenant_setup: TenantSetup) -> None:
    """A tenant key revoked with `auditlog keys revoke` is rejected with 401."""
    code, out, err = tenant_setup.cli("keys", "tenant", TENANT, "--json")
    assert code == 0, err
    key = json.loads(out)
    client = Elasticsearch(tenant_setup.node.url, api_key=key["encoded"], ca_certs=tenant_setup.node.ca_certs,
                           max_retries=0)
    before = status_of(lambda: client.search(index=tenant_setup.tiers.read_pattern))
    revoked, _, _ = tenant_setup.cli("keys", "revoke", key["id"])
    expected = (200, 0, 401)
    assert expected == (before, revoked, status_of(lambda: client.search(index=tenant_setup.tiers.read_pattern)))


def _wait_for_licence(client: Elasticsearch, timeout: float = 60.0) -> None:
    """Wait until a freshly started node has generated its licence."""
    deadline = time.monotonic() + timeout
    while client.options(ignore_status=404).license.get().meta.status == 404:
        assert time.monotonic() < deadline, "the node generated no licence"
        time.sleep(0.5)


def test_basic_licence_refuses_tenant_keys_in_one_line(es: Elasticsearch) -> None:
    """On a cluster with the basic licence (the plain node) tenant keys are refused, naming the licence."""
    _wait_for_licence(es)
    with pytest.raises(KeyRefused) as refused:
        require_dls(es)
    message = str(refused.value)
    expected = (True, True, 1)
    assert expected == ("document-level security" in message, "basic" in message, len(message.splitlines()))


def test_key_cannot_change_its_own_metadata(tenant_setup: TenantSetup) -> None:
    """A tenant key rewriting its own metadata to another tenant is refused with 403."""
    with pytest.raises(AuthorizationException) as refused:
        tenant_setup.client().security.update_api_key(id=tenant_setup.key["id"],
                                                      metadata={"tenant": tenant_setup.other_enterprise()})
    assert 403 == refused.value.meta.status


def test_revoking_an_unknown_id_exits_1_naming_it(tenant_setup: TenantSetup) -> None:
    """`auditlog keys revoke` with an id Elasticsearch does not know exits 1 with one line naming the id."""
    code, _, err = tenant_setup.cli("keys", "revoke", "no-such-key-id")
    expected = (1, 1, True)
    assert expected == (code, len(err.strip().splitlines()), "no-such-key-id" in err)
