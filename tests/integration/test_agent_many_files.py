"""Many files: 5,000 files under an open-file limit of 256; every line arrives exactly once."""

from __future__ import annotations

import time
from pathlib import Path

from elasticsearch import Elasticsearch

from auditlog.agent.deadletter import read_records
from auditlog.indexer.setup import install_templates
from auditlog.indexer.tiers import TierTable
from tests.integration.agent_support import (
    AgentProcess,
    append_lines,
    count,
    event_line,
    free_port,
    ids,
    scrape,
    write_config,
)

FILES = 5000
LIMIT = 256


def test_5000_files_under_a_limit_of_256_arrive_once(es: Elasticsearch, es_url: str, namespace: TierTable,
                                                      tmp_path: Path) -> None:
    """With RLIMIT_NOFILE 256 the agent keeps at most 192 files open, reopens parked ones that grow, loses nothing."""
    install_templates(es, namespace)
    logs = tmp_path / "logs"
    logs.mkdir()
    for k in range(FILES):
        append_lines(logs / f"audit-{k:04d}.jsonl", [event_line(2 * k), event_line(2 * k + 1)])
    port = free_port()
    cfg = write_config(tmp_path / "agent.toml", paths=[f"{logs}/audit-*.jsonl"], state=tmp_path / "state",
                       es_url=es_url, prefix=namespace.prefix, metrics_port=port,
                       batch={"max_events": 1000, "max_latency": 0.5})
    agent = AgentProcess(cfg, tmp_path / "agent.log", nofile=LIMIT)
    agent.start()
    most_open, total, grown = 0, 2 * FILES, False
    try:
        # the first scan registers 5,000 files before "agent started"; on a loaded machine that takes minutes
        agent.wait_started(timeout=180)
        end = time.monotonic() + 600
        while time.monotonic() < end:
            metrics = scrape(port)
            most_open = max(most_open, int(metrics.get("auditlog_agent_open_files", 0)))
            n = count(es, namespace)
            if not grown and n >= FILES:  # half shipped: most files are parked now; make 1,000 of them grow
                append_lines_to = [logs / f"audit-{k:04d}.jsonl" for k in range(0, FILES, 5)]
                for k, path in zip(range(0, FILES, 5), append_lines_to, strict=True):
                    append_lines(path, [event_line(2 * FILES + k)])
                total += len(append_lines_to)
                grown = True
            if grown and n >= total:
                break
            time.sleep(1.0)
        status = agent.stop(timeout=60)
    finally:
        agent.ensure_stopped()
    docs = ids(es, namespace)
    logged = (tmp_path / "agent.log").read_text()
    print(f"{FILES} files, {total} lines: at most {most_open} open; "
          f"{logged.count('too many open files')} opens hit EMFILE and waited")
    assert (len(docs), len({d for d, _e in docs}), list(read_records(tmp_path / "state")), status) == (
        total, total, [], 0)
    assert (most_open <= LIMIT - 64, '"max_open_files": 192' in logged) == (True, True)


def test_emfile_with_a_cap_above_the_limit_loses_nothing(es: Elasticsearch, es_url: str, namespace: TierTable,
                                                         tmp_path: Path) -> None:
    """inputs.max_open_files above what RLIMIT_NOFILE allows: opens fail with EMFILE, the agent lowers its cap,
    files wait for a slot instead of being taken for gone, and every line arrives once."""
    install_templates(es, namespace)
    logs = tmp_path / "logs"
    logs.mkdir()
    files = 600
    for k in range(files):
        append_lines(logs / f"audit-{k:04d}.jsonl", [event_line(k)])
    cfg = write_config(tmp_path / "agent.toml", paths=[f"{logs}/audit-*.jsonl"], state=tmp_path / "state",
                       es_url=es_url, prefix=namespace.prefix, inputs={"max_open_files": 5000})
    agent = AgentProcess(cfg, tmp_path / "agent.log", nofile=128)
    agent.start()
    try:
        agent.wait_started()
        end = time.monotonic() + 300
        while time.monotonic() < end and count(es, namespace) < files:
            time.sleep(1.0)
        status = agent.stop(timeout=60)
    finally:
        agent.ensure_stopped()
    docs = ids(es, namespace)
    logged = (tmp_path / "agent.log").read_text()
    lost = [r for r in read_records(tmp_path / "state")]
    assert (len(docs), len({d for d, _e in docs}), lost, status) == (files, files, [], 0)
    assert ("lowering max_open_files" in logged, "gone" in logged, "removed before" in logged) == (True, False, False)
