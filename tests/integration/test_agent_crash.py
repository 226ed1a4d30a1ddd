"""Exactly-once across crashes: kill -9 the agent at random moments while lines are written and rotated.

After a final clean run, Elasticsearch holds exactly one document per line written: count == unique
ids == lines. Size: AUDITLOG_CRASH_LINES (default 20,000) and AUDITLOG_CRASH_KILLS (default 20) keep
this near a minute in CI; bench/soak runs raise them.
"""

from __future__ import annotations

import os
import random
import threading
import time
from pathlib import Path

from elasticsearch import Elasticsearch

from auditlog.agent.deadletter import read_records
from auditlog.indexer.setup import install_templates
from auditlog.indexer.tiers import TierTable
from tests.integration.agent_support import AgentProcess, append_lines, event_line, ids, wait_count, write_config

LINES = int(os.environ.get("AUDITLOG_CRASH_LINES", "20000"))
KILLS = int(os.environ.get("AUDITLOG_CRASH_KILLS", "20"))
ROTATE_EVERY = 4000
NO_ID_EVERY = 10  # every 10th line has no event.id: the agent derives a deterministic one


def writer(log: Path, seconds: float) -> None:
    """Write LINES lines spread over ``seconds``, rename+create rotating every ROTATE_EVERY lines."""
    burst = 50
    pause = seconds / (LINES / burst)
    rotations = 0
    for start in range(0, LINES, burst):
        if start and start % ROTATE_EVERY == 0:
            rotations += 1
            os.rename(log, log.with_name(f"{log.name}.{rotations}"))
        stop = min(start + burst, LINES)
        append_lines(log, (event_line(i, with_id=i % NO_ID_EVERY != 0) for i in range(start, stop)))
        time.sleep(pause)


def test_kill9_at_random_moments_loses_and_duplicates_nothing(
    es: Elasticsearch, es_url: str, namespace: TierTable, tmp_path: Path
) -> None:
    """After >= 20 kill -9 during writing and rotation, count == unique ids == lines."""
    install_templates(es, namespace)
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "audit.log"
    cfg = write_config(tmp_path / "agent.toml", paths=[f"{logs}/audit.log*"], state=tmp_path / "state",
                       es_url=es_url, prefix=namespace.prefix)
    agent = AgentProcess(cfg, tmp_path / "agent.log")
    rng = random.Random(20261126)
    w = threading.Thread(target=writer, args=(log, KILLS * 1.2), daemon=True)
    w.start()
    try:
        for _ in range(KILLS):
            agent.start()
            time.sleep(rng.uniform(0.4, 2.2))
            agent.kill9()
        w.join()
        agent.start()
        agent.wait_started()
        arrived = wait_count(es, namespace, LINES, timeout=120)
        status = agent.stop()
    finally:
        agent.ensure_stopped()
    docs = ids(es, namespace)
    with_id = {f"ev-{i:08d}" for i in range(LINES) if i % NO_ID_EVERY != 0}
    assert (arrived, len(docs), len({d for d, _e in docs})) == (LINES, LINES, LINES)
    assert with_id <= {e for _d, e in docs}
    assert all(d == e for d, e in docs), "document _id must equal event.id"
    assert (agent.starts, status) == (KILLS + 1, 0)
    conflicts = [r for r in read_records(tmp_path / "state") if r["reason"].startswith("id_conflict")]
    assert conflicts == [], "a re-send after a crash is a duplicate, never an id conflict"
