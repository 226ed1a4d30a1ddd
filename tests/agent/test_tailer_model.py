"""Model test of the tailer: random write / rotate / truncate / delete / restart sequences.

In the spirit of Vector's file_watcher model tests: the real tailer runs against real files while
the test keeps a model of what was written. Properties: no (identity, offset) is ever returned twice
(acks are committed at once, restarts included); with rename+create as the only rotation, every
written line is delivered exactly once, also when files are rotated away before any scan saw them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.agent.tailer_support import Harness, append

EXAMPLES = int(os.environ.get("AUDITLOG_MODEL_EXAMPLES", "300"))

safe_op = st.one_of(
    st.tuples(st.just("write"), st.integers(1, 5)),
    st.just(("rotate", 0)),
    st.just(("restart", 0)),
    st.just(("step", 0)),
    st.just(("wait", 0)),
)
any_op = st.one_of(safe_op, st.just(("truncate", 0)), st.just(("delete", 0)))


class Model:
    """Runs operations on real files and a tailer, remembering every line written."""

    def __init__(self, root: Path, pattern: str) -> None:
        self.root = root
        self.log = root / "logs" / "audit.log"
        self.log.parent.mkdir()
        self.h = Harness(self.log.parent, root / "state", pattern, close_inactive=2.0, fingerprint_bytes=32)
        # No scan is forced before a rotation: a file that lived under the watched name for no scan at
        # all (created, written and rotated away between two steps, or while the tailer was restarting)
        # must still be found among the rotated files and read exactly once.
        self.written: list[str] = []
        self.seq = 0
        self.rotations = 0

    def apply(self, op: str, n: int) -> None:
        if op == "write":
            lines = [f"line-{self.seq + i:06d}" for i in range(n)]
            self.seq += n
            append(self.log, *lines)
            self.written += lines
        elif op == "rotate" and self.log.exists():
            self.rotations += 1
            os.rename(self.log, self.log.with_name(f"audit.log.{self.rotations}"))
        elif op == "truncate" and self.log.exists():
            os.truncate(self.log, 0)
        elif op == "delete" and self.log.exists():
            self.log.unlink()
        elif op == "restart":
            self.h.restart()
        elif op == "step":
            self.h.step()
        elif op == "crash":
            self.h.crash_step()
        elif op == "wait":
            self.h.clock.now += 3.0
            self.h.step()

    def no_offset_read_twice(self) -> None:
        seen = [(k, off) for k, off, _l in self.h.read]
        assert len(seen) == len(set(seen)), "an (identity, offset) was returned twice"


def run(ops: list[tuple[str, int]], pattern: str = "audit.log") -> Model:
    root = Path(tempfile.mkdtemp(prefix="tailer-model-"))
    try:
        m = Model(root, pattern)
        for op, n in ops:
            m.apply(op, n)
        m.h.settle()
        m.h.tailer.close()
        m.h.registry.close()
        return m
    finally:
        shutil.rmtree(root, ignore_errors=True)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(safe_op, max_size=30))
def test_rename_create_delivers_every_line_once(ops: list[tuple[str, int]]) -> None:
    """With rename+create rotation out of the glob and restarts, every written line is read exactly once."""
    m = run(ops)
    m.no_offset_read_twice()
    assert sorted(m.written) == sorted(line.decode() for _k, _o, line in m.h.read)


@settings(max_examples=EXAMPLES // 2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(safe_op, max_size=30))
def test_rename_create_within_glob_delivers_every_line_once(ops: list[tuple[str, int]]) -> None:
    """With a glob that also matches rotated names, every written line is read exactly once."""
    m = run(ops, "audit.log*")
    m.no_offset_read_twice()
    assert sorted(m.written) == sorted(line.decode() for _k, _o, line in m.h.read)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(any_op, max_size=30))
def test_no_line_is_read_twice_per_identity(ops: list[tuple[str, int]]) -> None:
    """Whatever happens to the files, no line of one identity is read twice and nothing is invented."""
    m = run(ops)
    m.no_offset_read_twice()
    read = [line.decode() for _k, _o, line in m.h.read]
    assert len(read) == len(set(read)), "a line was delivered twice"
    assert set(read) <= set(m.written)


crash_op = st.one_of(safe_op, st.just(("crash", 0)))


@settings(max_examples=EXAMPLES // 2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(crash_op, max_size=30))
def test_crash_rereads_exactly_the_unacknowledged_lines(ops: list[tuple[str, int]]) -> None:
    """Crashes before acknowledging only cause re-reads of the same lines at the same (identity, offset)."""
    m = run(ops)
    by_position: dict[tuple[str, int], set[bytes]] = {}
    for key, off, line in m.h.read:
        by_position.setdefault((key, off), set()).add(line)
    assert all(len(v) == 1 for v in by_position.values()), "a re-read returned different bytes"
    assert sorted(m.written) == sorted(next(iter(v)).decode() for v in by_position.values())
