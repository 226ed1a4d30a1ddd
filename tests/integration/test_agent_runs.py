"""The pass-through's runs of lines against the real node: long stretches of emitter lines, a few odd ones between.

The agent's reader hands the C line check a block's lines a run at a time (``PassThrough.run``) and sends the
first line a run does not take through the per-line path. One agent run ships 400 emitter-shaped lines in a row
with a foreign line, a line with an unknown tier, invalid JSON and a line with a secret-looking text among them;
the tests check that every line got the answer the per-line path gives it: stored once and as written, or
dead-lettered with its reason.
"""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
from elasticsearch import Elasticsearch

from tests.integration.agent_support import (
    AgentRun,
    agent_run,
    as_written,
    dead_letter_at,
    event_line,
    ids,
    stored_documents,
)

#: emitter-shaped lines (even numbers ship through the pass-through)
OWN = [event_line(2 * i) for i in range(400)]
FOREIGN = event_line(1001)  # no categories: the full path
SECRET = OWN[0].replace(b'"message":"', b'"message":"Bearer abcdef0123456789 ', 1).replace(b"ev-00000000",
                                                                                            b"ev-00009000")
UNKNOWN_TIER = OWN[1].replace(b'"tier":"', b'"tier":"x', 1).replace(b"ev-00000002", b"ev-00009002")
INVALID = b'{"@timestamp": \n'
ODD = {100: FOREIGN, 200: SECRET, 300: UNKNOWN_TIER, 350: INVALID}


def _lines() -> Iterator[bytes]:
    """The emitter lines with the odd ones placed among them."""
    for n, line in enumerate(OWN):
        if n in ODD:
            yield ODD[n]
        yield line


@pytest.fixture(scope="module")
def run(es: Elasticsearch, es_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentRun]:
    with agent_run(es, es_url, tmp_path_factory.mktemp("agent-runs"), _lines(), arrivals=len(OWN) + 2,
                   dead_letters=2) as done:
        yield done


def test_every_shippable_line_arrives_once(run: AgentRun, es: Elasticsearch) -> None:
    """The 400 emitter lines, the foreign line and the redacted one are in Elasticsearch, once each."""
    got = sorted(str(i) for _id, i in ids(es, run.tiers))
    assert got == sorted([f"ev-{2 * i:08d}" for i in range(400)] + ["ev-00001001", "ev-00009000"])


def test_emitter_lines_are_stored_as_written(run: AgentRun, es: Elasticsearch) -> None:
    """Every emitter line is stored as it was written, plus the shipper's fields."""
    stored = stored_documents(es, run.tiers)
    for line in OWN:
        ev = orjson.loads(line)
        assert as_written(stored[ev["event"]["id"]]) == ev


def test_lines_runs_leave_get_the_per_line_answer(run: AgentRun, es: Elasticsearch) -> None:
    """The foreign line gains its categories, the secret is redacted, the unknown tier and invalid JSON are
    dead-lettered with their reasons."""
    stored = stored_documents(es, run.tiers)
    assert stored["ev-00001001"]["event"]["kind"] == "event"
    assert "abcdef0123456789" not in orjson.dumps(stored["ev-00009000"]).decode()
    tier, invalid = dead_letter_at(run, UNKNOWN_TIER), dead_letter_at(run, INVALID)
    assert tier is not None and "unknown tier" in tier["reason"]
    assert invalid is not None and "invalid JSON" in invalid["reason"]


def test_no_run_failed(run: AgentRun) -> None:
    """The agent never turned its runs off (an unexpected error in one would have been logged)."""
    assert b"run of lines" not in run.log.parent.joinpath("agent.log").read_bytes()
    assert run.exit_status == 0
