"""The agent's two admission paths side by side: what the full path ships, and the check that both agree."""

from __future__ import annotations

import orjson

from auditlog.agent.enrich import Enricher
from auditlog.agent.fastpath import PassThrough
from auditlog.agent.parser import Parser, Rejected


def full_path(enricher: Enricher, line: bytes) -> bytes | Rejected:
    """What the agent ships for ``line`` without the pass-through."""
    ev = Parser()(line)
    return ev if isinstance(ev, Rejected) else enricher(ev, "key-1", 0)


def same_shipment(fast: bytes, full: bytes | Rejected) -> None:
    """Assert both paths produce the same action line and an equal document."""
    assert isinstance(full, bytes), full
    fast_action, fast_doc, fast_tail = fast.split(b"\n")
    full_action, full_doc, full_tail = full.split(b"\n")
    assert (fast_action, fast_tail, full_tail) == (full_action, b"", b"")
    assert orjson.loads(fast_doc) == orjson.loads(full_doc)


def native_answer(enricher: Enricher, line: bytes) -> bytes | Rejected | None:
    """The pass-through's answer for ``line`` with its C check, asserted equal to the Python path's (stamp too)."""
    native = PassThrough(enricher)
    got = native(line)
    python = PassThrough(enricher, native=False)
    want = python(line)
    assert got == want, line
    if isinstance(got, bytes):
        assert native.stamp == python.stamp, line
    return got
