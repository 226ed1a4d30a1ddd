"""Existing daily indices not made from our templates, found on the real node (indexer.mapped) and named by
`auditlog setup` and `auditlog retention status`."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from elasticsearch import Elasticsearch

from auditlog.cli import main
from auditlog.indexer.keys import create_tenant_key
from auditlog.indexer.mapped import find_misshapen
from auditlog.indexer.setup import install_templates, run_setup
from auditlog.indexer.tiers import TierTable
from tests.support.node import SecureNodeInfo
from tests.support.seed import cleanup_namespace

TENANT = "org-1001"


def _event(tenant: str = TENANT) -> dict[str, object]:
    return {"@timestamp": datetime.now(UTC).isoformat(), "event": {"id": uuid.uuid4().hex},
            "organization": {"id": tenant}, "message": "shipped before setup"}


def _today(tiers: TierTable) -> str:
    return tiers.index_for_day("enterprise", datetime.now(UTC).date())


def _ship_before_setup(es: Elasticsearch, tiers: TierTable) -> str:
    """Today's enterprise index as an agent shipping before `auditlog setup` makes it: dynamic mappings."""
    index = _today(tiers)
    es.index(index=index, id=uuid.uuid4().hex, document=_event(), op_type="create", refresh=True)
    return index


def test_an_index_made_before_setup_is_named_with_its_fields(es: Elasticsearch, namespace: TierTable) -> None:
    """An index dynamically mapped before setup is found, naming organization.id and event.id as text."""
    index = _ship_before_setup(es, namespace)
    install_templates(es, namespace, ilm=False)
    found = find_misshapen(es, namespace)
    assert [(m.index, m.wrong) for m in found] == [
        (index, (("organization.id", "text", "keyword"), ("event.id", "text", "keyword")))]


def test_an_index_made_from_our_template_is_not_named(es: Elasticsearch, namespace: TierTable) -> None:
    """Indices created from the installed templates (an event's and a digest's) are not named."""
    install_templates(es, namespace, ilm=False)
    day = datetime.now(UTC).date()
    es.index(index=_today(namespace), document=_event(), refresh=True)
    es.index(index=namespace.digest_index_for_day("enterprise", day), document={"@timestamp": _event()["@timestamp"]},
             refresh=True)
    assert find_misshapen(es, namespace) == []


def test_a_digest_index_made_by_hand_is_named(es: Elasticsearch, namespace: TierTable) -> None:
    """A digest index created without our template lacks the fields verify --proof queries: named."""
    index = namespace.digest_index_for_day("enterprise", datetime.now(UTC).date())
    es.indices.create(index=index)
    install_templates(es, namespace, ilm=False)
    found = find_misshapen(es, namespace)
    assert [(m.index, [f for f, _, _ in m.wrong]) for m in found] == [
        (index, ["@timestamp", "digest.index", "digest.first", "digest.last"])]


@pytest.fixture
def metadata_blocked(es: Elasticsearch, namespace: TierTable) -> Iterator[str]:
    """Today's index made before setup, then put under ``index.blocks.metadata`` (unblocked afterwards)."""
    index = _ship_before_setup(es, namespace)
    es.indices.put_settings(index=index, settings={"index.blocks.metadata": True})
    try:
        yield index
    finally:
        es.indices.put_settings(index=index, settings={"index.blocks.metadata": False})


def test_an_index_under_a_metadata_block_is_still_read(
    es: Elasticsearch, namespace: TierTable, metadata_blocked: str
) -> None:
    """An index whose metadata block fails `GET _mapping` is still named (its mapping read from the cluster state)."""
    install_templates(es, namespace, ilm=False)
    assert [m.index for m in find_misshapen(es, namespace)] == [metadata_blocked]


def test_setup_names_an_index_made_before_it_and_exits_0(
    es: Elasticsearch, es_url: str, namespace: TierTable, capsys: pytest.CaptureFixture[str]
) -> None:
    """`auditlog setup` installs everything, then warns naming today's index made before it; it held nothing back:
    exit 0."""
    index = _ship_before_setup(es, namespace)
    code = main(["setup", "--es", es_url, "--prefix", namespace.prefix])
    err = capsys.readouterr().err.strip().splitlines()
    assert (code, len(err)) == (0, 1), err
    assert err[0].startswith(f"warning: daily index {index} was not made from our template: organization.id is "
                             "text (expected keyword)")
    assert "reindex it into a correctly mapped index" in err[0] and "delete it once it is past retention" in err[0]


def test_setup_json_lists_the_index_with_its_fields(
    es: Elasticsearch, es_url: str, namespace: TierTable, capsys: pytest.CaptureFixture[str]
) -> None:
    """`auditlog setup --json` reports the index under `misshapen` with each field, its type and the expected one."""
    index = _ship_before_setup(es, namespace)
    main(["setup", "--es", es_url, "--prefix", namespace.prefix, "--json"])
    found = json.loads(capsys.readouterr().out)["misshapen"]
    assert [(m["index"], m["fields"][0]) for m in found] == [
        (index, {"field": "organization.id", "type": "text", "expected": "keyword"})]


def test_setup_on_a_namespace_of_its_own_indices_warns_of_nothing(
    es_url: str, namespace: TierTable, capsys: pytest.CaptureFixture[str]
) -> None:
    """The indices setup itself created ahead are not named: no warning, exit 0, an empty `misshapen`."""
    code = main(["setup", "--es", es_url, "--prefix", namespace.prefix, "--json"])
    out, err = capsys.readouterr()
    assert (code, err, json.loads(out)["misshapen"]) == (0, "", [])


def test_retention_status_warns_of_the_index_and_exits_0(
    es: Elasticsearch, es_url: str, namespace: TierTable, capsys: pytest.CaptureFixture[str]
) -> None:
    """`auditlog retention status` shows the table and one warning naming the index; it only reports (exit 0)."""
    index = _ship_before_setup(es, namespace)
    install_templates(es, namespace, ilm=False)
    code = main(["retention", "status", "--es", es_url, "--prefix", namespace.prefix])
    out, err = capsys.readouterr()
    assert (code, out.startswith("CLASS"), len(err.strip().splitlines())) == (0, True, 1)
    assert err.startswith(f"warning: daily index {index} was not made from our template: organization.id is text")


@pytest.fixture
def secure_namespace(secure_node: SecureNodeInfo) -> Iterator[tuple[Elasticsearch, TierTable]]:
    """An admin client on the secure node and a namespace of its own there (deleted afterwards)."""
    admin = Elasticsearch(secure_node.url, basic_auth=(secure_node.username, secure_node.password),
                          ca_certs=secure_node.ca_certs, request_timeout=60)
    tiers = TierTable(prefix=f"t{uuid.uuid4().hex[:10]}-audit")
    try:
        yield admin, tiers
    finally:
        admin.options(ignore_status=404).security.invalidate_api_key(name=f"{tiers.prefix}-*")
        cleanup_namespace(admin, tiers)
        admin.close()


def test_a_tenant_key_misses_the_events_of_an_index_made_before_setup(
    secure_node: SecureNodeInfo, secure_namespace: tuple[Elasticsearch, TierTable]
) -> None:
    """Why it matters: the tenant's own event in the dynamically mapped index is invisible to its key, while the
    same tenant's event in an index of our template is found (the admin sees both)."""
    admin, tiers = secure_namespace
    before = _ship_before_setup(admin, tiers)
    run_setup(admin, tiers)
    ours = tiers.index_for_day("enterprise", datetime(2026, 1, 2, tzinfo=UTC).date())
    admin.index(index=ours, id=uuid.uuid4().hex, document=_event(), op_type="create", refresh=True)
    key = create_tenant_key(admin, tiers, TENANT, force=True)
    tenant = Elasticsearch(secure_node.url, api_key=key.encoded, ca_certs=secure_node.ca_certs, request_timeout=30)
    try:
        seen = {h["_index"] for h in tenant.search(index=tiers.read_pattern, size=10)["hits"]["hits"]}
    finally:
        tenant.close()
    everything = {h["_index"] for h in admin.search(index=tiers.read_pattern, size=10)["hits"]["hits"]}
    assert (seen, everything) == ({ours}, {ours, before})


def test_a_closed_index_is_still_read(es: Elasticsearch, namespace: TierTable) -> None:
    """A closed index made before setup is named too (the cluster state holds its mapping)."""
    index = _ship_before_setup(es, namespace)
    es.indices.close(index=index)
    install_templates(es, namespace, ilm=False)
    assert [m.index for m in find_misshapen(es, namespace)] == [index]
