"""Parser: bytes -> event, or a Rejected with a reason for every kind of bad line."""

from __future__ import annotations

import orjson
import pytest

from auditlog.agent.parser import BLANK, Parser, Rejected
from tests.agent.events import event, line


def reason(raw: bytes) -> str:
    out = Parser()(raw)
    assert isinstance(out, Rejected), out
    return out.reason


def test_valid_line_becomes_nested_event() -> None:
    """A valid line parses to the nested event."""
    assert event(1) == Parser()(line(1))


def test_dotted_keys_are_expanded() -> None:
    """Top-level dotted keys become nested objects."""
    flat = {"@timestamp": "2026-01-02T03:04:05Z", "event.action": "create", "audit.source": "slots",
            "audit.tier": "basic", "organization.id": "o"}
    out = Parser()(orjson.dumps(flat))
    assert isinstance(out, dict)
    assert out["event"]["action"] == "create"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"{not json", "invalid JSON"),
        (b'{"a": "\xff\xfe"}', "invalid UTF-8 at byte 7"),
        (b'{"a": "x\x00y"}', "NUL byte in line at byte 8"),
        (b"[1, 2]", "not a JSON object: top-level list"),
        (b'{"a":' * 25 + b"1" + b"}" * 25, "object nesting depth 25 exceeds the limit of 20"),
        (b"[" * 5000 + b"]" * 5000, "nesting too deep to parse"),
        (b'{"a": 1e400}', "number_out_of_range: a number overflows a double"),
        (b'{"a": ' + b"9" * 400 + b'.5}', "number_out_of_range: a number overflows a double"),
        (b'{"a": NaN}', "number_out_of_range: NaN and Infinity are not JSON numbers"),
        (b'{"a": [1, -Infinity]}', "number_out_of_range: NaN and Infinity are not JSON numbers"),
    ],
    ids=["json", "utf8", "nul", "array", "deep", "deeper-than-orjson", "overflow", "long-float", "nan", "infinity"],
)
def test_bad_lines_are_rejected_with_reason(raw: bytes, expected: str) -> None:
    """Each kind of malformed line is rejected with a reason saying what is wrong."""
    assert reason(raw).startswith(expected)


def test_integers_beyond_64_bits_stay_exact() -> None:
    """The parser keeps a 400-digit integer exact, so the enricher can refuse it by name instead of rounding it."""
    ev = event()
    ev["audit"]["changes"]["start"]["new"] = "BIG"
    out = Parser()(orjson.dumps(ev).replace(b'"BIG"', b"1" + b"0" * 400))
    assert isinstance(out, dict) and out["audit"]["changes"]["start"]["new"] == 10**400


def test_missing_required_field_names_the_field() -> None:
    """A line without organization.id is rejected naming that field."""
    ev = event()
    del ev["organization"]["id"]
    assert "organization.id" in reason(orjson.dumps(ev))


def test_wrong_type_names_the_field() -> None:
    """A number where a string belongs is rejected naming the field."""
    ev = event()
    ev["audit"]["source"] = 42
    assert "audit.source" in reason(orjson.dumps(ev))


def test_blank_line_is_skipped_not_dead_lettered() -> None:
    """Whitespace-only lines are the BLANK marker."""
    assert BLANK is Parser()(b"  \r")


def test_depth_limit_is_checked_at_construction() -> None:
    """A nonsensical depth limit raises when the parser is built."""
    with pytest.raises(ValueError):
        Parser(max_depth=1)
