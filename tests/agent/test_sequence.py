"""Stream ids and sequence numbers: one stream per writer instance and per forked child, numbers without gaps."""

from __future__ import annotations

import os
import threading

import orjson
import pytest

from auditlog.agent.contract import ContractError
from auditlog.agent.emitter import AuditEmitter, build_processors
from auditlog.agent.sequence import StreamSequencer


class Lines:
    """A line writer that keeps what it is given."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []

    def write(self, line: bytes) -> None:
        self.lines.append(line)

    def close(self) -> None:
        pass


def _emitter() -> tuple[AuditEmitter, Lines]:
    lines = Lines()
    return AuditEmitter(lines, build_processors(), strict=True), lines


def _audit(line: bytes) -> dict[str, object]:
    return dict(orjson.loads(line)["audit"])


def test_emitter_numbers_events_from_one_in_one_stream() -> None:
    """Three events from one emitter carry one stream id and seq 1, 2, 3."""
    emitter, lines = _emitter()
    log = emitter.logger().bind(tenant="org-1", tier="enterprise", source="login")
    for _ in range(3):
        log.auth("signed in")
    audits = [_audit(line) for line in lines.lines]
    assert [(a["stream"], a["seq"]) for a in audits] == [(audits[0]["stream"], n) for n in (1, 2, 3)]


def test_two_emitters_write_two_streams() -> None:
    """Each writer instance starts its own stream."""
    first, a = _emitter()
    second, b = _emitter()
    for emitter in (first, second):
        emitter.logger().bind(tenant="org-1", tier="basic", source="login").auth("x")
    assert _audit(a.lines[0])["stream"] != _audit(b.lines[0])["stream"]


def test_refused_event_takes_no_number() -> None:
    """An event the contract refuses does not consume a sequence number."""
    emitter, lines = _emitter()
    log = emitter.logger().bind(tenant="org-1", tier="basic", source="login")
    log.auth("ok")
    with pytest.raises(ContractError):
        log.auth("no tenant", tenant="")
    log.auth("ok again")
    assert [_audit(line)["seq"] for line in lines.lines] == [1, 2]


def test_threads_never_share_or_skip_a_number() -> None:
    """8 threads x 500 events get exactly the numbers 1..4000."""
    seq = StreamSequencer()
    got: list[int] = []
    lock = threading.Lock()

    def work() -> None:
        mine = [seq(None, "info", {"audit": {}})["audit"]["seq"] for _ in range(500)]
        with lock:
            got.extend(mine)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == list(range(1, 4001))


def test_forked_child_starts_a_new_stream() -> None:
    """After fork the child numbers from 1 in a stream of its own."""
    seq = StreamSequencer()
    seq(None, "info", {"audit": {}})
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report its stream and first number, then leave without cleanup
        event = seq(None, "info", {"audit": {}})["audit"]
        os.write(write, orjson.dumps([event["stream"], event["seq"]]))
        os._exit(0)
    os.close(write)
    child = orjson.loads(os.read(read, 1000))
    os.close(read)
    os.waitpid(pid, 0)
    assert (child[1], child[0] != seq.stream) == (1, True)
