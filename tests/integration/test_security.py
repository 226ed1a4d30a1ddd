"""Security on the real secure node: writer and reader API keys hold exactly what each component needs.

The keys come from ``auditlog setup --api-keys --json`` through the real API (the secure node's
security-analysis plugin gives it a working ``.security-7`` index); every claim is a real request
made with the key and answered by Elasticsearch.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from elasticsearch import AuthenticationException, AuthorizationException, Elasticsearch
from elasticsearch import ConnectionError as ESConnectionError

from auditlog.cli import main
from auditlog.indexer.security import READER, WRITER, WRITER_PRIVILEGES, role_descriptors
from auditlog.indexer.setup import UNCHANGED, UPDATED, SetupError, run_setup
from auditlog.indexer.tiers import RETENTION_DAYS, TierTable
from tests.support.node import SecureNodeInfo


def _admin(node: SecureNodeInfo) -> Elasticsearch:
    return Elasticsearch(node.url, basic_auth=(node.username, node.password), ca_certs=node.ca_certs,
                         request_timeout=60)


def _cleanup(node: SecureNodeInfo, tiers: TierTable) -> None:
    admin = _admin(node)
    admin.options(ignore_status=404).indices.delete(index=f"{tiers.prefix}-*,{tiers.prefix}.digest-*,x{tiers.prefix}-*",
                                                    expand_wildcards="all")
    admin.options(ignore_status=404).indices.delete_index_template(name=f"{tiers.prefix}-*")
    admin.options(ignore_status=404).cluster.delete_component_template(name=f"{tiers.prefix}-*")
    for name in role_descriptors(tiers):
        admin.options(ignore_status=404).security.delete_role(name=name)
    admin.options(ignore_status=404).security.invalidate_api_key(name=f"{tiers.prefix}-*")
    admin.close()


@dataclass(frozen=True)
class KeyedNamespace:
    """A namespace on the secure node with the writer and reader keys `auditlog setup --api-keys --json` printed."""

    node: SecureNodeInfo
    tiers: TierTable
    admin: Elasticsearch
    setup_output: dict[str, object]

    def key(self, role: str) -> dict[str, str]:
        """The ``{"id", "name", "encoded"}`` object setup printed for ``role``."""
        value = self.setup_output[role]
        assert isinstance(value, dict)
        return value

    def as_key(self, role: str) -> Elasticsearch:
        """A client authenticating with the role's API key over TLS verified against the node's CA."""
        return Elasticsearch(self.node.url, api_key=self.key(role)["encoded"], ca_certs=self.node.ca_certs,
                             request_timeout=30, max_retries=0)


@pytest.fixture(scope="module")
def keyed(secure_node: SecureNodeInfo) -> Iterator[KeyedNamespace]:
    """Run `auditlog setup --api-keys --json` in a namespace of the module's own and keep what it printed."""
    import contextlib
    import io

    tiers = TierTable(prefix=f"t{uuid.uuid4().hex[:10]}-audit")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["setup", "--api-keys", "--json", "--es", secure_node.url, "--ca-certs", secure_node.ca_certs,
                     "--user", secure_node.username, "--password", secure_node.password, "--prefix", tiers.prefix])
    assert code == 0, out.getvalue()
    admin = _admin(secure_node)
    try:
        yield KeyedNamespace(secure_node, tiers, admin, json.loads(out.getvalue()))
    finally:
        admin.close()
        _cleanup(secure_node, tiers)


def _event(event_id: str, tenant: str = "org-1") -> dict[str, object]:
    return {"@timestamp": datetime.now(UTC).isoformat(), "event": {"id": event_id, "action": "update"},
            "audit": {"source": "appointments", "tier": "enterprise"}, "organization": {"id": tenant}}


def _write_one(ns: KeyedNamespace, event_id: str) -> str:
    """Create one event with the writer key (auto-creating today's index) and return the index."""
    index = ns.tiers.index_for("enterprise", datetime.now(UTC))
    result = ns.as_key(WRITER).bulk(operations=[{"create": {"_index": index, "_id": event_id}}, _event(event_id)])
    assert [201] == [item["create"]["status"] for item in result["items"]], result
    ns.admin.indices.refresh(index=index)
    return index


def _status(call: Callable[[], object]) -> int:
    """Run a request and return 200, or the HTTP status it was refused with."""
    try:
        call()
    except (AuthorizationException, AuthenticationException) as exc:
        return exc.meta.status
    return 200


def test_setup_json_prints_writer_and_reader_keys(keyed: KeyedNamespace) -> None:
    """`setup --api-keys --json` prints {"writer": {id, encoded}, "reader": {...}} and each key authenticates."""
    names = [keyed.as_key(role).security.authenticate()["api_key"]["id"] for role in (WRITER, READER)]
    expected = [keyed.key(WRITER)["id"], keyed.key(READER)["id"]]
    assert expected == names


def test_writer_auto_creates_a_missing_daily_index_from_the_templates(keyed: KeyedNamespace) -> None:
    """An event for a day whose index does not exist (a late event) auto-creates it, mapped by our templates."""
    moment = datetime.now(UTC) - timedelta(days=3)  # setup creates only today's and tomorrow's ahead
    index = keyed.tiers.index_for("enterprise", moment)
    existed = bool(keyed.admin.indices.exists(index=index))
    event = {**_event("w-late"), "@timestamp": moment.isoformat()}
    result = keyed.as_key(WRITER).bulk(operations=[{"create": {"_index": index, "_id": "w-late"}}, event])
    mapping = keyed.admin.indices.get_mapping(index=index)[index]["mappings"]
    expected = (False, [201], "false")
    assert expected == (existed, [i["create"]["status"] for i in result["items"]], str(mapping["dynamic"]).lower())


def test_writer_cannot_read_change_or_delete(keyed: KeyedNamespace) -> None:
    """Search, get, update, overwrite, delete-document and delete-index with the writer key are refused with 403."""
    index = _write_one(keyed, "w-1")
    writer = keyed.as_key(WRITER)
    statuses = [
        _status(lambda: writer.search(index=keyed.tiers.read_pattern, query={"match_all": {}})),
        _status(lambda: writer.get(index=index, id="w-1")),
        _status(lambda: writer.update(index=index, id="w-1", doc={"message": "changed"})),
        _status(lambda: writer.index(index=index, id="w-1", document=_event("w-1"))),
        _status(lambda: writer.delete(index=index, id="w-1")),
        _status(lambda: writer.indices.delete(index=index)),
    ]
    expected = [403] * 6
    assert expected == statuses


def test_writer_cannot_create_an_index_of_its_own_or_touch_templates(keyed: KeyedNamespace) -> None:
    """Creating tomorrow's index with a write block, or changing a template, with the writer key is refused with 403."""
    writer = keyed.as_key(WRITER)
    tomorrow = keyed.tiers.index_for("enterprise", datetime(2099, 1, 1, tzinfo=UTC))
    statuses = [
        _status(lambda: writer.indices.create(index=tomorrow, settings={"index.blocks.write": True})),
        _status(lambda: writer.indices.put_index_template(name=f"{keyed.tiers.prefix}-enterprise",
                                                          index_patterns=[f"{keyed.tiers.prefix}-enterprise-*"])),
        _status(lambda: writer.indices.delete_index_template(name=f"{keyed.tiers.prefix}-enterprise")),
    ]
    expected = ([403] * 3, False)
    assert expected == (statuses, bool(keyed.admin.indices.exists(index=tomorrow)))


def test_writer_cannot_change_a_mapping(keyed: KeyedNamespace) -> None:
    """A runtime field shadowing organization.id, or a field on a digest index, put with the writer key is refused."""
    index = _write_one(keyed, "w-map")
    digests = keyed.tiers.digest_index_for_day("enterprise", datetime.now(UTC).date())
    keyed.admin.options(ignore_status=400).indices.create(index=digests)
    writer = keyed.as_key(WRITER)
    statuses = [
        _status(lambda: writer.indices.put_mapping(index=index, runtime={"organization.id": {"type": "long"}})),
        _status(lambda: writer.indices.put_mapping(index=digests, properties={"forged": {"type": "long"}})),
    ]
    runtime = keyed.admin.indices.get_mapping(index=index)[index]["mappings"].get("runtime")
    assert ([403, 403], None) == (statuses, runtime)


def test_keys_stay_out_of_a_namespace_whose_prefix_extends_theirs(keyed: KeyedNamespace) -> None:
    """The writer and reader keys of P can neither write nor read P-staging's events or digests (P-* could)."""
    staging = TierTable(prefix=f"{keyed.tiers.prefix}-staging")
    day = datetime.now(UTC).date()
    events, digests = staging.index_for_day("enterprise", day), staging.digest_index_for_day("enterprise", day)
    for index in (events, digests):
        keyed.admin.index(index=index, id="s-1", document=_event("s-1"), refresh=True)
    writer, reader = keyed.as_key(WRITER), keyed.as_key(READER)
    statuses = [
        *[_bulk_status(writer, index, "s-2") for index in (events, digests)],
        *[_status(functools.partial(reader.search, index=index)) for index in (events, digests)],
    ]
    seen = reader.count(index=keyed.tiers.read_pattern, query={"ids": {"values": ["s-1"]}})["count"]
    assert ([403] * 4, 0) == (statuses, seen)


def test_writer_cannot_auto_create_an_index_our_templates_do_not_shape(keyed: KeyedNamespace) -> None:
    """A writer key's event for ``P-zzz`` (no template: a mapping of its own that breaks readers' sort) is refused."""
    stray = f"{keyed.tiers.prefix}-zzz"
    status = _bulk_status(keyed.as_key(WRITER), stray, "z-1", {"@timestamp": "not a date"})
    assert (403, False) == (status, bool(keyed.admin.indices.exists(index=stray)))


#: names under the class patterns that are not daily names: a word, a day without leading zeros, a day with a
#: tail, a month 13, a day 32, a five-digit year, a daily name with a prefix of its own in front
_OUTSIDE_THE_LAYOUT = ["{p}-enterprise-evil", "{p}-enterprise-2026.1.1", "{p}-enterprise-2026.01.01x",
                       "{p}-enterprise-2026.13.01", "{p}-business-2026.01.32", "{p}-professional-20260.01.01",
                       "{p}.digest-enterprise-evil", "{p}.digest-business-2026.01.01-x", "x{p}-enterprise-2026.01.01"]


@pytest.mark.parametrize("template", _OUTSIDE_THE_LAYOUT)
def test_writer_cannot_auto_create_a_name_outside_the_daily_layout(keyed: KeyedNamespace, template: str) -> None:
    """A writer key's event for a name the class patterns cover but the daily layout does not is refused (403)
    and creates no index: Elasticsearch matches the role's regular expressions."""
    stray = template.format(p=keyed.tiers.prefix)
    status = _bulk_status(keyed.as_key(WRITER), stray, "o-1")
    assert (403, False) == (status, bool(keyed.admin.indices.exists(index=stray)))


def test_writer_cannot_write_to_an_existing_index_outside_the_daily_layout(keyed: KeyedNamespace) -> None:
    """An index an admin made under the class patterns (an archive, say) takes no event from the writer key (403)."""
    archive = f"{keyed.tiers.prefix}-enterprise-archive"
    keyed.admin.options(ignore_status=400).indices.create(index=archive)
    status = _bulk_status(keyed.as_key(WRITER), archive, "a-1")
    keyed.admin.indices.refresh(index=archive)
    assert (403, 0) == (status, keyed.admin.count(index=archive)["count"])


def test_writer_regexes_match_exactly_the_daily_names_of_a_prefix_of_lucene_operators(keyed: KeyedNamespace) -> None:
    """With a prefix full of characters Lucene gives a meaning (. + ( ) [ ] { } @ & ~ ^ $ ! % ' ; = `, é), a key with
    that namespace's writer descriptor holds the privileges on its daily names and on no near miss."""
    tiers = TierTable(prefix="t.a+b(c)[d]{e}@f&g~h^i$j!k%l'm;n=o`p_q-é")
    day = "2026.12.04"
    matching = [f"{tiers.prefix}-{cls}-{day}" for cls in RETENTION_DAYS] + [
        f"{tiers.prefix}.digest-{cls}-{day}" for cls in RETENTION_DAYS] + [
        f"{tiers.prefix}-enterprise-0001.01.01", f"{tiers.prefix}-business-9999.12.31"]
    missing = [f"{tiers.prefix}-enterprise-{day}x", f"{tiers.prefix}-enterprise-2026.12.4",
               f"{tiers.prefix}-enterprise-2026.00.04", f"{tiers.prefix}-enterprise-2026.12.00",
               f"{tiers.prefix}-enterprise-2026x12.04", f"{tiers.prefix}-enterprise-evil",
               f"t.a+b(c)[d]{{e}}@f&g~h^i$j!k%l'm;n=o`p_q-e-enterprise-{day}",  # é is no e
               f"tXa+b(c)[d]{{e}}@f&g~h^i$j!k%l'm;n=o`p_q-é-enterprise-{day}",  # . is no wildcard
               f"t.aab(c)[d]{{e}}@f&g~h^i$j!k%l'm;n=o`p_q-é-enterprise-{day}",  # + repeats nothing
               f"t.a+bc[d]{{e}}@f&g~h^i$j!k%l'm;n=o`p_q-é-enterprise-{day}",  # ( ) group nothing
               f"t.a+b(c)d{{e}}@f&g~h^i$j!k%l'm;n=o`p_q-é-enterprise-{day}",  # [d] is no class
               f"t.a+b(c)[d]{{e}}@xyzf&g~h^i$j!k%l'm;n=o`p_q-é-enterprise-{day}",  # @ is no "any string"
               f"{tiers.prefix}-digest-enterprise-{day}"]
    descriptor = {k: v for k, v in role_descriptors(tiers)[f"{tiers.prefix}-{WRITER}"].items() if k != "description"}
    created = keyed.admin.security.create_api_key(name=f"{keyed.tiers.prefix}-operators", expiration="1h",
                                                  role_descriptors={"w": descriptor})
    client = Elasticsearch(keyed.node.url, api_key=created["encoded"], ca_certs=keyed.node.ca_certs, max_retries=0)
    answer = client.security.has_privileges(index=[{"names": matching + missing,
                                                     "privileges": list(WRITER_PRIVILEGES)}])["index"]
    held = {name for name, privileges in answer.items() if all(privileges.values())}
    assert (set(matching), set()) == (held, {n for n, p in answer.items() if any(p.values())} - set(matching))


def _bulk_status(client: Elasticsearch, index: str, event_id: str, document: dict[str, object] | None = None) -> int:
    """The status of one bulk ``create`` item (the bulk request itself is accepted; its items are authorised)."""
    result = client.bulk(operations=[{"create": {"_index": index, "_id": event_id}}, document or _event(event_id)])
    return int(result["items"][0]["create"]["status"])


def test_reader_searches_with_point_in_time(keyed: KeyedNamespace) -> None:
    """The reader key opens a point in time, pages through it and closes it."""
    index = _write_one(keyed, "r-ok")
    reader = keyed.as_key(READER)
    pit = reader.open_point_in_time(index=keyed.tiers.read_pattern, keep_alive="1m")["id"]
    try:
        hits = reader.search(pit={"id": pit, "keep_alive": "1m"}, query={"ids": {"values": ["r-ok"]}},
                             sort=[{"@timestamp": "desc"}])["hits"]["hits"]
    finally:
        reader.close_point_in_time(id=pit)
    assert [index] == [h["_index"] for h in hits]


def test_reader_cannot_write_delete_or_read_other_indices(keyed: KeyedNamespace) -> None:
    """Create, overwrite, delete, template changes and reading a non-audit index with the reader key get 403."""
    index = _write_one(keyed, "r-1")
    other = f"{keyed.tiers.prefix}x-other"
    keyed.admin.index(index=other, id="1", document={"secret": "not audit"}, refresh=True)
    reader = keyed.as_key(READER)
    statuses = [
        _status(lambda: reader.create(index=index, id="r-new", document=_event("r-new"))),
        _status(lambda: reader.index(index=index, id="r-1", document=_event("r-1"))),
        _status(lambda: reader.delete(index=index, id="r-1")),
        _status(lambda: reader.indices.delete(index=index)),
        _status(lambda: reader.indices.delete_index_template(name=f"{keyed.tiers.prefix}-enterprise")),
        _status(lambda: reader.get(index=other, id="1")),
        _status(lambda: reader.search(index=other)),
    ]
    keyed.admin.indices.delete(index=other)
    expected = [403] * 7
    assert expected == statuses


def test_each_key_holds_exactly_its_privileges(keyed: KeyedNamespace) -> None:
    """_has_privileges with each key grants exactly the privileges of its role descriptor, nothing more."""
    index_privileges = [*WRITER_PRIVILEGES, "create_doc", "create_index", "read", "view_index_metadata",
                        "index", "write", "delete", "delete_index", "manage"]
    cluster_privileges = ["monitor", "manage_index_templates", "manage_ilm", "manage_security", "manage_api_key",
                          "all"]
    expected, actual = {}, {}
    for role in (WRITER, READER):
        descriptor = role_descriptors(keyed.tiers)[f"{keyed.tiers.prefix}-{role}"]
        expected[role] = (set(descriptor["cluster"]), set(descriptor["indices"][0]["privileges"]))
        # daily names: the writer's regular expressions cover no class pattern, only the names the agent makes
        day = datetime.now(UTC).date()
        patterns = [name for cls in RETENTION_DAYS
                    for name in (keyed.tiers.index_for_day(cls, day), keyed.tiers.digest_index_for_day(cls, day))]
        answer = keyed.as_key(role).security.has_privileges(
            cluster=cluster_privileges, index=[{"names": patterns, "privileges": index_privileges}])
        granted = [{p for p, ok in answer["index"][pattern].items() if ok} for pattern in patterns]
        actual[role] = ({p for p, ok in answer["cluster"].items() if ok}, *{frozenset(g) for g in granted})
    assert {role: (cluster, frozenset(index)) for role, (cluster, index) in expected.items()} == actual


def test_revoked_key_gets_401(secure_node: SecureNodeInfo, keyed: KeyedNamespace) -> None:
    """A reader key revoked with `auditlog keys revoke` is rejected with 401 from then on."""
    created = run_setup(keyed.admin, keyed.tiers, api_keys=True, key_expiration="1h").api_keys
    reader = next(k for k in created if k.role == READER)
    client = Elasticsearch(secure_node.url, api_key=reader.encoded, ca_certs=secure_node.ca_certs, max_retries=0)
    before = _status(lambda: client.search(index=keyed.tiers.read_pattern))
    code = main(["keys", "revoke", reader.id, "--es", secure_node.url, "--ca-certs", secure_node.ca_certs,
                 "--user", secure_node.username, "--password", secure_node.password, "--prefix", keyed.tiers.prefix])
    expected = (200, 0, 401)
    assert expected == (before, code, _status(lambda: client.search(index=keyed.tiers.read_pattern)))


def test_wrong_api_key_gets_401(secure_node: SecureNodeInfo) -> None:
    """An API key the cluster does not know is rejected with 401."""
    bogus = Elasticsearch(secure_node.url, api_key="bm90LWEta2V5Om5vdC1hLXNlY3JldA==", ca_certs=secure_node.ca_certs,
                          max_retries=0)
    expected = 401
    assert expected == _status(lambda: bogus.search(index="audit-*"))


def test_tls_is_verified_against_the_node_ca(secure_node: SecureNodeInfo) -> None:
    """Without the node's CA the certificate is rejected; with it the same request succeeds."""
    untrusted = Elasticsearch(secure_node.url, basic_auth=(secure_node.username, secure_node.password),
                              max_retries=0, request_timeout=10)
    with pytest.raises(ESConnectionError) as caught:
        untrusted.cluster.health()
    assert "certificate verify failed" in str(caught.value.message)
    assert _admin(secure_node).cluster.health()["status"] in ("green", "yellow")


def test_setup_on_secure_node_stores_roles_and_is_idempotent(secure_node: SecureNodeInfo) -> None:
    """Setup stores both roles in the security index; a second run changes nothing."""
    tiers = TierTable(prefix=f"t{uuid.uuid4().hex[:10]}-audit")
    admin = _admin(secure_node)
    try:
        first = run_setup(admin, tiers)
        second = run_setup(admin, tiers)
        expected = (set(role_descriptors(tiers)), [UNCHANGED] * len(second.changes))
        assert expected == ({c.name for c in first.changes if c.kind == "role"}, [c.action for c in second.changes])
    finally:
        _cleanup(secure_node, tiers)


def test_setup_replaces_a_writer_role_of_version_4_by_the_daily_names(secure_node: SecureNodeInfo) -> None:
    """A writer role an earlier setup stored (version 4: the class patterns) is replaced: its names become the
    daily regular expressions."""
    tiers = TierTable(prefix=f"t{uuid.uuid4().hex[:10]}-audit")
    admin = _admin(secure_node)
    name = f"{tiers.prefix}-{WRITER}"
    try:
        version_4 = {"indices": [{"names": [*tiers.read_patterns, *tiers.digest_patterns],
                                  "privileges": list(WRITER_PRIVILEGES)}],
                     "metadata": {"managed_by": "auditlog", "version": 4, "role": WRITER}}
        admin.security.put_role(name=name, body=version_4)
        report = run_setup(admin, tiers)
        names = admin.security.get_role(name=name)[name]["indices"][0]["names"]
        action = next(c.action for c in report.changes if c.name == name)
        assert (UPDATED, [*tiers.daily_regexes, *tiers.digest_daily_regexes]) == (action, names)
    finally:
        _cleanup(secure_node, tiers)


def test_setup_refuses_to_replace_a_role_of_the_same_name_it_did_not_make(secure_node: SecureNodeInfo) -> None:
    """A role named like the namespace's writer but made by someone else is neither replaced nor joined by templates:
    setup stops first with one line naming it."""
    tiers = TierTable(prefix=f"t{uuid.uuid4().hex[:10]}-audit")
    admin = _admin(secure_node)
    name = f"{tiers.prefix}-{WRITER}"
    theirs = {"cluster": ["monitor"], "indices": [{"names": ["their-logs-*"], "privileges": ["read"]}]}
    try:
        admin.security.put_role(name=name, body=theirs)
        with pytest.raises(SetupError) as refused:
            run_setup(admin, tiers)
        stored = admin.security.get_role(name=name)[name]
        templates = admin.options(ignore_status=404).indices.get_index_template(
            name=f"{tiers.prefix}-*").body.get("index_templates")  # none: 404 with an empty list
        expected: tuple[list[bool], list[str], list[object]] = ([True], ["their-logs-*"], [])
        assert expected == ([name in str(refused.value)], stored["indices"][0]["names"], templates)
    finally:
        _cleanup(secure_node, tiers)


def test_cli_setup_without_ca_fails_on_tls(
    secure_node: SecureNodeInfo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`auditlog setup` against the TLS node without its CA exits 1 with one line about the certificate."""
    monkeypatch.setenv("AUDITLOG_ES_PASSWORD", secure_node.password)
    code = main(["setup", "--es", secure_node.url, "--user", secure_node.username, "--prefix", "tnoca-audit"])
    err = capsys.readouterr().err.strip()
    expected = (1, 1, True)
    assert expected == (code, len(err.splitlines()), "certificate verify failed" in err)


def test_cli_setup_with_bad_password_fails_with_401_line(
    secure_node: SecureNodeInfo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`auditlog setup` with wrong credentials exits 1 with one line saying they were rejected."""
    monkeypatch.setenv("AUDITLOG_ES_PASSWORD", "wrong")
    code = main(["setup", "--es", secure_node.url, "--ca-certs", secure_node.ca_certs,
                 "--user", secure_node.username, "--prefix", "tbadpw-audit"])
    err = capsys.readouterr().err.strip()
    expected = (1, 1, True)
    assert expected == (code, len(err.splitlines()), "rejected the credentials (401)" in err)


def test_cli_setup_with_reader_key_fails_naming_the_privilege(
    keyed: KeyedNamespace, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`auditlog setup` with the reader key exits 1 with one line naming the privilege it needs."""
    monkeypatch.setenv("AUDITLOG_ES_API_KEY", keyed.key(READER)["encoded"])
    code = main(["setup", "--es", keyed.node.url, "--ca-certs", keyed.node.ca_certs, "--prefix", keyed.tiers.prefix])
    err = capsys.readouterr().err.strip()
    expected = (1, 1, True)
    assert expected == (code, len(err.splitlines()), "manage_index_templates" in err)


def test_keys_embed_the_role_descriptors(keyed: KeyedNamespace) -> None:
    """The stored writer and reader keys carry exactly their role's index privileges (read back from the cluster)."""
    stored = {}
    for role in (WRITER, READER):
        key = keyed.admin.security.get_api_key(id=keyed.key(role)["id"])["api_keys"][0]
        (descriptor,) = key["role_descriptors"].values()
        entry = descriptor["indices"][0]
        stored[role] = (descriptor["cluster"], entry["names"], entry["privileges"])
    expected = {role: (d["cluster"], d["indices"][0]["names"], d["indices"][0]["privileges"])
                for role, d in zip((WRITER, READER), role_descriptors(keyed.tiers).values(), strict=True)}
    assert expected == stored


def test_writer_key_appends_digests_and_reader_key_cannot_forge_them(keyed: KeyedNamespace, tmp_path: Path) -> None:
    """The writer key stores the agent's digests (auto-creating the digest index); the reader key reads them but
    is refused a write (403), so it cannot forge a digest."""
    from auditlog.agent.digest import pack
    from auditlog.agent.digest_writer import DigestWriter
    from auditlog.agent.registry import Registry
    from auditlog.agent.signing import load_key
    from auditlog.indexer.integrity import Record

    tiers = keyed.tiers
    registry = Registry(tmp_path)
    writer = DigestWriter(registry, keyed.as_key(WRITER), load_key(tmp_path), tiers)
    day = datetime.now(UTC).date()
    index = tiers.index_for_day("enterprise", day)
    blob = pack([Record(index, "ev-1", b"\x01" * 32, f"{day.isoformat()}T10:00:00Z", "s", 1)])

    def store(db: sqlite3.Connection) -> None:
        db.execute("INSERT INTO digest_pending (records) VALUES (?)", (blob,))

    registry.commit_offsets({}, store)
    sealed, sent = writer.seal(), writer.send()
    registry.close()
    keyed.admin.indices.refresh(index=tiers.digest_pattern)
    reader = keyed.as_key(READER)
    stored = reader.count(index=tiers.digest_pattern)["count"]
    forged = _status(lambda: reader.index(index=tiers.digest_index_for_day("enterprise", day), id="forged",
                                          document={"digest": {"seq": 99}}))
    assert (sealed, sent, stored, forged) == (1, 1, 1, 403)


def test_reader_key_verifies_the_namespace(keyed: KeyedNamespace, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """`auditlog verify` with the reader key lists the namespace's indices and reads its events and digests (no
    cluster privilege, as docs/elastic-admin.md says): a report, no error line."""
    _write_one(keyed, "v-verify")
    monkeypatch.setenv("AUDITLOG_ES_API_KEY", keyed.key(READER)["encoded"])
    main(["verify", "--json", "--es", keyed.node.url, "--ca-certs", keyed.node.ca_certs,
          "--prefix", keyed.tiers.prefix])
    out, err = capsys.readouterr()
    # other tests of this module leave digests that make problems: the point is a report, not an error line
    assert (err.strip(), json.loads(out or "{}").get("events", 0) >= 1) == ("", True)


def test_reader_key_exports_with_verify(keyed: KeyedNamespace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """`auditlog export --verify` with the reader key verifies and writes the workbook: no error line."""
    _write_one(keyed, "v-export")
    monkeypatch.setenv("AUDITLOG_ES_API_KEY", keyed.key(READER)["encoded"])
    main(["export", "--verify", "-o", str(tmp_path / "out.xlsx"), "--es", keyed.node.url, "--ca-certs",
          keyed.node.ca_certs, "--prefix", keyed.tiers.prefix])
    assert (capsys.readouterr().err.strip(), (tmp_path / "out.xlsx").is_file()) == ("", True)


@contextlib.contextmanager
def _version_4_writer_key(ns: KeyedNamespace) -> Iterator[tuple[str, Elasticsearch]]:
    """A writer key as `auditlog setup --api-keys` made it with the roles' version 4 (the class patterns), made by
    the admin; its id and a client authenticating with it; revoked afterwards."""
    descriptor = {"cluster": [], "indices": [{"names": [*ns.tiers.read_patterns, *ns.tiers.digest_patterns],
                                              "privileges": list(WRITER_PRIVILEGES)}],
                  "metadata": {"managed_by": "auditlog", "version": 4, "role": WRITER}}
    made = ns.admin.security.create_api_key(
        name=f"{ns.tiers.prefix}-{WRITER}-v4", role_descriptors={f"{ns.tiers.prefix}-{WRITER}": descriptor},
        metadata={"managed_by": "auditlog", "role": WRITER, "namespace": ns.tiers.prefix})
    client = Elasticsearch(ns.node.url, api_key=made["encoded"], ca_certs=ns.node.ca_certs, request_timeout=30,
                           max_retries=0)
    try:
        yield str(made["id"]), client
    finally:
        client.close()
        ns.admin.security.invalidate_api_key(ids=[made["id"]])


def _keys_cli(ns: KeyedNamespace, *action: str) -> tuple[int, str]:
    """`auditlog keys ACTION` as the admin (who made the keys) in the namespace: exit status and stdout."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["keys", *action, "--es", ns.node.url, "--ca-certs", ns.node.ca_certs,
                     "--user", ns.node.username, "--password", ns.node.password, "--prefix", ns.tiers.prefix])
    return code, out.getvalue()


def _listed_broader(ns: KeyedNamespace) -> dict[str, bool]:
    """`auditlog keys list --json`: key id -> broader."""
    code, out = _keys_cli(ns, "list", "--json")
    assert code == 0, out
    return {key["id"]: key["broader"] for key in map(json.loads, out.splitlines())}


def test_a_writer_key_of_version_4_auto_creates_a_name_outside_the_daily_layout(keyed: KeyedNamespace) -> None:
    """A writer key made with the version-4 descriptor still auto-creates `<prefix>-enterprise-evil` (why it must be
    narrowed: the key embeds its descriptor, setup's new role does not change it)."""
    evil = f"{keyed.tiers.prefix}-enterprise-evil4"
    with _version_4_writer_key(keyed) as (_, client):
        status = _bulk_status(client, evil, "e-1")
    assert (201, True) == (status, bool(keyed.admin.indices.exists(index=evil)))


def test_keys_list_marks_a_writer_key_of_version_4_broader(keyed: KeyedNamespace) -> None:
    """`auditlog keys list` marks a version-4 writer key BROADER than a new writer key, and setup's own keys not."""
    with _version_4_writer_key(keyed) as (key_id, _):
        broader = _listed_broader(keyed)
        _, text = _keys_cli(keyed, "list")
    line = next(line for line in text.splitlines() if line.startswith(key_id))
    expected = (True, False, False, True)
    assert expected == (broader[key_id], broader[keyed.key(WRITER)["id"]], broader[keyed.key(READER)["id"]],
                        line.endswith("  BROADER than a new writer key: auditlog keys narrow"))


def test_keys_narrow_takes_the_class_patterns_from_a_writer_key_of_version_4(keyed: KeyedNamespace) -> None:
    """`auditlog keys narrow ID` gives a version-4 writer key the daily names in place: one line, exit 0, and the same
    secret now gets 403 for `<prefix>-enterprise-evil`, which is not created."""
    evil = f"{keyed.tiers.prefix}-enterprise-evil5"
    with _version_4_writer_key(keyed) as (key_id, client):
        code, out = _keys_cli(keyed, "narrow", key_id)
        status = _bulk_status(client, evil, "e-2")
    expected = (0, [f"narrowed {key_id} (writer): the daily indices only, secret unchanged"], 403, False)
    assert expected == (code, out.splitlines(), status, bool(keyed.admin.indices.exists(index=evil)))


def test_a_narrowed_writer_key_still_writes_today_s_events_and_a_digest(keyed: KeyedNamespace) -> None:
    """After `auditlog keys narrow`, the version-4 writer key (same secret) appends to today's daily index and
    auto-creates a digest index of a day without one, as the agent does."""
    day = datetime.now(UTC) - timedelta(days=6)
    digest = keyed.tiers.digest_index_for_day("enterprise", day.date())
    with _version_4_writer_key(keyed) as (key_id, client):
        assert _keys_cli(keyed, "narrow", key_id)[0] == 0
        today = keyed.tiers.index_for("enterprise", datetime.now(UTC))
        statuses = (_bulk_status(client, today, "n-today"),
                    _bulk_status(client, digest, "n-digest", {"agent": {"id": "a"}, "@timestamp": day.isoformat()}))
    assert ((201, 201), True) == (statuses, bool(keyed.admin.indices.exists(index=digest)))


def test_keys_list_no_longer_marks_a_narrowed_writer_key(keyed: KeyedNamespace) -> None:
    """`keys list` marks a version-4 writer key broader before `auditlog keys narrow` and no longer after it, its
    metadata (auditlog's, role writer) kept."""
    with _version_4_writer_key(keyed) as (key_id, _):
        before = _listed_broader(keyed)[key_id]
        assert _keys_cli(keyed, "narrow")[0] == 0
        after = _listed_broader(keyed)[key_id]
        meta = keyed.admin.security.get_api_key(id=key_id)["api_keys"][0]["metadata"]
    expected = (True, False, {"managed_by": "auditlog", "role": WRITER, "namespace": keyed.tiers.prefix})
    assert expected == (before, after, meta)


@contextlib.contextmanager
def _reading_maker(ns: KeyedNamespace) -> Iterator[tuple[str, str, Callable[[], object]]]:
    """A user who may only read the namespace (and manage its own API keys); yields its name, its password and a
    function that lets it write there too (a role added later). User and roles are deleted afterwards."""
    user, password = f"{ns.tiers.prefix}-maker", uuid.uuid4().hex
    names = [f"{ns.tiers.prefix}-*", f"{ns.tiers.prefix}.digest-*"]
    ns.admin.security.put_role(name=f"{user}-read", cluster=["manage_own_api_key"],
                               indices=[{"names": names, "privileges": ["read"]}])
    ns.admin.security.put_role(name=f"{user}-all", indices=[{"names": names, "privileges": ["all"]}])
    ns.admin.security.put_user(username=user, password=password, roles=[f"{user}-read"])
    try:
        yield user, password, lambda: ns.admin.security.put_user(username=user, roles=[f"{user}-read", f"{user}-all"])
    finally:
        ns.admin.options(ignore_status=404).security.delete_user(username=user)
        for role in (f"{user}-read", f"{user}-all"):
            ns.admin.options(ignore_status=404).security.delete_role(name=role)


def test_keys_narrow_never_lets_a_key_write_that_its_maker_could_not_when_it_was_made(keyed: KeyedNamespace) -> None:
    """`keys narrow` refuses a writer key whose descriptor held `all` while its maker could only read, after the maker
    was given more: the update takes the maker's privileges of today, so the key would write where it could not."""
    today = keyed.tiers.index_for("enterprise", datetime.now(UTC))
    with _reading_maker(keyed) as (user, password, widen_maker):
        maker = Elasticsearch(keyed.node.url, basic_auth=(user, password), ca_certs=keyed.node.ca_certs,
                              request_timeout=30)
        made = maker.security.create_api_key(
            name=f"{keyed.tiers.prefix}-{WRITER}-old", role_descriptors={f"{keyed.tiers.prefix}-{WRITER}": {
                "indices": [{"names": [f"{keyed.tiers.prefix}-*", f"{keyed.tiers.prefix}.digest-*"],
                             "privileges": ["all"]}]}},
            metadata={"managed_by": "auditlog", "role": WRITER, "namespace": keyed.tiers.prefix})
        key = Elasticsearch(keyed.node.url, api_key=made["encoded"], ca_certs=keyed.node.ca_certs, request_timeout=30,
                            max_retries=0)
        try:
            before = _status(lambda: _bulk_status(key, today, "m-before"))
            widen_maker()
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                code = main(["keys", "narrow", made["id"], "--es", keyed.node.url, "--ca-certs",
                             keyed.node.ca_certs, "--user", user, "--password", password, "--prefix",
                             keyed.tiers.prefix])
            after = _status(lambda: _bulk_status(key, today, "m-after"))
        finally:
            key.close()
            maker.close()
            keyed.admin.security.invalidate_api_key(ids=[made["id"]])
    # the refusal is the maker check's, not an error on the way to it (a 403 reading the key once passed here)
    assert (before, code, out.getvalue().startswith(f"not narrowed {made['id']} (writer): its maker could not grant"),
            after) == (403, 1, True, 403), (out.getvalue(), after)
