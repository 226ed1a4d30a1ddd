"""docs/agent.md's examples, compared with what a real agent writes into a real node's namespace."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from tests.integration.agent_support import AgentRun, agent_run, dead_letter_at, event_line

DOC = Path(__file__).resolve().parents[2] / "docs" / "agent.md"


def _dead_letter_example() -> dict[str, object]:
    """The dead-letter record the doc shows under `## Dead letters` (one record, wrapped over lines)."""
    section = DOC.read_text().split("\n## Dead letters\n", 1)[1]
    block = section.split("```json\n", 1)[1].split("\n```", 1)[0]
    example: dict[str, object] = json.loads(" ".join(block.splitlines()))
    return example


@pytest.fixture(scope="module")
def run(es: Elasticsearch, es_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentRun]:
    """One good event, then the example's line: shipped until the example's line is dead-lettered."""
    lines = [event_line(0), str(_dead_letter_example()["line"]).encode() + b"\n"]
    with agent_run(es, es_url, tmp_path_factory.mktemp("agent-doc"), lines, arrivals=1, dead_letters=1) as done:
        yield done


def test_the_dead_letter_example_is_the_record_the_agent_writes_for_its_line(run: AgentRun) -> None:
    """agent.md, Dead letters: the example's fields, stage and reason are those of the agent's record of its line."""
    example = _dead_letter_example()
    record = dead_letter_at(run, str(example["line"]).encode() + b"\n")
    assert record is not None
    assert (sorted(example), example["stage"], example["reason"]) == (sorted(record), record["stage"], record["reason"])
