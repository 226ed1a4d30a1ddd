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
from auditlog.agent.timebounds import TimeBounds
from auditlog.core.contract import CONTRACT, ENRICHMENTS, Enrichment
from auditlog.indexer.tiers import TierTable
from bench.events import event_lines
from tests.agent.events import event
from tests.support.admission import full_path, same_shipment


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


@pytest.fixture
def enricher() -> Enricher:
    return Enricher(TierTable(prefix="audit"), Redactor())


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


@pytest.mark.parametrize("rule", ENRICHMENTS, ids=lambda rule: rule.path)
def test_line_lacking_what_an_enrichment_rule_fills_takes_the_full_path(enricher: Enricher, rule: Enrichment) -> None:
    """For every enrichment rule of the contract, a line without its field (where the rule applies) is not passed."""
    ev = completed(event(1, user={"id": "w-1", "name": "Anna"}))  # with changes: every rule applies
    passed = PassThrough(enricher)(orjson.dumps(ev))
    top, leaf = rule.path.split(".", 1)
    del ev[top][leaf]
    assert (True, None) == (type(passed) is bytes, PassThrough(enricher)(orjson.dumps(ev)))


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
    "audit.login_type", "audit.stream", "audit.seq", "organization", "organization.id", "organization.name",
    "user", "user.roles", "user.email", "source", "source.ip", "url.full", "user_agent.original", "message", "extra",
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


_SECRET_SHAPES = ["s-1?token=abc", "Bearer abcdefgh1234", "https://u:pw@h/", "eyJab.eyJcd.ef", '{"pwd": "x"}']


def test_secret_shaped_text_in_any_contract_field_ships_as_on_the_full_path(enricher: Enricher) -> None:
    """A secret-shaped value in any string field of the contract is shipped by the pass-through only as on the
    full path (``audit.stream`` once was not: the full path redacted it)."""
    base = orjson.loads(emitter_lines(1)[0])
    passed: list[str] = []
    for path in (f.path for f in CONTRACT.fields if f.type == "string"):
        for text in _SECRET_SHAPES:
            ev = copy.deepcopy(base)
            _put(ev, path, text)
            line = orjson.dumps(ev)
            fast = PassThrough(enricher)(line)
            if fast is None:  # deferred: the full path decides alone
                continue
            passed.append(path)
            if isinstance(fast, Rejected):
                assert fast == full_path(enricher, line), (path, text)
            else:
                same_shipment(fast, full_path(enricher, line))
    assert "audit.stream" in passed


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


# ---------------------------------------------------------------------------------------------- hostile lines

_NUMBER_TOKENS = st.sampled_from(
    [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e400", b"9" * 400, b"-" + b"9" * 30, b"1" + b"0" * 25 + b".0",
     b"18446744073709551615", b"18446744073709551616", b"9223372036854775807", b"9223372036854775808",
     b"-9223372036854775808", b"-9223372036854775809", b"1.50", b"1E5", b"-0", b"0.1e-400", b"1e308"]
) | st.integers().map(lambda i: str(i).encode()) | st.floats(allow_nan=False, allow_infinity=False).map(
    lambda f: repr(f).encode())
_TEXT = st.lists(
    st.sampled_from(["Bearer ", "basic ", "eyJab.eyJcd.ef", "https://", "u:pw@h/", "?access_token=", "&page=",
                     "password=", "sid=", "-----BEGIN KEY-----", '"pwd": ', "abc12345", "\x01", " ", "x", "@",
                     "password: ", ":'", "'pwd': ", "'", "<pin>", "</pin>", "12:30", "\t", '\\"pwd\\":',
                     '\\"'])
    | st.text(max_size=3),
    max_size=6,
).map("".join)
#: raw escapes written in place of \x01 in a text: spell letters of a secret in disguise
_ESCAPES = st.sampled_from([b"\\u0065", b"\\/", b"\\u0042", b"\\u0040", b"\\u003d", b"\\n", b'\\"'])
_STAMPS = st.sampled_from(
    ["9999-12-31T23:59:59Z", "0999-01-01T00:00:00Z", "0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00",
     "2026-11-21T00:00:01Z", "2026-11-20T23:59:59Z", "2026-10-20T00:00:00Z", "2026-10-19T23:59:59Z",
     "2026-11-19T10:00:00+14:00", "2026-02-29T00:00:00Z", "2026-11-19T10:00:00.123456789Z"]
)
_HOSTILE_PATHS = [*_PATHS, "audit.changes.start.new", "audit.changes.note.old"]
_NOW = datetime(2026, 11, 20, tzinfo=UTC).timestamp()


@st.composite
def hostile_lines(draw: st.DrawFn) -> bytes:
    """An emitter line with a few fields replaced by hostile numbers, texts, times or JSON, some of it escaped."""
    ev = orjson.loads(draw(st.sampled_from(emitter_lines(40))))
    tokens: list[bytes] = []
    for _ in range(draw(st.integers(1, 2))):
        kind = draw(st.sampled_from(["number", "number", "text", "text", "text", "time", "json"]))
        values = ["audit.changes.start.new", "audit.changes.note.old", "message", "url.full"]
        numbers = [*values, *(f.path for f in CONTRACT.fields if f.type == "integer")]  # audit.seq too
        path = draw(st.sampled_from(numbers if kind == "number" else values if kind == "text" else _HOSTILE_PATHS))
        if kind == "number":
            tokens.append(draw(_NUMBER_TOKENS))
            _put(ev, path, f"\x02{len(tokens) - 1}\x02")
            if path.startswith("audit.changes."):
                ev["audit"]["changed_fields"] = sorted(ev["audit"]["changes"])
        elif kind == "text":
            _put(ev, path, draw(_TEXT))
            if path.startswith("audit.changes."):
                ev["audit"]["changed_fields"] = sorted(ev["audit"]["changes"])
        elif kind == "time":
            _put(ev, "@timestamp", draw(_STAMPS))
        else:
            _put(ev, path, draw(_json))
    line = orjson.dumps(ev)
    for i, token in enumerate(tokens):
        line = line.replace(f'"\\u0002{i}\\u0002"'.encode(), token)
    while b"\\u0001" in line:
        line = line.replace(b"\\u0001", draw(_ESCAPES), 1)
    return line


@settings(max_examples=1500, deadline=None)
@given(line=hostile_lines())
def test_pass_through_ships_only_what_the_full_path_ships(line: bytes) -> None:
    """For hostile lines (big numbers, NaN, secrets, escapes, far dates) it ships the full path's entry or defers."""
    enricher = Enricher(TierTable(prefix="audit"), Redactor(), TimeBounds(TierTable(), clock=lambda: _NOW))
    fast = PassThrough(enricher)(line)
    observe("pass-through" if isinstance(fast, bytes) else "rejected" if fast is not None else "full path")
    if fast is None:
        return
    full = full_path(enricher, line)
    if isinstance(fast, Rejected):
        assert fast == full
    else:
        same_shipment(fast, full)


@pytest.mark.parametrize(
    ("edit", "reason"),
    [(b"9" * 400, "number_out_of_range"), (b"18446744073709551616", "number_out_of_range"),
     (b"NaN", "number_out_of_range"), (b"1e400", "number_out_of_range")],
)
def test_numbers_readers_cannot_decode_are_dead_lettered_on_both_paths(enricher: Enricher, edit: bytes,
                                                                       reason: str) -> None:
    """An emitter line with an out-of-range number in a change is refused with number_out_of_range, never passed."""
    line = emitter_lines(1)[0]
    ev = orjson.loads(line)
    ev["audit"]["changes"] = {"n": {"old": None, "new": "\x02"}}
    ev["audit"]["changed_fields"] = ["n"]
    hostile = orjson.dumps(ev).replace(b'"\\u0002"', edit)
    out = EntryMaker(Parser(), enricher)(hostile, "k", 0)
    assert PassThrough(enricher)(hostile) is None
    assert isinstance(out, Rejected) and out.reason.startswith(reason)


@pytest.mark.parametrize("path", [f.path for f in CONTRACT.fields if f.type == "integer"])
@pytest.mark.parametrize("edit", [b"9223372036854775808", b"18446744073709551616", b"9" * 100,
                                  b"-9223372036854775809"])
def test_an_integer_field_outside_a_long_is_never_passed(enricher: Enricher, path: str, edit: bytes) -> None:
    """A contract integer (``audit.seq``) outside Elasticsearch's long takes the full path, which names the field."""
    ev = orjson.loads(emitter_lines(1)[0])
    _put(ev, path, 7_777_777)
    hostile = orjson.dumps(ev).replace(b"7777777", edit)
    out = EntryMaker(Parser(), enricher)(hostile, "k", 0)
    assert (PassThrough(enricher)(hostile), isinstance(out, Rejected) and out.reason.startswith(f"contract: {path}:")) \
        == (None, True)


def test_value_shaped_secret_in_an_emitter_line_takes_the_full_path_and_is_redacted(enricher: Enricher) -> None:
    """A bearer token in url.full makes the pass-through defer; the full path ships it redacted."""
    ev = orjson.loads(emitter_lines(1)[0])
    ev["url"] = {"full": "https://app.example/x?access_token=abcdef123"}
    line = orjson.dumps(ev)
    entry = EntryMaker(Parser(), enricher)(line, "k", 0)
    assert PassThrough(enricher)(line) is None
    assert isinstance(entry, bytes) and b"abcdef123" not in entry and b"[REDACTED]" in entry


@pytest.mark.parametrize("change", [{"old": "[REDACTED]", "new": None}, {"old": None, "new": "[REDACTED]"},
                                    {"old": "[REDACTED]", "new": "[REDACTED]"}])
def test_secret_change_the_emitter_blanked_ships_as_the_full_path_does(enricher: Enricher,
                                                                      change: dict[str, Any]) -> None:
    """A secret-named change already holding the replacement or null passes, with the full path's document."""
    ev = completed(event(1, user={"id": "w-1", "name": "Anna"}))
    ev["audit"]["changes"]["password"] = change
    ev["audit"]["changed_fields"] = sorted(ev["audit"]["changes"])
    line = orjson.dumps(ev)
    entry = PassThrough(enricher)(line)
    assert isinstance(entry, bytes)
    same_shipment(entry, full_path(enricher, line))


@pytest.mark.parametrize("change", [{"old": "[REDACTED]", "new": "hunter2"}, {"old": ["[REDACTED]"], "new": None},
                                    {"old": "[redacted]", "new": None}])
def test_secret_change_not_fully_blanked_takes_the_full_path(enricher: Enricher, change: dict[str, Any]) -> None:
    """A secret-named change with any side other than the replacement or null is left to the full path."""
    ev = completed(event(1, user={"id": "w-1", "name": "Anna"}))
    ev["audit"]["changes"]["password"] = change
    ev["audit"]["changed_fields"] = sorted(ev["audit"]["changes"])
    assert PassThrough(enricher)(orjson.dumps(ev)) is None
