"""Bad input against the real node: every bad line is dead-lettered with a reason, every good line arrives.

One agent run ships a file that interleaves good lines with invalid JSON, invalid UTF-8, a 10 MB line,
missing fields, wrong types, an unknown tier, deep nesting, NUL bytes, a mapping conflict and a duplicate
key (shipped as written by the pass-through, refused by Elasticsearch); the tests below each check one
consequence of that run. Even-numbered lines are emitter-shaped (see ``agent_support.event_line``), so
both the pass-through and the full path meet bad input.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from elasticsearch import Elasticsearch

from auditlog.agent.deadletter import read_records
from auditlog.agent.shipper import ECS_VERSION
from tests.integration.agent_support import (
    SHIPPER_OBJECTS,
    AgentRun,
    agent_run,
    as_written,
    dead_letter_at,
    event_line,
    ids,
    stored_documents,
)


def bad(i: int, **change: Any) -> bytes:
    ev = orjson.loads(event_line(i))
    for dotted, value in change.items():
        *parents, leaf = dotted.split("__")
        node = ev
        for p in parents:
            node = node.setdefault(p, {})
        if value is None:
            del node[leaf]
        else:
            node[leaf] = value
    return orjson.dumps(ev) + b"\n"


#: kind -> (line, expected reason fragment)
BAD: dict[str, tuple[bytes, str]] = {
    "invalid_json": (b'{"@timestamp": "2026-01-01T00:00:00Z", \n', "invalid JSON"),
    "invalid_utf8": (b'{"message": "caf\xe9"}\n', "invalid UTF-8"),
    "huge_line": (b'{"message": "' + b"a" * (10 * 1024 * 1024) + b'"}\n', "exceeds inputs.max_line_bytes"),
    "missing_field": (bad(9001, organization__id=None), "organization.id"),
    "wrong_type": (bad(9002, audit__source=17), "audit.source"),
    "unknown_tier": (bad(9003, audit__tier="platinum"), "unknown tier 'platinum'"),
    "unknown_tier_emitter_shaped": (bad(9006, audit__tier="gold"), "unknown tier 'gold'"),
    "duplicate_key": (event_line(9008).replace(b'"message":', b'"message":"first","message":', 1),
                      "Duplicate field 'message'"),
    "deep_nesting": (bad(9004, extra=orjson.loads(b'{"a":' * 30 + b"1" + b"}" * 30)), "nesting depth"),
    "nul_bytes": (b'{"message": "a\x00b"}\n', "NUL byte"),
    "mapping_conflict": (bad(9005, log={"offset": "not-a-number"}), "document_parsing_exception"),
}
GOOD = 60


def _lines() -> Iterator[bytes]:
    """The run's log: each bad line after its share of good lines, then the rest of the good ones."""
    good = iter(range(GOOD))
    for line, _reason in BAD.values():
        for _ in range(GOOD // len(BAD)):
            yield event_line(next(good))
        yield line
    for i in good:
        yield event_line(i)


@pytest.fixture(scope="module")
def run(es: Elasticsearch, es_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentRun]:
    with agent_run(es, es_url, tmp_path_factory.mktemp("agent-bad"), _lines(), arrivals=GOOD,
                   dead_letters=len(BAD)) as done:
        yield done


def test_every_good_line_is_delivered(run: AgentRun, es: Elasticsearch) -> None:
    """All good lines around the bad ones are in Elasticsearch, once each."""
    got = sorted(str(i) for _id, i in ids(es, run.tiers))
    assert got == [f"ev-{i:08d}" for i in range(GOOD)]


def test_emitter_shaped_lines_are_stored_as_written(run: AgentRun, es: Elasticsearch) -> None:
    """A line the pass-through shipped is stored as written plus the shipper's fields; a foreign one gains its
    ECS categories."""
    stored = stored_documents(es, run.tiers)
    own, foreign = orjson.loads(event_line(0)), orjson.loads(event_line(1))
    assert as_written(stored[own["event"]["id"]]) == own
    assert stored[foreign["event"]["id"]]["event"]["kind"] == "event" and "kind" not in foreign["event"]


def test_both_paths_store_the_same_shipper_fields(run: AgentRun, es: Elasticsearch) -> None:
    """The pass-through's and the full path's documents carry the same ecs, agent and host objects and an
    event.ingested."""
    stored = stored_documents(es, run.tiers)
    own, foreign = (stored[orjson.loads(event_line(i))["event"]["id"]] for i in (0, 1))
    shipper = {k: own[k] for k in SHIPPER_OBJECTS}
    assert (shipper, ECS_VERSION, socket.gethostname(), True, True) == (
        {k: foreign[k] for k in SHIPPER_OBJECTS}, own["ecs"]["version"], own["host"]["name"],
        "ingested" in own["event"], "ingested" in foreign["event"])


@pytest.mark.parametrize("kind", list(BAD))
def test_bad_line_is_dead_lettered_with_reason(run: AgentRun, kind: str) -> None:
    """Each kind of bad line is in the dead-letter file at its offset with a reason saying why."""
    line, fragment = BAD[kind]
    record = dead_letter_at(run, line)
    assert record is not None, f"{kind} not dead-lettered"
    assert fragment in record["reason"]


def test_dead_letter_count_matches_bad_lines(run: AgentRun) -> None:
    """Exactly one dead letter per bad line: nothing else was rejected."""
    assert len(list(read_records(run.state))) == len(BAD)


def test_huge_line_keeps_a_preview_and_its_length(run: AgentRun) -> None:
    """The 10 MB line is recorded truncated with its full length, not copied whole."""
    rec = next(r for r in read_records(run.state) if r.get("truncated"))
    assert (rec["line_bytes"], len(rec["line"]) <= 4096) == (len(BAD["huge_line"][0]) - 1, True)


def test_invalid_utf8_is_kept_as_base64(run: AgentRun) -> None:
    """A line that is not UTF-8 is kept byte for byte as line_b64."""
    import base64

    rec = next(r for r in read_records(run.state) if "UTF-8" in r["reason"])
    assert base64.b64decode(rec["line_b64"]) + b"\n" == BAD["invalid_utf8"][0]


def test_agent_exits_0_on_sigterm(run: AgentRun) -> None:
    """The agent stopped gracefully with exit status 0."""
    assert run.exit_status == 0
