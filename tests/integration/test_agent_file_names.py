"""Hostile file names against the real node: a log whose name is not UTF-8 (and holds an escape sequence)
is shipped like any other, its bad line is dead-lettered naming the file exactly, and status shows it."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch

from auditlog.agent.deadletter import DeadLetter, read_records
from auditlog.cli import main
from tests.integration.agent_support import AgentRun, agent_run, event_line, ids

#: bytes that are not UTF-8, an escape sequence and a line break: everything but '/' and NUL may name a file
NAME = b"audit-\xff\xfe-\x1b]0;owned\x07-\n.jsonl"
GOOD = 5


@pytest.fixture(scope="module")
def run(es: Elasticsearch, es_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentRun]:
    lines = [event_line(i) for i in range(GOOD)] + [b'{"message": "not an audit event"}\n']
    with agent_run(es, es_url, tmp_path_factory.mktemp("agent-names"), lines, arrivals=GOOD, dead_letters=1,
                   name=NAME) as done:
        yield done


def test_every_line_of_a_file_named_in_other_bytes_arrives(run: AgentRun, es: Elasticsearch) -> None:
    """The agent ships all good lines of the file and exits cleanly on SIGTERM."""
    shipped = sorted(str(i) for _id, i in ids(es, run.tiers))
    assert (0, [f"ev-{i:08d}" for i in range(GOOD)]) == (run.exit_status, shipped)


def test_its_dead_letter_names_the_file_exactly(run: AgentRun) -> None:
    """The rejected line's record names the file readable (escaped) and exact (base64), and reads back as the path."""
    [record] = list(read_records(run.state))
    assert (os.fsencode(run.log), True, str(run.log)) == (
        base64.b64decode(record["file_b64"]), "audit-\\xff\\xfe-" in record["file"], DeadLetter.from_json(record).file)


def test_status_lists_it_on_one_row_without_sending_the_escape(run: AgentRun, capsys: pytest.CaptureFixture[str]
                                                               ) -> None:
    """`agent status` exits 0 with the header and one row; the name's escape and line break are shown as text."""
    assert main(["agent", "status", "--state-dir", str(run.state)]) == 0
    out = capsys.readouterr().out
    assert (2, False, True) == (len(out.splitlines()), "\x1b" in out,
                                "audit-\\udcff\\udcfe-\\x1b]0;owned\\x07-\\x0a.jsonl" in out)
