"""Pass-through: an emitter's line ships byte for byte, and only when the full path would ship the same document."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import event as observe
from hypothesis import given, settings
from hypothesis import strategies as st

from auditlog.agent.enrich import Enricher
from auditlog.agent.fastpath import MISS_STREAK, RETRY_EVERY, EntryMaker, PassThrough
from auditlog.agent.parser import Parser, Rejected
from auditlog.agent.redact import Redactor
from auditlog.indexer.tiers import TierTable
from bench.events import event_lines
from tests.agent.events import event


def emitter_lines(count: int) -> list[bytes]:
    """Fabricated events written by the real emitter chain (no newline), as the benchmark writes them."""
    end = datetime(2026, 11, 20, tzinfo=UTC)
    return [line.rstrip(b"\n") for line in event_lines(count, seed=3, window=(end - timedelta(days=2), end))]


def completed(ev: dict[str, Any]) -> dict[str, Any]:
    """The event as the emitter would write it: with ECS categories and changed fields."""
    out = copy.deepcopy(ev)
    out["event"].update({"kind": "event", "category": ["configuration"], "type": ["change"]})
    if out["audit"].get("changes"):
        out["audit"]["changed_fields"] = sorted(out["audit"]["changes"])
    return out


def full_path(enricher: Enricher, line: bytes) -> bytes | Rejected:
    """What the agent ships for ``line`` without the pass-through."""
    ev = Parser()(line)
    return ev if isinstance(ev, Rejected) else enricher(ev, "key-1", 0)


@pytest.fixture
def enricher() -> Enricher:
    return Enricher(TierTable(prefix="audit"), Redactor())


def same_shipment(fast: bytes, full: bytes | Rejected) -> None:
    """Assert both paths produce the same action line and an equal document."""
    assert isinstance(full, bytes), full
    fast_action, fast_doc, fast_tail = fast.split(b"\n")
    full_action, full_doc, full_tail = full.split(b"\n")
    assert (fast_action, fast_tail, full_tail) == (full_action, b"", b"")
    assert orjson.loads(fast_doc) == orjson.loads(full_doc)


def test_emitter_line_ships_as_written(enricher: Enricher) -> None:
    """The document in the bulk entry is the line's own bytes."""
    line = emitter_lines(1)[0]
    entry = PassThrough(enricher)(line)
    assert isinstance(entry, bytes)
    assert entry.split(b"\n")[1] == line


def test_emitter_lines_match_the_full_path(enricher: Enricher) -> None:
    """For 500 fabricated emitter lines both paths ship the same index, id and document."""
    fast = PassThrough(enricher)
    for line in emitter_lines(500):
        entry = fast(line)
        if entry is None:  # e.g. a redacted secret: the full path decides
            continue
        assert isinstance(entry, bytes)
        same_shipment(entry, full_path(enricher, line))


def test_most_emitter_lines_take_the_pass_through(enricher: Enricher) -> None:
    """At least 95% of emitter lines pass (the rest hold a secret-named change)."""
    fast = PassThrough(enricher)
    lines = emitter_lines(500)
    passed = sum(isinstance(fast(line), bytes) for line in lines)
    assert passed >= 0.95 * len(lines)


@pytest.mark.parametrize(
    ("name", "mutate"),
    [
        ("no categories", lambda e: e["event"].pop("kind")),
        ("null category", lambda e: e["event"].update(category=None)),
        ("no id", lambda e: e["event"].pop("id")),
        ("no changed_fields", lambda e: e["audit"].pop("changed_fields")),
        ("extra top-level field", lambda e: e.update(labels={"team": "a"})),
        ("dotted top-level key", lambda e: e.update({"event.outcome": "success"})),
        ("extra nested field", lambda e: e["user"].update(title="Dr.")),
        ("secret change", lambda e: e["audit"]["changes"].update(password={"old": "a", "new": "b"})),
        ("object inside a change", lambda e: e["audit"]["changes"].update(smtp={"old": {"host": "a"}, "new": None})),
        ("third key in a change", lambda e: e["audit"]["changes"]["start"].update(why="moved")),
        ("day that does not exist", lambda e: e.update({"@timestamp": "2026-02-30T10:00:00Z"})),
        ("bad address", lambda e: e.update(source={"ip": "999.1.1.1"})),
        ("bad outcome", lambda e: e["event"].update(outcome="ok")),
        ("uppercase action", lambda e: e["event"].update(action="Update")),
        ("id with a space", lambda e: e["event"].update(id="a b")),
        ("empty tenant", lambda e: e["organization"].update(id="")),
        ("number as source", lambda e: e["audit"].update(source=7)),
    ],
)
def test_doubtful_line_takes_the_full_path(enricher: Enricher, name: str, mutate: Any) -> None:
    """A line the enricher would change, or the contract may refuse, is left to the full path."""
    ev = completed(event(1, user={"id": "w-1", "name": "Anna"}))
    mutate(ev)
    assert PassThrough(enricher)(orjson.dumps(ev)) is None, name


@pytest.mark.parametrize("line", [b' {"a": 1}', b'{"a": 1} ', b"[1]", b"", b'{"message": "caf\xe9"}', b"{"])
def test_non_object_bytes_take_the_full_path(enricher: Enricher, line: bytes) -> None:
    """Whitespace around the object, other JSON, invalid UTF-8 or JSON: no pass-through."""
    assert PassThrough(enricher)(line) is None


def test_unknown_tier_is_the_routers_rejection(enricher: Enricher) -> None:
    """A plainly valid line with an unknown tier gets the same rejection as on the full path."""
    line = orjson.dumps(completed(event(2, tier="platinum")))
    fast = PassThrough(enricher)(line)
    assert isinstance(fast, Rejected)
    assert fast == full_path(enricher, line)


def test_duplicate_key_is_passed_as_written(enricher: Enricher) -> None:
    """A duplicate key reaches Elasticsearch unchanged (it refuses it; the sink dead-letters with its reason)."""
    line = orjson.dumps(completed(event(4))).replace(b'"message":', b'"message":"first","message":', 1)
    entry = PassThrough(enricher)(line)
    assert isinstance(entry, bytes) and entry.split(b"\n")[1] == line


def test_foreign_lines_are_tried_rarely_after_a_streak(enricher: Enricher) -> None:
    """After MISS_STREAK misses only every RETRY_EVERY-th line is tried; a hit resumes trying every line."""
    fast = PassThrough(enricher)
    foreign, own = orjson.dumps(event(5)), orjson.dumps(completed(event(6)))
    for _ in range(MISS_STREAK):
        assert fast(foreign) is None
    skipped = [fast(own) for _ in range(RETRY_EVERY - 1)]
    assert (skipped.count(None), isinstance(fast(own), bytes)) == (RETRY_EVERY - 1, True)
    assert isinstance(fast(own), bytes)


# ---------------------------------------------------------------------------------------------- property

_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=5), inner, max_size=2),
    max_leaves=4,
)
_PATHS = [
    "@timestamp", "event", "event.id", "event.action", "event.kind", "event.category", "event.type",
    "event.outcome", "audit", "audit.source", "audit.tier", "audit.changes", "audit.changed_fields",
    "audit.login_type", "organization", "organization.id", "organization.name", "user", "user.roles",
    "user.email", "source", "source.ip", "url.full", "user_agent.original", "message", "extra",
]


def _put(ev: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    node: Any = ev
    for p in parents:
        if not isinstance(node.get(p), dict):
            node[p] = {}
        node = node[p]
    node[leaf] = value


@settings(max_examples=400, deadline=None)
@given(
    base=st.sampled_from(emitter_lines(40)),
    edits=st.lists(st.tuples(st.sampled_from(_PATHS), _json), max_size=2),
)
def test_pass_through_never_ships_what_the_full_path_would_not(base: bytes, edits: list[tuple[str, Any]]) -> None:
    """For emitter lines with random fields replaced, an accepted line ships exactly as on the full path."""
    enricher = Enricher(TierTable(prefix="audit"), Redactor())
    ev = orjson.loads(base)
    for path, value in edits:
        _put(ev, path, value)
    line = orjson.dumps(ev)
    fast = PassThrough(enricher)(line)
    observe("pass-through" if isinstance(fast, bytes) else "full path")
    if fast is None:
        return
    full = full_path(enricher, line)
    if isinstance(fast, Rejected):
        assert fast == full
    else:
        same_shipment(fast, full)


def test_entry_maker_uses_the_full_path_for_foreign_lines(enricher: Enricher) -> None:
    """A line without categories gets them from the enricher; an emitter line ships as written."""
    make = EntryMaker(Parser(), enricher)
    own = emitter_lines(1)[0]
    foreign_entry = make(orjson.dumps(event(7)), "key-1", 0)
    assert isinstance(foreign_entry, bytes)
    assert orjson.loads(foreign_entry.split(b"\n")[1])["event"]["kind"] == "event"
    assert make(own, "key-1", 0) == PassThrough(enricher)(own)


def test_entry_maker_rejects_what_the_parser_rejects(enricher: Enricher) -> None:
    """Invalid JSON comes back as the parser's rejection."""
    rejected = EntryMaker(Parser(), enricher)(b"{nope", "key-1", 0)
    assert isinstance(rejected, Rejected) and rejected.reason.startswith("invalid JSON")


def test_misses_in_one_file_do_not_slow_another(enricher: Enricher) -> None:
    """A streak of foreign lines in one file leaves the pass-through on for another file's emitter lines."""
    fast = PassThrough(enricher)
    foreign, own = orjson.dumps(event(5)), orjson.dumps(completed(event(6)))
    for _ in range(MISS_STREAK):
        assert fast(foreign, "file-a") is None
    assert (fast(own, "file-a"), isinstance(fast(own, "file-b"), bytes)) == (None, True)


def test_depth_limit_below_a_line_with_changes_turns_the_pass_through_off(enricher: Enricher) -> None:
    """With inputs.max_depth 3 a line with changes (4 objects deep) is refused by the parser, not passed."""
    line = orjson.dumps(completed(event(8)))
    rejected = EntryMaker(Parser(3), enricher)(line, "key-1", 0)
    assert PassThrough(enricher, 3)(line) is None
    assert isinstance(rejected, Rejected) and "nesting depth 4" in rejected.reason
