"""`auditlog dlq replay`: ships dead letters once after the cause is fixed; every record gets its own outcome."""

from __future__ import annotations

import json
import time
from pathlib import Path

import orjson
import pytest
from elasticsearch import Elasticsearch

from auditlog.agent.deadletter import DEADLETTER_FILE, DeadLetter, DeadLetterWriter, read_records
from auditlog.cli import main
from auditlog.indexer.setup import install_templates
from auditlog.indexer.tiers import TierTable
from tests.integration.agent_support import (
    AgentProcess,
    append_lines,
    event_line,
    free_port,
    ids,
    wait_count,
    write_config,
)


def test_replay_after_fix_ships_once(
    es: Elasticsearch, es_url: str, namespace: TierTable, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Lines refused under a too-low inputs.max_depth are dead-lettered; after raising it, replay ships them once."""
    install_templates(es, namespace)
    log = tmp_path / "audit.log"
    append_lines(log, (event_line(i) for i in range(30)))
    cfg = write_config(tmp_path / "agent.toml", paths=[str(log)], state=tmp_path / "state", es_url=es_url,
                       prefix=namespace.prefix, inputs={"max_depth": 3})
    agent = AgentProcess(cfg, tmp_path / "agent.log")
    agent.start()
    try:
        for _ in range(300):
            if len(list(read_records(tmp_path / "state"))) >= 30:
                break
            time.sleep(0.1)
        assert agent.stop() == 0
    finally:
        agent.ensure_stopped()
    records = list(read_records(tmp_path / "state"))
    assert (len(records), "nesting depth 4" in records[0]["reason"]) == (30, True)
    write_config(cfg, paths=[str(log)], state=tmp_path / "state", es_url=es_url, prefix=namespace.prefix)
    assert main(["dlq", "replay", "--config", str(cfg)]) == 0
    first = capsys.readouterr()
    assert main(["dlq", "replay", "--config", str(cfg)]) == 0
    second = capsys.readouterr()
    assert main(["dlq", "list", "--state-dir", str(tmp_path / "state")]) == 0
    listed = [json.loads(ln) for ln in capsys.readouterr().out.splitlines() if ln]
    outcomes = [json.loads(ln)["outcome"] for ln in first.out.splitlines()]
    assert (wait_count(es, namespace, 30), outcomes, first.err.strip(), second.out, second.err.strip(), listed) == (
        30, ["replayed"] * 30, "replayed 30 dead letters; 0 still rejected; 0 not sent", "",
        "replayed 0 dead letters; 0 still rejected; 0 not sent", [])


def test_replay_gives_every_record_its_own_outcome(
    es: Elasticsearch, es_url: str, namespace: TierTable, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Corrupt JSON, bad base64, a bad offset, an invalid line and an Elasticsearch refusal stop nothing."""
    install_templates(es, namespace)
    state = tmp_path / "state"
    state.mkdir()
    refused = orjson.loads(event_line(1))
    refused["log"] = {"offset": "not a number"}
    good = [DeadLetter("was refused", event_line(i).rstrip(b"\n"), 100 * i, "/f", "id:1:2:0").to_json()
            for i in (0, 2)]
    (state / DEADLETTER_FILE).write_bytes(b"".join([
        good[0],
        b"{this is not json\n",
        b'{"reason": "x", "identity": "id:1:2:0", "offset": 7, "line_b64": "***"}\n',
        b'{"reason": "x", "identity": "id:1:2:0", "offset": "seven", "line": "{}"}\n',
        b"[1, 2]\n",
        DeadLetter("invalid JSON", b"{broken", 9, "/f", "id:1:2:0").to_json(),
        DeadLetter("was refused", orjson.dumps(refused), 11, "/f", "id:1:2:0").to_json(),
        good[1],
    ]))
    cfg = write_config(tmp_path / "agent.toml", paths=[str(tmp_path / "*.log")], state=state, es_url=es_url,
                       prefix=namespace.prefix)
    status = main(["dlq", "replay", "--config", str(cfg)])
    out = capsys.readouterr()
    got = [(o["outcome"], o["offset"], o["reason"][:40]) for o in map(json.loads, out.out.splitlines())]
    assert (status, wait_count(es, namespace, 2), out.err.strip()) == (
        1, 2, "replayed 2 dead letters; 6 still rejected; 0 not sent")
    assert [(o, off) for o, off, _r in got] == [
        ("rejected", None), ("rejected", None), ("rejected", None), ("rejected", None), ("rejected", 9),
        ("replayed", 0), ("rejected", 11), ("replayed", 200)]
    reasons = [r for _o, _off, r in got]
    assert (reasons[4][:13], reasons[6][:31]) == ("invalid JSON:", "400 document_parsing_exception:")


def test_replay_with_the_node_away_reports_not_sent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With nothing listening, every record is 'not_sent' within the timeout and stays listed."""
    state = tmp_path / "state"
    w = DeadLetterWriter(state)
    for i in range(3):
        w.write(DeadLetter("was refused", event_line(i).rstrip(b"\n"), 100 * i, "/f", "id:1:2:0"))
    w.close()
    cfg = write_config(tmp_path / "agent.toml", paths=[str(tmp_path / "*.log")], state=state,
                       es_url=f"http://127.0.0.1:{free_port()}", prefix="t-nowhere-audit")
    started = time.monotonic()
    status = main(["dlq", "replay", "--config", str(cfg), "--timeout", "1"])
    took = time.monotonic() - started
    out = capsys.readouterr()
    outcomes = [json.loads(ln)["outcome"] for ln in out.out.splitlines()]
    assert (status, outcomes, took < 10, len(list(read_records(state)))) == (1, ["not_sent"] * 3, True, 3)


def test_replay_keeps_what_still_fails(
    es: Elasticsearch, es_url: str, namespace: TierTable, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A dead letter that is still invalid stays listed and replay exits 1 naming the reason."""
    log = tmp_path / "audit.log"
    append_lines(log, [b"{broken\n"])
    cfg = write_config(tmp_path / "agent.toml", paths=[str(log)], state=tmp_path / "state", es_url=es_url,
                       prefix=namespace.prefix)
    w = DeadLetterWriter(tmp_path / "state")
    w.write(DeadLetter("invalid JSON", b"{broken", 0, str(log), "x:y:z:0"))
    w.close()
    assert main(["dlq", "replay", "--config", str(cfg)]) == 1
    out = capsys.readouterr().out
    assert ("invalid JSON" in out, len(list(read_records(tmp_path / "state")))) == (True, 1)


def test_a_dead_letter_file_that_cannot_be_written_holds_reading_and_loses_no_line(
    es: Elasticsearch, es_url: str, namespace: TierTable, tmp_path: Path,
) -> None:
    """The real agent with its dead-letter path blocked (a folder in its place): reading waits at the bad line;
    once the path is free the file is made again and every line arrives, the bad one dead-lettered, none twice."""
    install_templates(es, namespace)
    logs, state = tmp_path / "logs", tmp_path / "state"
    logs.mkdir()
    agent = AgentProcess(write_config(tmp_path / "agent.toml", paths=[f"{logs}/*.jsonl"], state=state,
                                      es_url=es_url, prefix=namespace.prefix), tmp_path / "agent.log")
    try:
        agent.start()
        append_lines(logs / "a.jsonl", [event_line(i) for i in range(3)])
        assert wait_count(es, namespace, 3) == 3
        (state / DEADLETTER_FILE).unlink()
        (state / DEADLETTER_FILE).mkdir()  # nothing can be written there: as a full disk, for this file
        append_lines(logs / "a.jsonl", [event_line(3), b"not json\n", event_line(4)])
        time.sleep(3.0)  # the bad line is held, and with it the batch it would have closed and the line after it
        held = wait_count(es, namespace, 4, timeout=0.5)
        (state / DEADLETTER_FILE).rmdir()
        assert wait_count(es, namespace, 5) == 5
        assert agent.stop() == 0
    finally:
        agent.ensure_stopped()
    said = agent.log.read_text()
    assert (held, [r["line"] for r in read_records(state)]) == (3, ["not json"])
    assert said.count("dead-letter file cannot be written; reading is held until it can") == 1
    assert sorted(str(i) for _id, i in ids(es, namespace)) == [f"ev-{i:08d}" for i in range(5)]
