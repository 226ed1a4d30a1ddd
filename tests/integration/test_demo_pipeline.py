"""The demo against the real node: emitted lines become searchable documents, exactly once each."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from pathlib import Path

import orjson
import pytest
from elasticsearch import Elasticsearch

from auditlog.cli import main
from auditlog.demo.stack import DemoState, running_parts
from auditlog.indexer.query.events import get_event
from auditlog.indexer.tiers import TierTable
from tests.support.seed import seed_events


def _lines(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_emitted_lines_index_under_the_templates(es: Elasticsearch, namespace: TierTable, tmp_path: Path) -> None:
    """Every line `auditlog demo emit` writes bulk-indexes cleanly and each id is found again."""
    out = tmp_path / "audit.jsonl"
    assert main(["demo", "emit", "--path", str(out), "--backfill-days", "3", "--count", "400", "--seed", "9"]) == 0
    events = _lines(out)
    summary = seed_events(es, namespace, events)
    assert summary.count == 400
    assert es.count(index=namespace.read_pattern)["count"] == 400
    sample = events[123]
    found = get_event(es, namespace, sample["event"]["id"])
    assert found is not None
    assert (sample["@timestamp"], sample["event"]["action"], sample["organization"]["id"]) == (
        found["@timestamp"], found["event"]["action"], found["organization"]["id"])


def test_demo_run_ships_every_line_once_and_stop_leaves_nothing(
    es: Elasticsearch, es_url: str, namespace: TierTable, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`demo run --no-tui` ships back-fill and live events through the real agent; `demo stop` ends every part."""
    state_dir = tmp_path / "demo"
    monkeypatch.delenv("AUDITLOG_ES_URL", raising=False)
    status = main(["demo", "run", "--no-tui", "--es", es_url, "--prefix", namespace.prefix,
                   "--state-dir", str(state_dir), "--backfill-days", "2", "--count", "300", "--rate", "20",
                   "--wait", "60"])
    state = DemoState.load(state_dir)
    assert status == 0
    assert state is not None
    assert {"agent", "generator"} == set(running_parts(state))
    time.sleep(1.5)  # let some live events through

    assert main(["demo", "stop", "--state-dir", str(state_dir)]) == 0
    assert running_parts(state) == {}
    for pid in state.processes.values():
        assert not os.path.exists(f"/proc/{pid}") or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
    assert DemoState.load(state_dir) is None

    lines = _lines(state_dir / "logs" / "audit.jsonl")
    assert len(lines) > 300  # back-fill plus live trickle
    es.indices.refresh(index=namespace.read_pattern)
    hits = es.search(index=namespace.read_pattern, size=len(lines) + 10, source=False)["hits"]["hits"]
    assert {line["event"]["id"] for line in lines} == {hit["_id"] for hit in hits}
    assert len(lines) == len(hits)


def _run_until_history(es_url: str, namespace: TierTable, state_dir: Path, *live: str) -> int:
    return main(["demo", "run", "--no-tui", "--es", es_url, "--prefix", namespace.prefix,
                 "--state-dir", str(state_dir), "--backfill-days", "1", "--count", "500", *live, "--wait", "60"])


def test_demo_run_rate_zero_writes_the_history_and_keeps_the_agent(
    es: Elasticsearch, es_url: str, namespace: TierTable, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`demo run --no-tui --rate 0` exits 0 once the history is searchable, the agent still running and recorded."""
    state_dir = tmp_path / "demo"
    monkeypatch.delenv("AUDITLOG_ES_URL", raising=False)
    try:
        status = _run_until_history(es_url, namespace, state_dir, "--rate", "0")
        state = DemoState.load(state_dir)
        assert status == 0
        assert state is not None
        assert set(running_parts(state)) == {"agent"}
        assert es.count(index=namespace.read_pattern)["count"] == 500
    finally:
        main(["demo", "stop", "--state-dir", str(state_dir)])
    assert running_parts(state) == {}


def test_demo_run_short_duration_ends_the_live_phase_cleanly(
    es: Elasticsearch, es_url: str, namespace: TierTable, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`demo run --no-tui` with a live phase shorter than the shipping of the history still exits 0."""
    state_dir = tmp_path / "demo"
    monkeypatch.delenv("AUDITLOG_ES_URL", raising=False)
    try:
        status = _run_until_history(es_url, namespace, state_dir, "--rate", "5", "--duration", "0.1")
        state = DemoState.load(state_dir)
        assert status == 0
        assert state is not None
        assert set(running_parts(state)) == {"agent"}
    finally:
        main(["demo", "stop", "--state-dir", str(state_dir)])
    assert running_parts(state) == {}


def test_demo_run_still_reports_a_generator_that_fails(
    es: Elasticsearch, es_url: str, namespace: TierTable, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A generator that exits with an error (its file is a folder) is reported and `demo run` exits 1."""
    state_dir = tmp_path / "demo"
    (state_dir / "logs" / "audit.jsonl").mkdir(parents=True)
    monkeypatch.delenv("AUDITLOG_ES_URL", raising=False)
    try:
        assert _run_until_history(es_url, namespace, state_dir, "--rate", "0") == 1
    finally:
        main(["demo", "stop", "--state-dir", str(state_dir)])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_make_demo_path_starts_and_stops_its_own_node(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --es, `demo run` starts a local node (as `make demo` does) and `demo stop` stops it too."""
    home = Path(tempfile.mkdtemp(prefix="auditlog-demo-", dir="/var/tmp"))
    home.chmod(0o755)  # as root the node runs as another user that must enter this folder
    port = _free_port()
    monkeypatch.setenv("AUDITLOG_HOME", str(home))
    monkeypatch.delenv("AUDITLOG_ES_URL", raising=False)
    try:
        status = main(["demo", "run", "--no-tui", "--port", str(port), "--heap", "512m", "--backfill-days", "1",
                       "--count", "200", "--rate", "5", "--wait", "90"])
        state = DemoState.load(home / "demo")
        assert status == 0
        assert state is not None
        assert port == state.node_port
        client = Elasticsearch(f"http://127.0.0.1:{port}", request_timeout=30)
        assert client.count(index="audit-*")["count"] > 0
        client.close()
    finally:
        main(["demo", "stop"])
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0  # nothing listens any more
    assert running_parts(state) == {}
    shutil.rmtree(home, ignore_errors=True)
