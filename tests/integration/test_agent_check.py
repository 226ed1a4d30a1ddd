"""`auditlog agent check` and the agent's start-up pre-flight, against the real secure and plain nodes."""

from __future__ import annotations

import argparse
import contextlib
import io
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from auditlog.agent.backoff import EqualJitterBackoff
from auditlog.agent.batcher import Batch
from auditlog.agent.deadletter import DeadLetter
from auditlog.agent.metrics import Metrics
from auditlog.agent.sink import Abandoned, Sink
from auditlog.cli import main
from auditlog.indexer.security import WRITER_PRIVILEGES
from auditlog.indexer.setup import install_templates, run_setup
from auditlog.indexer.tiers import RETENTION_DAYS, TierTable
from tests.integration.agent_support import DropConnection, NodeProxy, Reply
from tests.support.node import SecureNodeInfo
from tests.support.seed import cleanup_namespace


@dataclass(frozen=True)
class Keys:
    """A namespace on the secure node with its templates, a writer and a reader key."""

    node: SecureNodeInfo
    tiers: TierTable
    writer: str
    reader: str
    admin: Elasticsearch


@pytest.fixture(scope="module")
def keys(secure_node: SecureNodeInfo) -> Iterator[Keys]:
    """Setup with API keys in a namespace of the module's own."""
    admin = Elasticsearch(secure_node.url, basic_auth=(secure_node.username, secure_node.password),
                          ca_certs=secure_node.ca_certs, request_timeout=60)
    tiers = TierTable(prefix=f"t{uuid.uuid4().hex[:10]}-audit")
    made = {k.role: k.encoded for k in run_setup(admin, tiers, api_keys=True).api_keys}
    try:
        yield Keys(secure_node, tiers, made["writer"], made["reader"], admin)
    finally:
        admin.options(ignore_status=404).security.invalidate_api_key(name=f"{tiers.prefix}-*")
        cleanup_namespace(admin, tiers)
        admin.close()


def _check(*args: str) -> tuple[int, list[str], float]:
    out = io.StringIO()
    started = time.monotonic()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(["agent", "check", *args])
    return code, out.getvalue().splitlines(), time.monotonic() - started


def _outcomes(lines: list[str]) -> dict[str, str]:
    return {line.split()[1]: line.split()[0] for line in lines}


def test_good_writer_config_passes_every_check(keys: Keys) -> None:
    """With the writer key and the CA every check prints a line and none fails: exit 0."""
    code, lines, _ = _check("--es", keys.node.url, "--ca-certs", keys.node.ca_certs, "--api-key", keys.writer,
                            "--prefix", keys.tiers.prefix)
    expected = (0, {"config": "OK", "reach": "OK", "tls": "OK", "auth": "OK", "privileges": "OK", "templates": "SKIP",
                    "mappings": "SKIP"})
    assert expected == (code, _outcomes(lines))


def test_wrong_key_fails_fast_naming_the_rejection(keys: Keys) -> None:
    """A key the cluster does not know: exit 1 in under 5 seconds, one failing line saying the key was rejected."""
    code, lines, elapsed = _check("--es", keys.node.url, "--ca-certs", keys.node.ca_certs,
                                  "--api-key", "bm90LWEta2V5Om5vdC1hLXNlY3JldA==", "--prefix", keys.tiers.prefix)
    failing = [line for line in lines if line.startswith("FAIL")]
    expected = (1, True, 1, True)
    assert expected == (code, elapsed < 5.0, len(failing), "API key was rejected (401)" in failing[0])


def test_missing_ca_fails_the_tls_check(keys: Keys) -> None:
    """Without the cluster's CA the tls check fails and names elasticsearch.ca_certs."""
    code, lines, _ = _check("--es", keys.node.url, "--api-key", keys.writer, "--prefix", keys.tiers.prefix)
    failing = [line for line in lines if line.startswith("FAIL")]
    expected = (1, 1, True)
    assert expected == (code, len(failing), "tls" in failing[0] and "ca_certs" in failing[0])


def test_reader_key_lacks_writer_privileges(keys: Keys) -> None:
    """The reader key authenticates but _has_privileges shows the bulk create and auto_configure missing."""
    code, lines, _ = _check("--es", keys.node.url, "--ca-certs", keys.node.ca_certs, "--api-key", keys.reader,
                            "--prefix", keys.tiers.prefix)
    failing = [line for line in lines if line.startswith("FAIL")]
    expected = (1, 1, True)
    assert expected == (code, len(failing), f"missing {', '.join(WRITER_PRIVILEGES)}" in failing[0])


def test_unreachable_node_fails_the_reach_check() -> None:
    """Nothing listening at the URL: the reach check fails and the later checks are skipped."""
    code, lines, _ = _check("--es", "http://127.0.0.1:9")
    expected = (1, {"config": "OK", "reach": "FAIL", "tls": "SKIP", "auth": "SKIP", "privileges": "SKIP",
                    "templates": "SKIP", "mappings": "SKIP"})
    assert expected == (code, _outcomes(lines))


def test_missing_templates_fail_on_the_plain_node(es_url: str) -> None:
    """On a cluster without our templates for the namespace the templates check fails naming `auditlog setup`."""
    code, lines, _ = _check("--es", es_url, "--prefix", f"t{uuid.uuid4().hex[:10]}-audit")
    failing = [line for line in lines if line.startswith("FAIL")]
    expected = (1, 1, True)
    assert expected == (code, len(failing), "templates" in failing[0] and "auditlog setup" in failing[0])


def test_installed_templates_pass_on_the_plain_node(es: Elasticsearch, namespace: TierTable) -> None:
    """With the namespace's templates installed the plain node passes (security off is a warning, not a failure)."""
    install_templates(es, namespace)
    es_url = es.transport.node_pool.get().base_url
    code, lines, _ = _check("--es", es_url, "--prefix", namespace.prefix)
    expected = (0, "OK", "WARN")
    assert expected == (code, _outcomes(lines)["templates"], _outcomes(lines)["auth"])


def test_a_template_overriding_ours_fails_the_templates_check(es: Elasticsearch, namespace: TierTable) -> None:
    """A template of a higher priority matching the namespace's names fails the check, naming it: the agent's daily
    indices would be made without the audit mappings."""
    install_templates(es, namespace)
    foreign = f"{namespace.prefix}-corp-default"
    es.indices.put_index_template(name=foreign, index_patterns=[f"{namespace.prefix}*"], priority=500)
    try:
        code, lines, _ = _check("--es", es.transport.node_pool.get().base_url, "--prefix", namespace.prefix)
    finally:
        es.indices.delete_index_template(name=foreign)
    failing = [line for line in lines if line.startswith("FAIL")]
    assert (code, len(failing)) == (1, 1)
    assert failing[0].startswith("FAIL  templates   index template " + foreign) and "overrides" in failing[0]


def test_a_daily_index_made_before_setup_is_a_mappings_warning(es: Elasticsearch, namespace: TierTable) -> None:
    """Today's index dynamically mapped before the templates were installed: a WARN line naming it and its
    organization.id type; the agent can still ship (exit 0)."""
    index = namespace.index_for_day("enterprise", datetime.now(UTC).date())
    es.index(index=index, document={"@timestamp": datetime.now(UTC).isoformat(), "event": {"id": "e-1"},
                                    "organization": {"id": "org-1001"}}, refresh=True)
    install_templates(es, namespace)
    code, lines, _ = _check("--es", es.transport.node_pool.get().base_url, "--prefix", namespace.prefix)
    warning = [line for line in lines if line.split()[1] == "mappings"]
    assert (code, len(warning)) == (0, 1), lines
    assert warning[0].startswith(f"WARN  mappings    daily index {index} was not made from our template: "
                                 "organization.id is text (expected keyword)")


def test_an_admin_key_sees_every_daily_index_made_from_our_templates(keys: Keys) -> None:
    """With credentials that may read the cluster state (the admin's) the mappings check passes on a namespace
    whose indices setup made."""
    code, lines, _ = _check("--es", keys.node.url, "--ca-certs", keys.node.ca_certs, "--prefix", keys.tiers.prefix,
                            "--user", keys.node.username, "--password", keys.node.password)
    assert (code, _outcomes(lines)["mappings"]) == (0, "OK"), lines


@dataclass
class _DropsTemplateChecks(NodeProxy):
    """Forwards everything but the template checks, whose connection it closes unanswered."""

    def answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        """Drop ``/_index_template/...`` requests; forward the rest."""
        if path.startswith("/_index_template/"):
            raise DropConnection
        return self.forward(method, path, headers, body)


def test_a_connection_lost_during_a_later_check_fails_that_check_in_one_line(
    es: Elasticsearch, namespace: TierTable, capsys: pytest.CaptureFixture[str],
) -> None:
    """A node that answers the first request and drops the next (one of several nodes down): a FAIL line, no
    traceback."""
    install_templates(es, namespace)
    proxy = _DropsTemplateChecks(es.transport.node_pool.get().base_url)
    url = proxy.start()
    try:
        code, lines, _ = _check("--es", url, "--prefix", namespace.prefix)
    finally:
        proxy.stop()
    failing = [line for line in lines if line.startswith("FAIL")]
    assert (1, 1, "templates" in failing[0], "Traceback" in capsys.readouterr().err) == (
        code, len(failing), True, False), lines


def test_bad_config_key_exits_2_with_one_line(tmp_path: Path) -> None:
    """A configuration with an unknown key exits 2 with one failing config line naming the key."""
    config = tmp_path / "agent.toml"
    config.write_text('[elasticsearch]\nurll = "http://x"\n')
    code, lines, _ = _check("--config", str(config))
    expected = (2, 1, True)
    assert expected == (code, len(lines), lines[0].startswith("FAIL") and "urll" in lines[0])


def test_agent_start_logs_the_rejected_key_as_an_error(keys: Keys) -> None:
    """The daemon's start-up pre-flight logs the rejected key as an error line (the agent then holds lines)."""
    from structlog.testing import capture_logs

    from auditlog.agent import config, daemon

    cfg = config.load(None, argparse.Namespace(es_url=keys.node.url, es_ca_certs=keys.node.ca_certs,
                                               es_api_key="bm90LWEta2V5Om5vdC1hLXNlY3JldA==",
                                               index_prefix=keys.tiers.prefix), env={})
    with capture_logs() as logged:
        daemon.preflight(cfg)
    failed = [e for e in logged if e.get("outcome") == "fail"]
    expected = (["auth"], ["error"], True)
    assert expected == ([e["check"] for e in failed], [e["log_level"] for e in failed],
                        "rejected" in failed[0]["detail"])


def test_revoked_key_at_run_time_is_backpressure_not_dead_letters(keys: Keys) -> None:
    """A writer key revoked while shipping: the batch is held and retried, counted, never dead-lettered."""
    created = run_setup(keys.admin, keys.tiers, api_keys=True).api_keys
    writer = next(k for k in created if k.role == "writer")
    keys.admin.security.invalidate_api_key(ids=[writer.id])
    client = Elasticsearch(keys.node.url, api_key=writer.encoded, ca_certs=keys.node.ca_certs)
    index = keys.tiers.index_for("enterprise", datetime.now(UTC))
    held, dead, outcome = _send_until_held(client, [(index, "x1")])
    expected: tuple[bool, list[DeadLetter], list[type[BaseException]]] = (True, [], [Abandoned])
    assert expected == (held >= 3, dead, [type(e) for e in outcome])


def _send_until_held(client: Elasticsearch, targets: list[tuple[str, str]]) -> tuple[int, list[DeadLetter],
                                                                                list[BaseException]]:
    """Send one batch of a document per (index, id) through a Sink until it was held as ``unauthorized``
    backpressure three times (or 10 s), then stop the sink; return how often it was held, the dead letters and
    what ``send`` raised."""
    dead: list[DeadLetter] = []
    metrics, stopping = Metrics(), threading.Event()
    sink = Sink(client, backoff=EqualJitterBackoff(0.05, 0.1), metrics=metrics, dead_letter=dead.append,
                stopping=stopping,
                deadline=lambda: time.monotonic())
    batch = Batch(1, entries=[b'{"create":{"_index":"%s","_id":"%s"}}\n{"message":"x"}\n'
                              % (index.encode(), doc_id.encode()) for index, doc_id in targets],
                  origins=[("key", "/f", offset, b"{}") for offset in range(len(targets))])
    outcome: list[BaseException] = []

    def send() -> None:
        try:
            sink.send(batch)
        except Abandoned as exc:
            outcome.append(exc)

    sender = threading.Thread(target=send)
    sender.start()
    deadline = time.monotonic() + 10
    while metrics.backpressure.get("unauthorized", 0) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    stopping.set()
    sender.join(10)
    return metrics.backpressure.get("unauthorized", 0), dead, outcome


def test_writer_key_of_another_namespace_is_backpressure_per_item(keys: Keys) -> None:
    """A writer key writing outside its namespace gets an item-level 403: held as backpressure, never dead-lettered."""
    other = TierTable(prefix=f"t{uuid.uuid4().hex[:10]}-audit")
    client = Elasticsearch(keys.node.url, api_key=keys.writer, ca_certs=keys.node.ca_certs)
    index = other.index_for("enterprise", datetime.now(UTC))
    held, dead, outcome = _send_until_held(client, [(index, "x2")])
    expected: tuple[bool, list[DeadLetter], list[type[BaseException]], bool] = (True, [], [Abandoned], False)
    assert expected == (held >= 3, dead, [type(e) for e in outcome], bool(keys.admin.indices.exists(index=index)))


def test_a_name_outside_the_daily_layout_is_held_while_its_neighbour_ships(keys: Keys) -> None:
    """A batch with one event for today's index and one for P-enterprise-evil (no agent names it: its router only
    names daily indices within its time bounds): the first is created, the second's item-level 403 is held as
    backpressure, never dead-lettered, and creates no index."""
    client = Elasticsearch(keys.node.url, api_key=keys.writer, ca_certs=keys.node.ca_certs)
    today, stray = keys.tiers.index_for("enterprise", datetime.now(UTC)), f"{keys.tiers.prefix}-enterprise-evil"
    held, dead, outcome = _send_until_held(client, [(today, "n-ok"), (stray, "n-evil")])
    expected: tuple[bool, list[DeadLetter], list[type[BaseException]], bool, bool] = (
        True, [], [Abandoned], True, False)
    assert expected == (held >= 3, dead, [type(e) for e in outcome], bool(keys.admin.exists(index=today, id="n-ok")),
                        bool(keys.admin.indices.exists(index=stray)))


def test_a_writer_key_of_the_roles_version_4_passes_the_privileges_check(keys: Keys) -> None:
    """A key made before the writer's names became daily regular expressions (the class patterns, the bulk create
    actions and auto_configure) covers every daily name, so the privileges check passes it."""
    descriptor = {"indices": [{"names": [*keys.tiers.read_patterns, *keys.tiers.digest_patterns],
                               "privileges": list(WRITER_PRIVILEGES)}]}
    old = keys.admin.security.create_api_key(name=f"{keys.tiers.prefix}-v4", expiration="1h",
                                             role_descriptors={"w": descriptor})["encoded"]
    code, lines, _ = _check("--es", keys.node.url, "--ca-certs", keys.node.ca_certs, "--api-key", old,
                            "--prefix", keys.tiers.prefix)
    assert (0, "OK") == (code, _outcomes(lines)["privileges"])


def test_a_writer_key_for_today_only_fails_the_privileges_check(keys: Keys) -> None:
    """A key that may append to today's daily indices only fails the check naming the daily name shape: a late
    event's day, or tomorrow's, would be refused."""
    today = datetime.now(UTC).date()
    names = [n for cls in RETENTION_DAYS
             for n in (keys.tiers.index_for_day(cls, today), keys.tiers.digest_index_for_day(cls, today))]
    narrow = keys.admin.security.create_api_key(
        name=f"{keys.tiers.prefix}-today", expiration="1h",
        role_descriptors={"w": {"indices": [{"names": names, "privileges": list(WRITER_PRIVILEGES)}]}})["encoded"]
    code, lines, _ = _check("--es", keys.node.url, "--ca-certs", keys.node.ca_certs, "--api-key", narrow,
                            "--prefix", keys.tiers.prefix)
    failing = [line for line in lines if line.startswith("FAIL")]
    assert (1, 1, True) == (code, len(failing), f"on {keys.tiers.daily_shape('enterprise')};" in failing[0]), lines


def test_a_writer_key_without_the_digest_indices_fails_unless_digests_are_off(keys: Keys, tmp_path: Path) -> None:
    """A key for the events only (made before digests existed) fails the privileges check naming the digest
    indices; with digest.enabled = false it passes."""
    events_only = keys.admin.security.create_api_key(
        name=f"{keys.tiers.prefix}-events-only", expiration="1h",
        role_descriptors={"w": {"indices": [{"names": list(keys.tiers.read_patterns),
                                             "privileges": ["create_doc", "auto_configure"]}]}})["encoded"]
    flags = ("--es", keys.node.url, "--ca-certs", keys.node.ca_certs, "--api-key", events_only,
             "--prefix", keys.tiers.prefix)
    code, lines, _ = _check(*flags)
    failing = [line for line in lines if line.startswith("FAIL")]
    off = tmp_path / "agent.toml"
    off.write_text(f'[inputs]\npaths = ["{tmp_path}/*.jsonl"]\n[digest]\nenabled = false\n')
    code_off, lines_off, _ = _check("--config", str(off), *flags)
    assert (code, len(failing), f"on {keys.tiers.digest_daily_shape('enterprise')}:" in failing[0], code_off,
            _outcomes(lines_off)["privileges"]) == (1, 1, True, 0, "OK")
