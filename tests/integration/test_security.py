"""Security on real TLS nodes: the writer/reader roles grant exactly what each component needs.

Two nodes: the shared secure node (``secure_node``: TLS, 401s, setup and the CLI's error lines) and a
node of our own whose file realm carries the roles exactly as ``auditlog setup --print-roles`` renders
them, with one user per role. The minimal test distribution cannot create the ``.security`` index
(it lacks the analysis-common module), so roles and API keys cannot be stored through the API there;
the file realm applies the very same descriptors that setup stores and embeds in API keys.
"""

from __future__ import annotations

import base64
import hashlib
import os
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from elasticsearch import AuthenticationException, AuthorizationException, Elasticsearch
from elasticsearch import ConnectionError as ESConnectionError

from auditlog.agent.digest import pack
from auditlog.agent.digest_writer import DigestWriter
from auditlog.agent.registry import Registry
from auditlog.agent.signing import load_key
from auditlog.cli import main
from auditlog.indexer.integrity import Record
from auditlog.indexer.security import READER, WRITER, role_descriptors, role_name, roles_yml
from auditlog.indexer.setup import UNCHANGED, SetupError, run_setup
from auditlog.indexer.tiers import TierTable
from tests.support.node import SecureNodeInfo, start_test_node, stop_test_node

PASSWORDS = {WRITER: "writer-" + uuid.uuid4().hex, READER: "reader-" + uuid.uuid4().hex}


def _pbkdf2(password: str) -> str:
    """Hash a password in Elasticsearch's ``{PBKDF2}`` users-file format (PBKDF2-HMAC-SHA512, 256-bit key)."""
    salt, cost = os.urandom(32), 10_000
    key = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, cost, 32)
    return f"{{PBKDF2}}{cost}${base64.b64encode(salt).decode()}${base64.b64encode(key).decode()}"


@dataclass(frozen=True)
class RoleNode:
    """A secure node whose file realm has a writer and a reader user holding our roles."""

    url: str
    ca_certs: str
    tiers: TierTable
    admin: Elasticsearch

    def as_user(self, role: str, password: str | None = None) -> Elasticsearch:
        """Return a client logged in as the user holding ``role`` (TLS verified against the node's CA)."""
        return Elasticsearch(self.url, basic_auth=(role, password or PASSWORDS[role]), ca_certs=self.ca_certs,
                             request_timeout=30, max_retries=0)


@pytest.fixture(scope="module")
def role_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoleNode]:
    """Start a secure node, install templates, and give it file-realm users with the rendered roles."""
    node = start_test_node(tmp_path_factory.mktemp("es-roles"), secure=True)
    try:
        assert node.ca_path is not None and node.password is not None
        tiers = TierTable(prefix=f"t{uuid.uuid4().hex[:10]}-audit")
        admin = Elasticsearch(node.url, basic_auth=("elastic", node.password), ca_certs=str(node.ca_path),
                              request_timeout=60)
        run_setup(admin, tiers)
        config = node.state_dir / "config"
        files = {
            "roles.yml": roles_yml(tiers),
            "users": "".join(f"{role}:{_pbkdf2(pw)}\n" for role, pw in PASSWORDS.items()),
            "users_roles": "".join(f"{role_name(tiers, role)}:{role}\n" for role in PASSWORDS),
        }
        for name, text in files.items():
            path = Path(config / name)
            path.write_text(text)
            path.chmod(0o644)
        role_node = RoleNode(node.url, str(node.ca_path), tiers, admin)
        _wait_for_file_realm(role_node)
        yield role_node
        admin.close()
    finally:
        stop_test_node(node)


def _wait_for_file_realm(node: RoleNode, timeout: float = 60.0) -> None:
    """Wait until Elasticsearch has reloaded the users and roles files (it polls them every few seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            roles = [node.as_user(role).security.authenticate()["roles"] for role in PASSWORDS]
            if roles == [[role_name(node.tiers, role)] for role in PASSWORDS]:
                return
        except AuthenticationException:
            pass
        if time.monotonic() > deadline:
            raise AssertionError("the node did not load the file-realm users and roles")
        time.sleep(0.5)


def _event(event_id: str) -> dict[str, object]:
    return {"@timestamp": datetime.now(UTC).isoformat(), "event": {"id": event_id, "action": "update"},
            "audit": {"source": "appointments", "tier": "enterprise"}, "organization": {"id": "org-1"}}


def _write_one(node: RoleNode, event_id: str) -> str:
    """Create one event as the writer (auto-creating today's index) and return the index."""
    index = node.tiers.index_for("enterprise", datetime.now(UTC))
    result = node.as_user(WRITER).bulk(operations=[{"create": {"_index": index, "_id": event_id}}, _event(event_id)])
    expected = [201]
    assert expected == [item["create"]["status"] for item in result["items"]]
    node.admin.indices.refresh(index=index)
    return index


def _status(call: Callable[[], object]) -> int:
    """Run a request and return 200, or the HTTP status it was refused with."""
    try:
        call()
    except (AuthorizationException, AuthenticationException) as exc:
        return exc.meta.status
    return 200


def test_writer_creates_todays_index_and_appends(role_node: RoleNode) -> None:
    """The writer auto-creates today's index from the templates (mapped with dynamic=false) and appends."""
    index = _write_one(role_node, "w-ok")
    mapping = role_node.admin.indices.get_mapping(index=index)[index]["mappings"]
    expected = ("false", True)
    assert expected == (str(mapping["dynamic"]).lower(), role_node.admin.get(index=index, id="w-ok")["found"])


def test_writer_cannot_search_read_delete_or_overwrite(role_node: RoleNode) -> None:
    """Search, get, overwrite, delete-document and delete-index as the writer are all refused with 403."""
    index = _write_one(role_node, "w-1")
    writer = role_node.as_user(WRITER)
    statuses = [
        _status(lambda: writer.search(index=role_node.tiers.read_pattern, query={"match_all": {}})),
        _status(lambda: writer.get(index=index, id="w-1")),
        _status(lambda: writer.index(index=index, id="w-1", document=_event("w-1"))),
        _status(lambda: writer.delete(index=index, id="w-1")),
        _status(lambda: writer.indices.delete(index=index)),
    ]
    expected = [403] * 5
    assert expected == statuses
    assert role_node.admin.get(index=index, id="w-1")["found"]


def test_writer_may_check_cluster_health(role_node: RoleNode) -> None:
    """The writer's cluster monitor privilege lets the agent check health before shipping."""
    expected = 200
    assert expected == _status(lambda: role_node.as_user(WRITER).cluster.health())


def test_reader_searches_with_point_in_time(role_node: RoleNode) -> None:
    """The reader opens a point in time, pages through it and closes it."""
    index = _write_one(role_node, "r-ok")
    reader = role_node.as_user(READER)
    pit = reader.open_point_in_time(index=role_node.tiers.read_pattern, keep_alive="1m")["id"]
    try:
        hits = reader.search(pit={"id": pit, "keep_alive": "1m"}, query={"ids": {"values": ["r-ok"]}},
                             sort=[{"@timestamp": "desc"}])["hits"]["hits"]
    finally:
        reader.close_point_in_time(id=pit)
    assert [index] == [h["_index"] for h in hits]


def test_reader_cannot_write_or_delete(role_node: RoleNode) -> None:
    """Create, overwrite, delete-document, delete-index and template changes as the reader are refused with 403."""
    index = _write_one(role_node, "r-1")
    reader = role_node.as_user(READER)
    statuses = [
        _status(lambda: reader.create(index=index, id="r-new", document=_event("r-new"))),
        _status(lambda: reader.index(index=index, id="r-1", document=_event("r-1"))),
        _status(lambda: reader.delete(index=index, id="r-1")),
        _status(lambda: reader.indices.delete(index=index)),
        _status(lambda: reader.indices.delete_index_template(name=f"{role_node.tiers.prefix}-enterprise")),
    ]
    expected = [403] * 5
    assert expected == statuses


def test_each_role_holds_exactly_its_privileges(role_node: RoleNode) -> None:
    """_has_privileges reports for writer and reader exactly the privileges of their descriptors, nothing more."""
    index_privileges = ["create_doc", "create_index", "auto_configure", "read", "view_index_metadata",
                        "index", "write", "delete", "delete_index", "manage"]
    cluster_privileges = ["monitor", "manage_index_templates", "manage_ilm", "manage_security", "all"]
    expected, actual = {}, {}
    for role in (WRITER, READER):
        descriptor = role_descriptors(role_node.tiers)[role_name(role_node.tiers, role)]
        expected[role] = (set(descriptor["cluster"]), set(descriptor["indices"][0]["privileges"]))
        answer = role_node.as_user(role).security.has_privileges(
            cluster=cluster_privileges,
            index=[{"names": [role_node.tiers.read_pattern], "privileges": index_privileges}],
        )
        granted = answer["index"][role_node.tiers.read_pattern]
        actual[role] = ({p for p, ok in answer["cluster"].items() if ok}, {p for p, ok in granted.items() if ok})
    assert expected == actual


def test_writer_appends_digests_and_reader_cannot_forge_them(role_node: RoleNode, tmp_path: Path) -> None:
    """The writer user stores the agent's digests; the reader user can read them but is refused a write (403)."""
    tiers = role_node.tiers
    registry = Registry(tmp_path)
    writer = DigestWriter(registry, role_node.as_user(WRITER), load_key(tmp_path), tiers)
    index = tiers.index_for_day("enterprise", date(2026, 12, 2))
    blob = pack([Record(index, "ev-1", b"\x01" * 32, "2026-12-02T10:00:00Z", "s", 1)])

    def store(db: sqlite3.Connection) -> None:
        db.execute("INSERT INTO digest_pending (records) VALUES (?)", (blob,))

    registry.commit_offsets({}, store)
    sealed, sent = writer.seal(), writer.send()
    registry.close()
    role_node.admin.indices.refresh(index=tiers.digest_pattern)
    reader = role_node.as_user(READER)
    stored = reader.count(index=tiers.digest_pattern)["count"]
    forged = _status(lambda: reader.index(index=tiers.digest_index_for_day("enterprise", date(2026, 12, 2)),
                                          id="forged", document={"digest": {"seq": 99}}))
    assert (sealed, sent, stored, forged) == (1, 1, 1, 403)


def test_wrong_password_gets_401(role_node: RoleNode) -> None:
    """A wrong password for an existing role user is rejected with 401."""
    expected = 401
    assert expected == _status(lambda: role_node.as_user(READER, "wrong").search(index=role_node.tiers.read_pattern))


# -- the shared secure node ----------------------------------------------------------------------------------


@pytest.fixture
def secure_tiers(secure_node: SecureNodeInfo) -> Iterator[TierTable]:
    """A unique namespace on the shared secure node, removed afterwards."""
    tiers = TierTable(prefix=f"t{uuid.uuid4().hex[:10]}-audit")
    yield tiers
    admin = _admin(secure_node)
    admin.options(ignore_status=404).indices.delete(index=f"{tiers.prefix}-*", expand_wildcards="all")
    admin.options(ignore_status=404).indices.delete_index_template(name=f"{tiers.prefix}-*")
    admin.options(ignore_status=404).cluster.delete_component_template(name=f"{tiers.prefix}-*")
    for name in role_descriptors(tiers):
        admin.options(ignore_status=(400, 404, 500)).security.delete_role(name=name)
    admin.options(ignore_status=(400, 404, 500)).security.invalidate_api_key(name=f"{tiers.prefix}-*")
    admin.close()


def _admin(node: SecureNodeInfo) -> Elasticsearch:
    return Elasticsearch(node.url, basic_auth=(node.username, node.password), ca_certs=node.ca_certs,
                         request_timeout=60)


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


def test_setup_on_secure_node_is_idempotent(secure_node: SecureNodeInfo, secure_tiers: TierTable) -> None:
    """Setup installs templates and roles (or says in a note why roles must be files); a second run changes nothing."""
    admin = _admin(secure_node)
    first = run_setup(admin, secure_tiers)
    roles_done = {c.name for c in first.changes if c.kind == "role"} == set(role_descriptors(secure_tiers))
    roles_noted = any("--print-roles" in note for note in first.notes)
    second = run_setup(admin, secure_tiers)
    assert (True, [UNCHANGED] * len(second.changes)) == (roles_done or roles_noted, [c.action for c in second.changes])


def test_api_keys_authenticate_or_fail_in_one_line(secure_node: SecureNodeInfo, secure_tiers: TierTable) -> None:
    """--api-keys yields a writer and a reader key that authenticate, or a SetupError naming the security index."""
    admin = _admin(secure_node)
    try:
        keys = run_setup(admin, secure_tiers, api_keys=True, key_expiration="1h").api_keys
    except SetupError as exc:
        assert "security index" in str(exc) and "\n" not in str(exc)
        return
    roles = [Elasticsearch(secure_node.url, api_key=k.encoded, ca_certs=secure_node.ca_certs)
             .security.authenticate()["api_key"]["name"].rsplit("-", 2)[1] for k in keys]
    expected = [WRITER, READER]
    assert expected == roles


def test_cli_setup_without_ca_fails_on_tls(
    secure_node: SecureNodeInfo, secure_tiers: TierTable, capsys: pytest.CaptureFixture[str]
) -> None:
    """`auditlog setup` against the TLS node without its CA exits 1 with one line about the certificate."""
    code = main(["setup", "--es", secure_node.url, "--user", secure_node.username,
                 "--password", secure_node.password, "--prefix", secure_tiers.prefix])
    err = capsys.readouterr().err.strip()
    expected = (1, 1, True)
    assert expected == (code, len(err.splitlines()), "certificate verify failed" in err)


def test_cli_setup_with_bad_password_fails_with_401_line(
    secure_node: SecureNodeInfo, secure_tiers: TierTable, capsys: pytest.CaptureFixture[str]
) -> None:
    """`auditlog setup` with wrong credentials exits 1 with one line saying they were rejected."""
    code = main(["setup", "--es", secure_node.url, "--ca-certs", secure_node.ca_certs,
                 "--user", secure_node.username, "--password", "wrong", "--prefix", secure_tiers.prefix])
    err = capsys.readouterr().err.strip()
    expected = (1, 1, True)
    assert expected == (code, len(err.splitlines()), "rejected the credentials (401)" in err)


def test_cli_setup_as_reader_fails_naming_the_privilege(
    role_node: RoleNode, capsys: pytest.CaptureFixture[str]
) -> None:
    """`auditlog setup` as a user without template privileges exits 1 with one line naming what it needs."""
    code = main(["setup", "--es", role_node.url, "--ca-certs", role_node.ca_certs, "--user", READER,
                 "--password", PASSWORDS[READER], "--prefix", role_node.tiers.prefix])
    err = capsys.readouterr().err.strip()
    expected = (1, 1, True)
    assert expected == (code, len(err.splitlines()), "manage_index_templates" in err)
