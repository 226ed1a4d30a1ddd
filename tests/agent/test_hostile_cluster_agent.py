"""The agent process against a fake cluster whose answers are not bulk responses: nothing acknowledged, nothing lost.

A 200 ``{}`` (a proxy's, a rewritten page) once counted every document as created; the checkpoint then
moved past events that were never stored. Here the agent must retry, keep its checkpoint at zero and
dead-letter nothing, then stop cleanly on SIGTERM.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from auditlog.agent.deadletter import read_records
from auditlog.agent.registry import Registry
from tests.integration.agent_support import AgentProcess, event_line, write_config
from tests.support.hostile_cluster import hostile_cluster


@pytest.mark.parametrize("shape", ["empty_object", "wrong_types", "html_page"])
def test_answers_that_are_not_bulk_responses_move_no_checkpoint(shape: str, tmp_path: Path) -> None:
    """After several retries against the shape, the file's offset is 0, no dead letters, and SIGTERM exits 0."""
    log = tmp_path / "logs" / "audit.jsonl"
    log.parent.mkdir()
    log.write_bytes(b"".join(event_line(i) for i in range(5)))
    with hostile_cluster(shape) as url:
        agent = AgentProcess(write_config(tmp_path / "agent.toml", paths=[str(log)], state=tmp_path / "state",
                                          es_url=url, prefix="t-hostile"), tmp_path / "agent.log")
        agent.start()
        try:
            agent.wait_started()
            end = time.monotonic() + 30
            while agent.log.read_text(errors="replace").count('"bulk retry"') < 3 and time.monotonic() < end:
                time.sleep(0.1)
            status = agent.stop()
        finally:
            agent.ensure_stopped()
    registry = Registry(tmp_path / "state", readonly=True)
    offsets = [row.offset for row in registry.all()]
    registry.close()
    retries = agent.log.read_text(errors="replace").count('"bulk retry"')
    assert (0, [0], [], True) == (status, offsets, list(read_records(tmp_path / "state")), retries >= 3)
