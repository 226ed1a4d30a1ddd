"""docs/operations.md's dead-letter lines, run as documented after a real agent dead-lettered lines.

The agent ships a log of five events it refuses under a too-low ``inputs.max_depth`` and one line
that is not JSON; then the doc's `auditlog dlq list --state-dir DIR` and, after the fix,
`auditlog dlq replay --config FILE --state-dir DIR` run through ``auditlog.cli.main``. The table of
typical reasons is compared with the records the agent writes for the lines it names.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from auditlog.agent.deadletter import read_records
from auditlog.cli import main
from auditlog.indexer.setup import install_templates
from auditlog.indexer.tiers import TierTable
from tests.integration.agent_support import (
    AgentProcess,
    agent_run,
    append_lines,
    dead_letter_at,
    event_line,
    wait_count,
    write_config,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
REFUSED = 5
NOT_JSON = b"not json\n"
#: the fields operations.md says every dead letter has
FIELDS = {"time", "reason", "stage", "file", "identity", "offset", "line"}


@dataclass(frozen=True)
class DeadLettered:
    """A finished agent run that left dead letters: its config (with the cause fixed), state folder and log."""

    config: Path
    state: Path
    log: Path


@pytest.fixture
def dead_lettered(es: Elasticsearch, es_url: str, namespace: TierTable, tmp_path: Path) -> DeadLettered:
    """Run the agent until it dead-lettered every line, then fix the cause (inputs.max_depth back to default)."""
    install_templates(es, namespace)
    log, state, cfg = tmp_path / "audit.jsonl", tmp_path / "state", tmp_path / "agent.toml"
    append_lines(log, [*(event_line(i) for i in range(REFUSED)), NOT_JSON])
    write_config(cfg, paths=[str(log)], state=state, es_url=es_url, prefix=namespace.prefix,
                 inputs={"max_depth": 3})
    agent = AgentProcess(cfg, tmp_path / "agent.log")
    agent.start()
    try:
        deadline = time.monotonic() + 60
        while len(list(read_records(state))) < REFUSED + 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert 0 == agent.stop()
    finally:
        agent.ensure_stopped()
    write_config(cfg, paths=[str(log)], state=state, es_url=es_url, prefix=namespace.prefix)
    return DeadLettered(cfg, state, log)


def test_dlq_list_prints_one_json_object_per_dead_letter_with_its_reason(
    dead_lettered: DeadLettered, capsys: pytest.CaptureFixture[str]
) -> None:
    """operations.md:238: `auditlog dlq list --state-dir DIR | jq -r .reason | sort | uniq -c` counts the reasons:
    one JSON object per line with time, reason, stage, file, identity, offset and line."""
    code = main(["dlq", "list", "--state-dir", str(dead_lettered.state)])
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    reasons = Counter(r["reason"].split(":")[0] for r in records)
    assert (0, [FIELDS] * (REFUSED + 1), sorted(reasons.values())) == (
        code, [FIELDS & set(r) for r in records], [1, REFUSED])


def test_dlq_replay_after_the_fix_ships_what_the_fix_allows(
    es: Elasticsearch, namespace: TierTable, dead_lettered: DeadLettered, capsys: pytest.CaptureFixture[str]
) -> None:
    """operations.md:256: `auditlog dlq replay --config FILE --state-dir DIR` ships the fixed lines once, leaves the
    line that is not JSON listed and exits 1 (something is left)."""
    code = main(["dlq", "replay", "--config", str(dead_lettered.config), "--state-dir", str(dead_lettered.state)])
    summary = capsys.readouterr().err.strip()
    main(["dlq", "list", "--state-dir", str(dead_lettered.state)])
    left = [json.loads(line)["line"] for line in capsys.readouterr().out.splitlines()]
    assert (1, f"replayed {REFUSED} dead letters; 1 still rejected; 0 not sent", REFUSED, ["not json"]) == (
        code, summary, wait_count(es, namespace, REFUSED), left)


def _reason_row(containing: str) -> tuple[str, str]:
    """The stage and the reason of the doc's typical-reasons row whose first cell holds ``containing``."""
    row = next(line for line in DOC.read_text().splitlines() if line.startswith("| `") and containing in line)
    stage, reason = re.findall(r"`([^`]+)`", row.split(" | ", 1)[0])[:2]
    return stage, reason


def test_the_unknown_tier_row_names_the_stage_and_reason_the_agent_writes(
    es: Elasticsearch, es_url: str, tmp_path: Path
) -> None:
    """operations.md, typical reasons: a line of tier 'gold' is dead-lettered at the row's stage with its reason."""
    stage, reason = _reason_row("unknown tier 'gold'")
    event = json.loads(event_line(1))
    event["audit"]["tier"] = "gold"
    gold = json.dumps(event).encode() + b"\n"
    with agent_run(es, es_url, tmp_path, [event_line(0), gold], arrivals=1, dead_letters=1) as run:
        record = dead_letter_at(run, gold)
    assert record is not None
    assert (stage, True) == (record["stage"], record["reason"].startswith(reason)), record["reason"]
