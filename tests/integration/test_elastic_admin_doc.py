"""docs/elastic-admin.md's command lines, run as documented against the real node.

Each test names the doc line it runs. The lines run with ``--es`` and ``--prefix`` added (the test's
node and namespace) and ``--now`` where the doc's output depends on the date; otherwise as written.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch, helpers

from auditlog.cli import main
from auditlog.indexer.mapped import find_misshapen
from auditlog.indexer.security import READER, WRITER, WRITER_PRIVILEGES, role_descriptors, role_name
from auditlog.indexer.setup import install_templates
from auditlog.indexer.tiers import TierTable
from tests.support.node import SecureNodeInfo
from tests.support.waiting import wait_until

DOC = Path(__file__).resolve().parents[2] / "docs" / "elastic-admin.md"
#: the date at which the doc's `retention status` example was taken: one enterprise and one professional
#: index overdue, none of business
EXAMPLE_NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
EXAMPLE_DAYS = {
    "enterprise": [date(2026, 10, 26), date(2026, 11, 24), date(2026, 11, 25)],
    "business": [date(2026, 11, 20), date(2026, 11, 24), date(2026, 11, 25)],
    "professional": [date(2026, 11, 22), date(2026, 11, 24), date(2026, 11, 25)],
}
DOCS_PER_INDEX = 20
JSON_HEADERS = {"content-type": "application/json", "accept": "application/json"}


def _doc_block(first_line: str) -> list[str]:
    """The lines of the doc's fenced block that starts with ``first_line``, that line included."""
    text = DOC.read_text()
    start = text.index(f"```\n{first_line}\n") + len("```\n")
    return text[start:text.index("\n```", start)].splitlines()


def _dev_tools_requests(text: str) -> list[tuple[str, dict[str, object]]]:
    """`PUT path` + JSON body blocks as (path, body) pairs."""
    return [(path, json.loads(body)) for block in text.split("PUT ")[1:] for path, _, body in [block.partition("\n")]]


def _example_namespace(es: Elasticsearch, tiers: TierTable) -> None:
    """The doc's example: three daily indices per class of 20 documents each, templates installed."""
    install_templates(es, tiers, ilm=False)
    operations: list[dict[str, object]] = []
    for cls, days in EXAMPLE_DAYS.items():
        for day in days:
            index = tiers.index_for_day(cls, day)
            for n in range(DOCS_PER_INDEX):
                operations += [{"create": {"_index": index}},
                               {"@timestamp": f"{day.isoformat()}T10:00:{n:02d}Z", "message": "example"}]
    response = es.bulk(operations=operations, refresh=True)
    assert not response["errors"], response["items"][:3]


def _overdue(tiers: TierTable) -> list[str]:
    return sorted([tiers.index_for_day("enterprise", date(2026, 10, 26)),
                   tiers.index_for_day("professional", date(2026, 11, 22))])


def test_print_template_minimal_cluster_requests_are_what_setup_installs(
    es: Elasticsearch, es_url: str, namespace: TierTable, capsys: pytest.CaptureFixture[str]
) -> None:
    """elastic-admin.md:17 and :27: `setup --print template --minimal-cluster` with the replicas of one data node,
    sent as Dev Tools requests, leaves setup nothing to change on the minimal node."""
    replicas = [flag for cls in ("enterprise", "business", "professional") for flag in ("--replicas", f"{cls}=0")]
    assert 0 == main(["setup", "--print", "template", "--minimal-cluster", *replicas, "--prefix", namespace.prefix])
    for path, body in _dev_tools_requests(capsys.readouterr().out):
        es.perform_request("PUT", f"/{path}", body=body, headers=JSON_HEADERS)
    assert 0 == main(["setup", "--es", es_url, "--prefix", namespace.prefix, "--json"])
    report = json.loads(capsys.readouterr().out)
    templates = {c["name"]: c["action"] for c in report["changes"] if c["kind"].endswith("template")}
    assert {name: "unchanged" for name in templates} == templates


@pytest.fixture
def secure_namespace(secure_node: SecureNodeInfo, tmp_path: Path,
                     monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TierTable, Elasticsearch]]:
    """A namespace of its own on the secure node, the admin's password in a file named by
    AUDITLOG_ES_PASSWORD_FILE (as the doc exports it); its objects, roles and keys removed afterwards."""
    password = tmp_path / "elastic-password"
    password.write_text(secure_node.password + "\n")
    password.chmod(0o600)
    monkeypatch.setenv("AUDITLOG_ES_PASSWORD_FILE", str(password))
    tiers = TierTable(prefix=f"d{uuid.uuid4().hex[:10]}-audit")
    admin = Elasticsearch(secure_node.url, basic_auth=(secure_node.username, secure_node.password),
                          ca_certs=secure_node.ca_certs, request_timeout=60)
    try:
        yield tiers, admin
    finally:
        ignore = admin.options(ignore_status=404)
        ignore.indices.delete(index=f"{tiers.prefix}-*,{tiers.prefix}.digest-*", expand_wildcards="all")
        ignore.indices.delete_index_template(name=f"{tiers.prefix}*")
        ignore.cluster.delete_component_template(name=f"{tiers.prefix}-*")
        for name in role_descriptors(tiers):
            ignore.security.delete_role(name=name)
        ignore.security.invalidate_api_key(name=f"{tiers.prefix}-*")
        admin.close()


def _secure_flags(node: SecureNodeInfo) -> list[str]:
    return ["--es", node.url, "--ca-certs", node.ca_certs, "--user", "elastic"]


def test_setup_with_a_password_file_in_the_environment(
    secure_node: SecureNodeInfo, secure_namespace: tuple[TierTable, Elasticsearch],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """elastic-admin.md:7: `AUDITLOG_ES_PASSWORD_FILE=... auditlog setup --es URL --ca-certs ca.crt --user elastic`
    installs the templates and the roles and exits 0."""
    tiers, admin = secure_namespace
    code = main(["setup", *_secure_flags(secure_node), "--prefix", tiers.prefix])
    out = capsys.readouterr().out
    installed = admin.indices.get_index_template(name=f"{tiers.prefix}-*")["index_templates"]
    roles = admin.security.get_role(name=",".join(role_descriptors(tiers)))
    assert (0, 3, sorted(role_descriptors(tiers))) == (code, len(installed), sorted(roles)), out


def test_setup_api_keys_prints_two_keys_that_expire_as_asked(
    secure_node: SecureNodeInfo, secure_namespace: tuple[TierTable, Elasticsearch],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """elastic-admin.md:246: `auditlog setup --api-keys --key-expiration 90d --user elastic --ca-certs ca.crt --es
    URL` prints a writer and a reader key line once each, both expiring in 90 days."""
    tiers, admin = secure_namespace
    before = datetime.now(UTC)
    code = main(["setup", "--api-keys", "--key-expiration", "90d", "--user", "elastic",
                 "--ca-certs", secure_node.ca_certs, "--es", secure_node.url, "--prefix", tiers.prefix])
    lines = [line for line in capsys.readouterr().out.splitlines() if "AUDITLOG_ES_API_KEY=" in line]
    ids = [re.search(r"\(shown once, id ([^)]+)\)", line).group(1) for line in lines]  # type: ignore[union-attr]
    keys = [admin.security.get_api_key(id=key_id)["api_keys"][0] for key_id in ids]
    days = [round((datetime.fromtimestamp(k["expiration"] / 1000, UTC) - before).total_seconds() / 86400)
            for k in keys]
    assert (0, ["writer", "reader"], [90, 90]) == (code, [line.split()[0] for line in lines], days)


def test_keys_list_runs_in_the_environment_the_security_block_exports(
    secure_node: SecureNodeInfo, secure_namespace: tuple[TierTable, Elasticsearch],
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """elastic-admin.md, section 4: after the block's `export ...` line (its password file the test's), the tenant
    block's `auditlog keys list` needs only where the cluster is: it exits 0 (before: a password without a user)."""
    tiers, _ = secure_namespace
    line = next(text for text in DOC.read_text().splitlines()
                if text.startswith("export ") and "AUDITLOG_ES_PASSWORD_FILE=" in text)
    for word in shlex.split(line.split(" #", 1)[0])[1:]:
        name, _, value = word.partition("=")
        if name != "AUDITLOG_ES_PASSWORD_FILE":  # the fixture's file holds the test node's password
            monkeypatch.setenv(name, value)
    code = main(["keys", "list", "--es", secure_node.url, "--ca-certs", secure_node.ca_certs, "--prefix", tiers.prefix])
    assert 0 == code, capsys.readouterr().err


def _retention(es_url: str, namespace: TierTable, *action: str) -> int:
    """`auditlog retention ACTION` on the doc's example namespace, as of the doc's moment."""
    return main(["retention", *action, "--es", es_url, "--prefix", namespace.prefix, "--now", EXAMPLE_NOW.isoformat()])


def test_retention_status_prints_the_table_the_doc_shows(
    es: Elasticsearch, es_url: str, namespace: TierTable, capsys: pytest.CaptureFixture[str]
) -> None:
    """elastic-admin.md:203: `auditlog retention status` on the doc's example prints the doc's table (sizes apart)."""
    _example_namespace(es, namespace)
    code = _retention(es_url, namespace, "status")
    shown = [re.split(r"\s{2,}", line) for line in _doc_block("$ auditlog retention status")[1:]]
    printed = [re.split(r"\s{2,}", line) for line in capsys.readouterr().out.splitlines()]
    for row in (*shown, *printed):
        del row[5]  # SIZE: the store's bytes differ from run to run
    assert (0, shown) == (code, printed)


def test_retention_enforce_dry_run_lists_the_overdue_and_deletes_nothing(
    es: Elasticsearch, es_url: str, namespace: TierTable, capsys: pytest.CaptureFixture[str]
) -> None:
    """elastic-admin.md:173: `auditlog retention enforce --dry-run` names what is overdue and deletes nothing."""
    _example_namespace(es, namespace)
    before = sorted(es.indices.get(index=namespace.read_pattern))
    code = _retention(es_url, namespace, "enforce", "--dry-run")
    out = capsys.readouterr().out.splitlines()
    listed = sorted(line.split()[2] for line in out if line.startswith("would delete ") and "(" in line)
    after = sorted(es.indices.get(index=namespace.read_pattern))
    assert (0, _overdue(namespace), "would delete 2 expired indices", before) == (
        code, listed, next(line for line in out if "expired" in line), after)


def test_retention_enforce_deletes_the_overdue_indices(
    es: Elasticsearch, es_url: str, namespace: TierTable, capsys: pytest.CaptureFixture[str]
) -> None:
    """elastic-admin.md:174: `auditlog retention enforce` deletes exactly the overdue indices."""
    _example_namespace(es, namespace)
    code = _retention(es_url, namespace, "enforce")
    out = capsys.readouterr().out.splitlines()
    left = set(es.indices.get(index=namespace.read_pattern))
    assert (0, "deleted 2 expired indices", set()) == (
        code, next(line for line in out if "expired" in line), left & set(_overdue(namespace)))


def test_the_cron_line_enforces_retention_with_its_environment_file(
    es: Elasticsearch, es_url: str, namespace: TierTable, tmp_path: Path
) -> None:
    """elastic-admin.md's cron line, its command run by sh as cron would (paths moved to the test's), deletes exactly
    the overdue indices and logs it."""
    _example_namespace(es, namespace)
    line = _doc_block("# /etc/cron.d/auditlog-retention")[1]
    command = line.split("root  ", 1)[1]
    env_file, log = tmp_path / "retention.env", tmp_path / "retention.log"
    env_file.write_text(f"AUDITLOG_ES_URL={es_url}\nAUDITLOG_INDEX_PREFIX={namespace.prefix}\n")
    auditlog = Path(sys.executable).parent / "auditlog"
    for doc_path, here in (("/etc/auditlog/retention.env", env_file), ("/opt/auditlog/bin/auditlog", auditlog),
                           ("/var/log/auditlog-retention.log", log)):
        command = command.replace(doc_path, str(here))
    # --now: the doc's example dates (the line itself runs at the current time)
    command = command.replace("retention enforce", f"retention enforce --now {EXAMPLE_NOW.isoformat()}")
    done = subprocess.run(["sh", "-c", command], env={"PATH": "/usr/bin:/bin"}, timeout=120)
    left = set(es.indices.get(index=namespace.read_pattern))
    assert (0, True, set()) == (done.returncode, "deleted 2 expired indices" in log.read_text(),
                                left & set(_overdue(namespace)))


def _troubleshooting_message(starting: str) -> re.Pattern[str]:
    """The message of the doc's troubleshooting row that starts with ``starting``, ``...`` matching anything."""
    section = DOC.read_text().split("## 6. Troubleshooting", 1)[1]
    message = next(m for m in re.findall(r"^\| `([^`]+)` \|", section, re.M) if m.startswith(starting))
    return re.compile(".*".join(re.escape(part.strip()) for part in message.split("...")))


@pytest.mark.parametrize("action", [["list"], ["revoke", "some-id"], ["narrow"], ["tenant", "org-1001"]],
                         ids=lambda action: action[0])
def test_keys_on_a_cluster_without_security_print_the_troubleshooting_message(
    es_url: str, namespace: TierTable, action: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """elastic-admin.md, Troubleshooting: `auditlog keys ACTION` on a node without security (the plain local node)
    exits 1 with the table's one line, which says how to get a node with security."""
    code = main(["keys", *action, "--es", es_url, "--prefix", namespace.prefix])
    err = capsys.readouterr().err.strip().splitlines()
    assert (1, 1, True) == (code, len(err), bool(_troubleshooting_message("API keys need").search(err[0]))), err


def _file_role_privileges(secure_node: SecureNodeInfo, user: tuple[str, str], tiers: TierTable) -> dict[str, bool]:
    """What ``user`` may do on a daily events index and a digest index of ``tiers`` (every privilege asked)."""
    asked = [*WRITER_PRIVILEGES, "create_doc", "read", "view_index_metadata", "index", "write", "delete",
             "manage"]
    client = Elasticsearch(secure_node.url, basic_auth=user, ca_certs=secure_node.ca_certs, request_timeout=30)
    try:
        answer = client.security.has_privileges(index=[{"names": [tiers.index_for_day("business", date(2026, 12, 4)),
                                                                  tiers.digest_index_for_day("business",
                                                                                             date(2026, 12, 4))],
                                                        "privileges": asked}])
    finally:
        client.close()
    per_index = answer["index"].values()
    return {p: all(index[p] for index in per_index) for p in asked}


def test_print_roles_appended_to_the_nodes_roles_yml_grants_each_role_its_privileges(
    secure_node: SecureNodeInfo, secure_namespace: tuple[TierTable, Elasticsearch],
) -> None:
    """elastic-admin.md:463: `auditlog setup --print-roles >> .../roles.yml`, run by a shell on the node's own
    file: within seconds a user holding the file role `writer` may append only, one holding `reader` read only."""
    tiers, admin = secure_namespace
    assert secure_node.config_dir, "this test appends to the node's roles.yml: set AUDITLOG_TEST_ES_SECURE_CONFIG"
    documented = re.search(r"^(auditlog setup --print-roles >> )(\S+)", DOC.read_text(), re.M)
    assert documented is not None and documented.group(2).endswith("/roles.yml"), "the doc's line moved"
    roles_file = Path(secure_node.config_dir) / "roles.yml"
    before = roles_file.read_bytes()
    users = {role: (f"u{uuid.uuid4().hex[:8]}-{role}", uuid.uuid4().hex) for role in (WRITER, READER)}
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "AUDITLOG_INDEX_PREFIX": tiers.prefix}
    try:
        shell = subprocess.run(["bash", "-c", documented.group(1) + shlex.quote(str(roles_file))], env=env,
                               capture_output=True, text=True, timeout=120)
        assert (0, "") == (shell.returncode, shell.stderr)
        for role, (name, password) in users.items():
            admin.security.put_user(username=name, password=password, roles=[role_name(tiers, role)])
        # the node reads roles.yml again every 5 s (resource.reload.interval.high)
        def reader_loaded() -> bool:
            if _file_role_privileges(secure_node, users[READER], tiers)["read"]:
                return True
            time.sleep(0.25)
            return False

        loaded = wait_until(reader_loaded, timeout=60.0)
        granted = {role: {p for p, ok in _file_role_privileges(secure_node, user, tiers).items() if ok}
                   for role, user in users.items()}
    finally:
        roles_file.write_bytes(before)
        for name, _ in users.values():
            admin.options(ignore_status=404).security.delete_user(username=name)
    assert (loaded, granted) == (True, {WRITER: set(WRITER_PRIVILEGES),
                                        READER: {"read", "view_index_metadata"}})


def test_keys_list_and_narrow_lines_narrow_a_writer_key_of_version_4(
    secure_node: SecureNodeInfo, secure_namespace: tuple[TierTable, Elasticsearch],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """elastic-admin.md, writer keys made before version 5: the block's `auditlog keys list` line marks a writer key
    of version 4 (made by the admin) as its comment says, and its `auditlog keys narrow` line prints its comment."""
    tiers, admin = secure_namespace
    descriptor = {"cluster": [], "indices": [{"names": [*tiers.read_patterns, *tiers.digest_patterns],
                                              "privileges": list(WRITER_PRIVILEGES)}]}
    made = admin.security.create_api_key(name=f"{tiers.prefix}-{WRITER}-v4",
                                         role_descriptors={role_name(tiers, WRITER): descriptor},
                                         metadata={"managed_by": "auditlog", "role": WRITER, "namespace": tiers.prefix})
    printed: list[tuple[int, str, str]] = []
    for line in _doc_block("auditlog keys list      # a writer key made before version 5: ...  BROADER than a new "
                           "writer key: auditlog keys narrow"):
        command, _, comment = line.partition(" #")
        code = main([*shlex.split(command)[1:], *_secure_flags(secure_node), "--prefix", tiers.prefix])
        mine = [text for text in capsys.readouterr().out.splitlines() if made["id"] in text]
        printed.append((code, mine[0] if mine else "", comment.strip()))
    (listed, listed_line, listed_says), (narrowed, narrowed_line, narrow_says) = printed
    assert (0, True) == (listed, listed_line.endswith(listed_says.split("...  ")[1])), listed_line
    assert (0, narrow_says.replace("ID", made["id"])) == (narrowed, narrowed_line)


def _console_requests(first_line: str) -> list[tuple[str, str, dict[str, object] | None]]:
    """The doc's Dev Tools block starting with ``first_line`` as (method, path, body) requests."""
    requests: list[tuple[str, str, dict[str, object] | None]] = []
    for line in _doc_block(first_line):
        if line.startswith("{"):
            method, path, _ = requests.pop()
            requests.append((method, path, json.loads(line)))
        else:
            method, _, path = line.partition(" ")
            requests.append((method, f"/{path}", None))
    return requests


def _reindex_as_elasticsearch_does(es: Elasticsearch, body: dict[str, Any]) -> None:
    """``POST _reindex?refresh=true`` with ``body``, by scroll and bulk: the test distribution has no reindex module.

    What the doc's bodies use: ``source.index``, ``dest.index``, ``dest.op_type`` and ``conflicts: proceed`` (a
    document of that ``_id`` already there is left and counted a conflict, not a failure).
    """
    source, dest = body["source"], body["dest"]
    actions = [{"_op_type": dest.get("op_type", "index"), "_index": dest["index"], "_id": hit["_id"],
                "_source": hit["_source"]} for hit in helpers.scan(es, index=source["index"])]
    _, errors = helpers.bulk(es, actions, raise_on_error=False, refresh=True)
    failed = [e for e in (errors if isinstance(errors, list) else []) if not (body.get("conflicts") == "proceed" and
                                        next(iter(e.values())).get("status") == 409)]
    assert not failed, failed[:3]


def test_the_reindex_requests_remap_an_index_made_before_setup(es: Elasticsearch, namespace: TierTable) -> None:
    """elastic-admin.md, troubleshooting: the Dev Tools requests run on an index made before setup, into which an
    agent writes after it was deleted, leave it under its name, made from our template, with every event, found by a
    term on organization.id (the reindex requests carried out by scroll and bulk: the test node lacks the module)."""
    index = namespace.index_for_day("enterprise", datetime.now(UTC).date())
    for n in range(3):
        es.index(index=index, id=f"e-{n}", refresh=True, document={
            "@timestamp": datetime.now(UTC).isoformat(), "event": {"id": f"e-{n}"}, "organization": {"id": "org-1"}})
    install_templates(es, namespace, ilm=False)
    example = "audit-enterprise-2026.12.05"
    for method, path, body in _console_requests("POST _reindex?refresh=true"):
        body = json.loads(json.dumps(body).replace(example, index)) if body else None
        if path == "/_reindex?refresh=true" and body is not None:
            _reindex_as_elasticsearch_does(es, body)
        else:
            es.perform_request(method, path.replace(example, index), headers=JSON_HEADERS, body=body)
        if method == "DELETE" and path.endswith(example):  # an agent's event arrives in between
            es.index(index=index, id="e-3", refresh=True, document={
                "@timestamp": datetime.now(UTC).isoformat(), "event": {"id": "e-3"}, "organization": {"id": "org-1"}})
    found = es.search(index=index, query={"term": {"organization.id": "org-1"}})["hits"]["total"]["value"]
    left = sorted(es.indices.get(index=namespace.read_pattern))
    assert (find_misshapen(es, namespace), found, left) == ([], 4, [index])
