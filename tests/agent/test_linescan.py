"""The pass-through's C line check: built here, derived from the contract, and never a different answer."""

from __future__ import annotations

import gc
import sys
import weakref
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from auditlog.agent.batcher import Batcher, BatchSettings
from auditlog.agent.contract import action_ok, id_ok, is_ip, timestamp_ok
from auditlog.agent.enrich import Enricher
from auditlog.agent.fastpath import MISS_STREAK, PassThrough
from auditlog.agent.harvester import Overlong
from auditlog.agent.linescan import AVAILABLE, ROLES, Scan, Scanner, scanner_for, table
from auditlog.agent.parser import Rejected
from auditlog.agent.redact import _USERINFO_HINT, REDACTED, Redactor
from auditlog.agent.shipper import ShipperFields
from auditlog.agent.timebounds import TIMESTAMP_OUT_OF_RANGE, TimeBounds
from auditlog.core.contract import CONTRACT, Field
from auditlog.indexer.tiers import TierTable
from tests.agent.test_fastpath import _NOW, emitter_lines, hostile_lines
from tests.support import sanitized
from tests.support.admission import native_answer
from tests.support.corpus import put
from tests.support.memory import retained_bytes

_SHIPPER = ShipperFields(host_name="h", agent_version="0", ephemeral_id="e", clock=lambda: int(_NOW * 1e9))


def _enricher() -> Enricher:
    """As the agent builds it (bounds, ECS fields, redaction), on a frozen clock."""
    return Enricher(TierTable(), Redactor(), TimeBounds(TierTable(), clock=lambda: _NOW), _SHIPPER)


def _line(edit: dict[str, Any], raw: dict[str, bytes] | None = None) -> bytes:
    """The first emitter line with ``edit`` (path -> value) applied and placeholders swapped for raw bytes."""
    ev = orjson.loads(emitter_lines(1)[0])
    for path, value in edit.items():
        put(path, value)(ev)
    line = orjson.dumps(ev)
    for placeholder, token in (raw or {}).items():
        line = line.replace(orjson.dumps(placeholder), token)
    return line


def _changed(old: Any, new: Any, raw: dict[str, bytes] | None = None) -> bytes:
    """The first emitter line with one change, ``start``, from ``old`` to ``new``."""
    return _line({"audit.changes": {"start": {"old": old, "new": new}}, "audit.changed_fields": ["start"]}, raw)


def _warm(enricher: Enricher) -> Enricher:
    """The enricher after the Python path has seen the emitter's lines (their change names are cleared)."""
    python = PassThrough(enricher, native=False)
    for line in [*emitter_lines(200), _changed(1, 2)]:
        python(line)
    return enricher


_WARM = _warm(_enricher())


def _scan(enricher: Enricher = _WARM) -> Scan:
    redactor = enricher.redactor
    assert redactor is not None
    scanner = scanner_for(redactor.clean_names, redactor.replacement)
    assert scanner is not None
    return scanner.scan


def test_the_c_line_check_is_built_in_this_installation() -> None:
    """`make install` builds the extension (CI and the benchmarks measure it, not the fallback)."""
    assert AVAILABLE


def test_the_table_holds_every_contract_field_once() -> None:
    """Every contract path appears in the table under its top-level key, in the contract's order."""
    paths = []
    for (key, *_), members in table():
        if members is None:
            paths.append(key.decode())
        else:
            paths += [f"{key.decode()}.{member[0].decode()}" for member in members]
    assert [f.path for f in CONTRACT.fields] == paths
    assert set(ROLES) <= set(paths)


def test_a_pattern_the_c_check_does_not_know_stops_the_table() -> None:
    """A new field with a pattern cannot be passed unchecked: building the table fails and names it."""
    contract = CONTRACT.with_field(Field("audit.ticket", pattern=r"T-\d+"))
    with pytest.raises(ValueError, match=r"audit\.ticket"):
        table(contract)


def test_a_changed_pattern_of_a_field_checked_in_c_stops_the_table() -> None:
    """The three shapes written in C must be the contract's: a changed one fails the build of the table."""
    fields = tuple(replace(f, pattern=r"[a-z]{1,16}") if f.path == "event.action" else f for f in CONTRACT.fields)
    with pytest.raises(ValueError, match=r"event\.action"):
        table(replace(CONTRACT, fields=fields))


def test_emitter_lines_are_checked_in_c() -> None:
    """At least 95% of the emitter's lines are answered in C once their change names are cleared."""
    scan = _scan()
    lines = emitter_lines(500)
    assert sum(scan(line) is not None for line in lines) >= 0.95 * len(lines)


def test_emitter_lines_ship_as_the_python_path_ships_them() -> None:
    """For 500 emitter lines, entry and stamp equal the Python path's, with and without redaction."""
    for enricher in (_WARM, Enricher(TierTable(), None, TimeBounds(TierTable(), clock=lambda: _NOW), _SHIPPER)):
        for line in emitter_lines(500):
            native_answer(enricher, line)


@settings(max_examples=1500, deadline=None)
@given(line=hostile_lines())
def test_hostile_lines_ship_as_the_python_path_ships_them(line: bytes) -> None:
    """Big numbers, secrets, escapes, far dates, JSON in odd places: the same answer as the Python path."""
    native_answer(_WARM, line)


@pytest.mark.parametrize(
    ("name", "line"),
    [
        ("escape in a string", _line({"message": "a\nb"})),
        ("escaped slash", _line({"message": "x"}).replace(b'"x"', b'"\\/"')),
        ("space between tokens", _line({}).replace(b'"event":', b'"event": ')),
        ("duplicate top-level key", _line({})[:-1] + b',"message":"x","message":"y"}'),
        ("duplicate member", _line({}).replace(b'"source":', b'"source":"a","source":', 1)),
        ("unknown key", _line({"audit.extra": 1})),
        ("trailing bytes", _line({}) + b" "),
        ("integer beyond a long", _line({"audit.seq": "S"}, {"S": b"9223372036854775808"})),
        ("leading zero", _changed(None, "N", {"N": b"01"})),
        ("exponent beyond 280", _changed(None, "N", {"N": b"1e281"})),
        ("overlong UTF-8", _line({"message": "M"}, {"M": b'"\xc0\xaf"'})),
        ("surrogate in UTF-8", _line({"message": "M"}, {"M": b'"\xed\xa0\x80"'})),
        ("above U+10FFFF", _line({"message": "M"}, {"M": b'"\xf4\x90\x80\x80"'})),
        ("bearer credentials", _line({"message": "sent BeArEr abc"})),
        ("JWT shape", _changed(None, "eyJhbGciOi")),
        ("PEM block", _line({"url.full": "x-----BEGIN KEY"})),
        ("required field null", _line({"audit.tier": None})),
        ("changed fields missing", _changed(1, 2).replace(b',"changed_fields":["start"]', b"")),
        ("change without new", _changed(1, 2).replace(b',"new":2', b"")),
        ("id shared with the organization", _line({"event.id": "org-1", "organization.id": "org-1"})),
    ],
)
def test_what_the_c_check_is_not_sure_of_is_left_to_python(name: str, line: bytes) -> None:
    """A line outside what the C check reads exactly gets no answer from it (the Python path decides)."""
    assert _scan()(line) is None, name
    native_answer(_WARM, line)


@pytest.mark.parametrize("token", [b"0", b"-0", b"-9223372036854775808", b"1.5", b"1E5", b"2.5e-280", b"true", b"null",
                                   b"[1,\"a\",null]", b"[]"])
def test_numbers_and_literals_it_reads_exactly_are_answered_in_c(token: bytes) -> None:
    """Numbers within a long or a double's safe range, literals and arrays of them are read in C."""
    line = _changed(None, "N", {"N": token})
    assert _scan()(line) is not None
    native_answer(_WARM, line)


def test_user_info_or_an_equals_sign_in_a_text_is_handed_to_the_redactors_regexes() -> None:
    """'://user@' or '=' in a text: the texts come back joined as the Python path joins them, for suspect_text."""
    line = _changed("x", ["y"])
    line = line.replace(b'"message":"', b'"message":"from ftp://a@b ').replace(b'"full":"', b'"full":"https://h/?page=2#')
    found = _scan()(line)
    assert found is not None
    ev = orjson.loads(line)
    changes = ev["audit"]["changes"]
    strings = [s for c in changes.values() for v in (c["old"], c["new"]) for s in (v if type(v) is list else [v])
               if type(s) is str]
    assert "\n".join([ev["message"], ev["url"]["full"], *strings]) == found[8]


def test_mail_addresses_beside_urls_stay_in_c() -> None:
    """An '@' that ends no '://user' part (mail addresses, @-mentions) needs no question to the redactor."""
    line = _line({"message": "Anna updated customer 7 https://app.example/c/7 anna@example.com @team",
                  "url.full": "https://app.example/customers/7?x#@y"})
    found = _scan()(line)
    assert found is not None and found[8] is None
    native_answer(_WARM, line)


@pytest.mark.parametrize("text", ["https://anna:hunter2@host/x", "ftp://anna@host", "x://@h", "see s3://k:s@b?x"])
def test_user_info_in_a_url_is_handed_to_the_redactor(text: str) -> None:
    """'://' then an '@' before any '/', blank, '?' or '#': suspect_text decides, in Python (and redacts a password)."""
    line = _line({"message": text})
    found = _scan()(line)
    assert found is not None and found[8] is not None and text in found[8]
    native_answer(_WARM, line)


@settings(max_examples=1000, deadline=None)
@given(text=st.text(st.sampled_from("ab:/@?# \u00e9"), max_size=24))
def test_the_c_check_clears_a_text_with_an_at_sign_only_where_suspect_text_would(text: str) -> None:
    """Texts of URL characters: C asks the redactor exactly when its user-info rule could apply, never less (a tab,
    escaped in JSON, never reaches the C check)."""
    redactor = _WARM.redactor
    assert redactor is not None
    line = _line({"message": text})
    found = _scan()(line)
    assert found is not None
    if found[8] is None:
        assert redactor.suspect_text(text) is False, text
    if "@" in text and ": " not in text:
        assert (found[8] is not None) == (_USERINFO_HINT.search(text) is not None), text
    native_answer(_WARM, line)


@pytest.mark.parametrize("text", ["login failed: password: hunter2", "login failed, password:'hunter2'",
                                  "{'pwd': 'hunter2'}", "{'pwd' :1}", "<pin>1234</pin>"])
def test_an_assignment_by_colon_or_an_element_is_handed_to_the_redactors_regexes(text: str) -> None:
    """A colon before a blank or quote, a quote before a colon, or '</' in a text: suspect_text decides, in Python."""
    line = _line({"message": text})
    found = _scan()(line)
    assert found is not None and found[8] is not None and text in found[8]
    assert native_answer(_WARM, line) is None  # the Python path finds the secret: the full path redacts it


def test_a_colon_after_a_name_the_redactor_cleared_stays_in_c() -> None:
    """'login failed: ...' asks the redactor once; once it found 'failed' not secret, such texts stay in C."""
    enricher = _warm(_enricher())  # the change names cleared, as in a running agent
    redactor = enricher.redactor
    assert redactor is not None
    line = _line({"message": "login failed: bad credentials for anna"})
    first = _scan(enricher)(line)
    assert first is not None and first[8] is not None
    assert redactor.suspect_text(first[8]) is False
    again = _scan(enricher)(line)
    assert again is not None and again[8] is None


def test_a_colon_after_a_secret_name_always_asks_the_redactor() -> None:
    """A secret name before ': ' is never cleared: the text goes to the redactor every time, which redacts it."""
    line = _line({"message": "login failed: password: hunter2"})
    for _ in range(2):
        found = _scan()(line)
        assert found is not None and found[8] is not None
    assert native_answer(_WARM, line) is None


def test_times_ports_and_schemes_stay_in_c() -> None:
    """Colons in times, dates, ports and '://' need no question to the redactor (most emitter texts hold one)."""
    line = _changed("09:00-13:00", "2026-11-20T17:30")
    line = line.replace(b'"full":"', b'"full":"https://h:8443/x?').replace(b'"message":"', b'"message":"at 12:30, ')
    found = _scan()(line)
    assert found is not None and found[8] is None
    native_answer(_WARM, line)


def test_a_change_name_not_yet_cleared_is_left_to_python() -> None:
    """A change name the redactor has not answered for gets no answer in C; after the Python path, it does."""
    enricher = _enricher()
    line = _line({"audit.changes": {"colour": {"old": "red", "new": "blue"}}, "audit.changed_fields": ["colour"]})
    assert _scan(enricher)(line) is None
    PassThrough(enricher, native=False)(line)
    assert _scan(enricher)(line) is not None


def test_a_change_name_cleared_once_is_known_to_the_scanner_until_it_is_set_again() -> None:
    """A scanner keeps the names it found cleared (the redactor's bounded set may forget them; its answer would not
    change); initialised again, for another redactor, it asks again."""
    names = {"colour": True}
    line = _line({"audit.changes": {"colour": {"old": "red", "new": "blue"}}, "audit.changed_fields": ["colour"]})
    scanner = scanner_for(names.keys(), "x")
    assert scanner is not None
    assert scanner.scan(line) is not None
    names.clear()  # the redactor's set forgot it
    assert scanner.scan(line) is not None
    scanner.__init__(table(), {}.keys(), b"x")  # type: ignore[misc]
    assert scanner.scan(line) is None


def test_many_cleared_names_each_keep_their_own_answer() -> None:
    """Names past what the scanner keeps, longer than it keeps, or sharing a slot are answered as the set says."""
    names = {f"field_{i}": True for i in range(400)} | {"n" * 60: True}
    scanner = scanner_for(names.keys(), "x")
    assert scanner is not None
    for name in [*names, "field_400", "n" * 61, "field_1x"]:
        line = _line({"audit.changes": {name: {"old": "a", "new": "b"}}, "audit.changed_fields": [name]})
        assert (scanner.scan(line) is not None) == (name in names), name
    for name in ("field_7", "n" * 60):  # asked again: answered (the kept from the table, the rest from the set)
        line = _line({"audit.changes": {name: {"old": "a", "new": "b"}}, "audit.changed_fields": [name]})
        assert scanner.scan(line) is not None


def test_a_blanked_secret_change_needs_no_clearing() -> None:
    """A change already blank on both sides (the emitter redacted it) is answered in C without a look-up."""
    line = _line({"audit.changes": {"password": {"old": REDACTED, "new": None}}, "audit.changed_fields": ["password"]})
    assert _scan(_enricher())(line) is not None
    native_answer(_enricher(), line)


@settings(max_examples=600, deadline=None)
@given(raw=st.binary(max_size=12))
def test_a_string_is_read_in_c_exactly_when_it_is_plain_utf8(raw: bytes) -> None:
    """Bytes in a text pass in C only when they decode as UTF-8 with no quote, backslash or control character."""
    assume(not any(needle in raw.lower() for needle in (b"eyj", b"-----begin", b"bearer", b"basic")))
    line = _line({"message": "M"}, {"M": b'"' + raw + b'"'})
    try:
        text = raw.decode()
        plain = not any(c in text for c in '"\\') and all(c >= " " for c in text)
    except UnicodeDecodeError:
        plain = False
    assert plain == (_scan()(line) is not None)


_DIGITS = st.text("0123456789", min_size=1, max_size=3)
_FRACTIONS = st.sampled_from(["", ".", ".5", ".123456789", ".1234567890"])
_ZONES = st.sampled_from(["Z", "z", "+01:00", "-23:59", "+24:00", "+01:60", "", "+0100"])


@settings(max_examples=800, deadline=None)
@given(parts=st.tuples(_DIGITS, _DIGITS, _DIGITS, _DIGITS, _DIGITS, _DIGITS, _FRACTIONS, _ZONES))
def test_timestamps_are_read_in_c_as_timestamp_ok_reads_them(parts: tuple[str, ...]) -> None:
    """The C check accepts exactly the @timestamp values the contract's check accepts (calendar included)."""
    year, month, day, hour, minute, second, fraction, zone = parts
    stamp = f"{year.zfill(4)}-{month.zfill(2)}-{day.zfill(2)}T{hour.zfill(2)}:{minute.zfill(2)}:{second.zfill(2)}"
    stamp += fraction + zone
    found = _scan()(_line({"@timestamp": stamp}))
    assert timestamp_ok(stamp) == (found is not None)


@settings(max_examples=500, deadline=None)
@given(action=st.text(st.sampled_from("az09_.:-A !é"), max_size=130))
def test_actions_are_read_in_c_as_action_ok_reads_them(action: str) -> None:
    """The C check accepts exactly the event.action values the contract's check accepts."""
    found = _scan()(_line({"event.action": action}))
    assert (0 < len(action) <= 128 and action_ok(action)) == (found is not None)


@settings(max_examples=500, deadline=None)
@given(event_id=st.text(st.sampled_from("a~!Z \x7fé-"), max_size=514))
def test_event_ids_are_read_in_c_as_id_ok_reads_them(event_id: str) -> None:
    """The C check accepts exactly the event.id values the contract's check accepts."""
    found = _scan()(_line({"event.id": event_id}))
    assert id_ok(event_id) == (found is not None)


def test_lengths_count_characters_not_bytes() -> None:
    """A one-character non-ASCII tier meets min_length 1 (as msgspec counts it), an empty one does not."""
    assert _scan()(_line({"audit.source": "ü"})) is not None
    assert _scan()(_line({"audit.source": ""})) is None


def test_the_answer_is_read_from_the_line() -> None:
    """The answer carries the id, time, tier, stream, sequence number and the id as spelled, ending at its offset."""
    line = emitter_lines(1)[0]
    ev = orjson.loads(line)
    event_id, stamp, tier, stream, seq, id_json, end, _, _, prefix, index = _scan()(line) or ()
    assert (event_id, stamp, tier, stream, seq) == (
        ev["event"]["id"], ev["@timestamp"], ev["audit"]["tier"], ev["audit"]["stream"], ev["audit"]["seq"])
    assert line[end - len(id_json):end] == id_json == orjson.dumps(event_id)
    assert (prefix, index) == (None, None)  # a new scanner's route memo is empty: the router decides


@settings(max_examples=500, deadline=None)
@given(ip=st.one_of(st.ip_addresses(v=4).map(str), st.ip_addresses(v=6).map(str),
                    st.text(st.sampled_from("0123456789.:af%"), max_size=20)))
def test_a_dotted_quad_is_checked_in_c_as_is_ip_checks_it(ip: str) -> None:
    """An address comes back for is_ip unless C read it as a valid dotted quad; the C check never passes a bad one."""
    found = _scan()(_line({"source.ip": ip}))
    assert found is not None
    if found[7] is None:
        assert is_ip(ip)
    else:
        assert found[7] == ip
    native_answer(_WARM, _line({"source.ip": ip}))


@settings(max_examples=2000, deadline=None)
@given(ip=st.one_of(st.ip_addresses(v=6).map(str), st.ip_addresses(v=6).map(lambda a: a.exploded.upper()),
                    st.text(st.sampled_from("0Af9:::"), max_size=42), st.text(st.sampled_from("0f:.%g"), max_size=12)))
def test_a_hex_colon_address_is_checked_in_c_as_is_ip_checks_it(ip: str) -> None:
    """An IPv6 address without '.' or '%' is answered in C exactly as is_ip answers it; other forms go back to it."""
    found = _scan()(_line({"source.ip": ip}))
    assert found is not None
    plain = ":" in ip and "." not in ip and "%" not in ip
    assert (found[7] is None) == (plain and is_ip(ip)), ip
    native_answer(_WARM, _line({"source.ip": ip}))


def test_answering_lines_keeps_no_memory() -> None:
    """20,000 answers leave the traced memory where it was (the C side keeps no reference to what it made)."""
    scan, line = _scan(), emitter_lines(1)[0]
    assert retained_bytes(lambda: scan(line), 20_000) < 4096


def test_mutated_lines_cause_no_memory_error_under_sanitizers(tmp_path: Path) -> None:
    """A build with AddressSanitizer and UBSan reads 40,000 mutated lines (three redactor states, two route memos),
    runs of them, and the harvester's split of chunks cut from them."""
    run = sanitized.run("tests.support.mutated_scan", str(sanitized.build("_linescan", tmp_path)), "40000", "7")
    assert 0 == run.returncode, run.stderr[-3000:]
    _, answered, _, routed, _, taken, _, split = run.stdout.split()
    assert int(answered) > 1000  # enough lines were read to the end, not refused at the first byte
    assert int(routed) > 500  # and the route memo answered for some of them
    assert int(taken) > 1000  # and runs of them took lines whole
    assert int(split) > 5000  # and the harvester's split cut chunks of them into lines


def test_a_failed_reinitialisation_leaves_a_scanner_that_answers_nothing() -> None:
    """Initialising a scanner again with a bad table raises and leaves it answering None (no stale table)."""
    redactor = Redactor()
    scanner = scanner_for(redactor.clean_names, redactor.replacement)
    assert scanner is not None
    bad = ((b"message", 0, 100_000, False, 0, -1, 0, 0, ()), None)
    with pytest.raises(ValueError):
        scanner.__init__((bad,), redactor.clean_names, b"x")  # type: ignore[misc]
    assert scanner.scan(emitter_lines(1)[0]) is None


# -- the route memo: the router's answers kept in C, handed back only where the router would not ask the bounds --

def _stamp(seconds: float) -> str:
    """A contract ``@timestamp`` ("...Z", milliseconds) for seconds since the epoch."""
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _pair(enricher: Enricher) -> tuple[PassThrough, PassThrough]:
    """A pass-through with the C check (and its memo) and the Python reference, sharing one enricher."""
    return PassThrough(enricher), PassThrough(enricher, native=False)


def _same(native: PassThrough, python: PassThrough, line: bytes) -> bytes | Rejected | None:
    """Assert both answer ``line`` alike (the stamp too); return the answer."""
    got, want = native(line), python(line)
    assert got == want, line
    if isinstance(got, bytes):
        assert native.stamp == python.stamp, line
    return got


def _memo_answers(native: PassThrough, lines: list[bytes]) -> int:
    """How many of ``lines`` the C check answers with a route from its memo."""
    scanner = native._scanner  # the memo's state is what this counts
    assert scanner is not None
    return sum(1 for line in lines if (found := scanner.scan(line)) is not None and found[9] is not None)


def test_a_warm_route_memo_answers_emitter_lines_as_the_router_does() -> None:
    """After one line per tier and day, the memo routes almost every emitter line, with the router's entry and stamp."""
    native, python = _pair(_warm(_enricher()))
    lines = emitter_lines(500)
    for line in lines:
        _same(native, python, line)
    assert _memo_answers(native, lines) >= 0.95 * len(lines)
    for line in lines:
        _same(native, python, line)


@settings(max_examples=200, deadline=None)
@given(st.lists(hostile_lines(), min_size=1, max_size=12))
def test_a_warm_route_memo_answers_hostile_lines_as_the_router_does(lines: list[bytes]) -> None:
    """Hostile lines (times, tiers, texts) through a pass-through whose memo is warm get the reference's answers."""
    native, python = _pair(_WARM)
    for line in emitter_lines(40):
        native(line)
    for line in lines:
        _same(native, python, line)


def test_the_memo_stops_answering_when_the_bounds_window_ends() -> None:
    """A line near the oldest bound is routed while the window holds, and refused once the moved clock ends it."""
    now = [_NOW]
    enricher = _warm(Enricher(TierTable(), Redactor(), TimeBounds(TierTable(), clock=lambda: now[0]), _SHIPPER))
    native, python = _pair(enricher)
    edge = _line({"@timestamp": _stamp(_NOW - 31 * 86400 + 5)})  # 31 days: the longest retention plus the margin
    assert isinstance(_same(native, python, edge), bytes)
    now[0] = _NOW + 0.5  # the window still holds: the memo answers
    assert _memo_answers(native, [edge]) == 1
    assert isinstance(_same(native, python, edge), bytes)
    now[0] = _NOW + 10  # past the window's end: the router asks the bounds again, which refuse the line
    assert _memo_answers(native, [edge]) == 0
    refused = _same(native, python, edge)
    assert isinstance(refused, Rejected) and TIMESTAMP_OUT_OF_RANGE in refused.reason


def test_the_memo_answers_no_second_outside_the_window_on_a_day_it_knows() -> None:
    """Seconds just past either bound, on a day the memo holds, are refused as the router refuses them."""
    noon = _NOW + 43_200  # both bounds fall at noon: a day holds seconds on either side of each
    enricher = _warm(Enricher(TierTable(), Redactor(), TimeBounds(TierTable(), clock=lambda: noon), _SHIPPER))
    native, python = _pair(enricher)
    for bound in (noon - 31 * 86400, noon + 86400):  # the longest retention plus the margin; the skew
        steps = (5, -5) if bound < noon else (-5, 5)
        inside, outside = (_line({"@timestamp": _stamp(bound + step)}) for step in steps)
        assert isinstance(_same(native, python, inside), bytes)
        assert _memo_answers(native, [inside, outside]) == 1
        refused = _same(native, python, outside)
        assert isinstance(refused, Rejected) and TIMESTAMP_OUT_OF_RANGE in refused.reason


def test_more_tier_and_day_keys_than_the_memo_holds_are_all_routed_right() -> None:
    """Forty days by three tiers (past the memo's 16 keys) route as the router does, twice over."""
    native, python = _pair(_warm(_enricher()))
    lines = [_line({"@timestamp": _stamp(_NOW - day * 86400 + 60), "audit.tier": tier})
             for day in range(40) for tier in ("enterprise", "business", "flatrate")]
    for _ in range(2):
        for line in lines:
            _same(native, python, line)


class _Bounds:
    """Stands in for the time bounds: the memo reads only its ``clock``."""

    def __init__(self, clock: Callable[[], Any]) -> None:
        self.clock = clock


class _Router:
    """Stands in for the enricher in direct calls: the memo reads only ``bounds_window`` and ``bounds.clock``."""

    def __init__(self, clock: Callable[[], Any] = lambda: 0.0,
                 window: tuple[str, str, float] | None = None) -> None:
        self.bounds_window = window or _WHOLE
        self.bounds = _Bounds(clock)


_WHOLE = ("0001-01-01T00:00:00", "9999-12-31T23:59:59", float("inf"))  # every second, never stale


def _taught(router: _Router) -> tuple[Scanner, bytes, str, str]:
    """A scanner whose memo holds the first emitter line's tier and day; that line, its tier and its stamp."""
    scanner = scanner_for(None, "")
    assert scanner is not None
    line = emitter_lines(1)[0]
    ev = orjson.loads(line)
    tier, stamp = ev["audit"]["tier"], ev["@timestamp"]
    assert scanner.remember_route(tier, stamp, b"p", "i", router, router.bounds_window)
    return scanner, line, tier, stamp


def _routed(scanner: Scanner, line: bytes) -> tuple[Any, Any]:
    """The memo's answer for ``line`` (``(None, None)``: none)."""
    found = scanner.scan(line)
    assert found is not None
    return found[9], found[10]


def test_a_taught_memo_answers_with_what_it_was_taught() -> None:
    """After remember_route, a line of that tier and day inside the window gets the prefix and index given."""
    scanner, line, _tier, _stamp = _taught(_Router())
    assert _routed(scanner, line) == (b"p", "i")


def test_a_window_the_memo_cannot_hold_exactly_is_refused() -> None:
    """remember_route with a bound that is not a whole second returns False, and the memo answers nothing."""
    scanner, line, tier, stamp = _taught(_Router())
    bad = ("2026-11", "9999-12-31T23:59:59", float("inf"))
    assert not scanner.remember_route(tier, stamp, b"x", "x", _Router(window=bad), bad)
    assert _routed(scanner, line) == (None, None)


def test_a_timestamp_with_an_offset_is_not_kept() -> None:
    """remember_route with a "+01:00" timestamp (whose day the router converts first) returns False and forgets."""
    scanner, line, tier, stamp = _taught(_Router())
    assert not scanner.remember_route(tier, stamp[:-1] + "+01:00", b"x", "x", _Router(), _WHOLE)
    assert _routed(scanner, line) == (None, None)


def test_an_offset_line_on_a_day_the_memo_knows_is_left_to_the_router() -> None:
    """A "+14:00" line whose local date is a day the memo holds (its UTC day is the one before) gets no memo answer."""
    scanner, _taught_line, _tier, stamp = _taught(_Router())
    local = _line({"@timestamp": stamp[:10] + "T05:00:00.000+14:00"})
    assert _routed(scanner, local) == (None, None)


def test_arguments_of_other_types_are_refused() -> None:
    """A bytes or str subclass, or a window that is a list, raises TypeError (their release could run Python)."""
    class Text(str):
        pass

    class Data(bytes):
        pass

    scanner, _taught_line, tier, stamp = _taught(_Router())
    keys: list[tuple[str, str, bytes, str]] = [(Text(tier), stamp, b"p", "i"), (tier, stamp, Data(b"p"), "i"),
                                               (tier, stamp, b"p", Text("i"))]
    for key_tier, key_stamp, prefix, index in keys:
        with pytest.raises(TypeError):
            scanner.remember_route(key_tier, key_stamp, prefix, index, _Router(), _WHOLE)
    with pytest.raises(TypeError):
        scanner.remember_route(tier, stamp, b"p", "i", _Router(), list(_WHOLE))  # type: ignore[arg-type]


def test_the_memo_answers_only_while_the_router_keeps_the_window_it_learnt() -> None:
    """A router that replaced its window (even by an equal one) gets no answer until the memo learns the new one."""
    router = _Router()
    scanner, line, _tier, _stamp = _taught(router)
    router.bounds_window = tuple(list(_WHOLE))  # type: ignore[assignment]  # equal, not the same tuple
    assert _routed(scanner, line) == (None, None)


def test_the_memo_reads_the_routers_clock_as_it_is_now() -> None:
    """A clock replaced on the router's bounds after teaching is the one read: past the window's end, no answer."""
    window = ("0001-01-01T00:00:00", "9999-12-31T23:59:59", 100.0)
    router = _Router(lambda: 0.0, window)
    scanner, line, _tier, _stamp = _taught(router)
    assert _routed(scanner, line) == (b"p", "i")
    router.bounds.clock = lambda: 100.0
    assert _routed(scanner, line) == (None, None)


def test_a_clock_replaced_on_the_enrichers_bounds_is_routed_as_the_router_does() -> None:
    """Replacing TimeBounds.clock of a warm pass-through's enricher: a line now too old is refused on both paths."""
    enricher = _warm(_enricher())
    native, python = _pair(enricher)
    line = emitter_lines(1)[0]
    assert isinstance(_same(native, python, line), bytes)
    assert enricher.bounds is not None
    enricher.bounds.clock = lambda: _NOW + 40 * 86400  # the line is now older than 31 days
    refused = _same(native, python, line)
    assert isinstance(refused, Rejected) and TIMESTAMP_OUT_OF_RANGE in refused.reason


def test_a_window_refreshed_elsewhere_then_a_clock_stepping_back_is_routed_as_the_router_does() -> None:
    """A window refreshed by a line the memo never sees, then the clock stepping back: refused as the router does."""
    now = [_NOW + 43_200 + 0.2]
    enricher = _warm(Enricher(TierTable(), Redactor(), TimeBounds(TierTable(), clock=lambda: now[0]), _SHIPPER))
    native, python = _pair(enricher)
    oldest = _NOW + 43_200 - 31 * 86400  # the oldest bound at noon
    assert isinstance(_same(native, python, _line({"@timestamp": _stamp(oldest + 1)})), bytes)  # the memo learns W0
    now[0] = _NOW + 43_200 + 4.5  # past W0's end: a "+00:00" line (routed in Python) refreshes the window to W1
    offset = _stamp(_NOW - 86400).replace("Z", "+00:00")
    assert isinstance(_same(native, python, _line({"@timestamp": offset})), bytes)
    now[0] = _NOW + 43_200 + 0.5  # the wall clock steps back, below W0's end
    refused = _same(native, python, _line({"@timestamp": _stamp(oldest + 2)}))  # inside W0, before W1's oldest
    assert isinstance(refused, Rejected) and TIMESTAMP_OUT_OF_RANGE in refused.reason


def test_the_memo_lets_the_garbage_collector_free_a_cycle_through_its_router() -> None:
    """A router whose clock refers back to the scanner forms a cycle the collector frees (the scanner lists it)."""
    class Sentinel:
        pass

    def cycle() -> weakref.ref[Sentinel]:
        """Build scanner -> router -> clock -> holder -> scanner, with a sentinel in it; keep no outside reference."""
        holder: list[Any] = [Sentinel()]
        scanner, *_ = _taught(_Router(lambda: float(len(holder))))
        holder.append(scanner)
        return weakref.ref(holder[0])

    alive = cycle()
    gc.collect()
    assert alive() is None


def test_a_clock_that_empties_the_memo_while_it_is_read_gets_no_answer_from_it() -> None:
    """A clock that makes the memo forget its window mid-scan leaves the line to the router (no stale route)."""
    state: dict[str, Any] = {}
    bad = ("bad", "bad", 0.0)

    def clock() -> float:
        state["scanner"].remember_route(state["tier"], state["stamp"], b"x", "x", _Router(window=bad), bad)
        return 0.0

    state["scanner"], line, state["tier"], state["stamp"] = _taught(_Router(clock))
    assert _routed(state["scanner"], line) == (None, None)


def test_a_clock_that_refills_the_memo_while_it_is_read_gets_no_answer_from_it() -> None:
    """A clock that overwrites every slot with other keys mid-scan leaves the line to the router (no other route)."""
    state: dict[str, Any] = {}

    def clock() -> float:
        for day in range(1, 17):
            state["scanner"].remember_route("enterprise", f"2020-01-{day:02}T00:00:00.000Z", b"WRONG", "wrong",
                                            router, _WHOLE)
        return 0.0

    router = _Router(clock)
    state["scanner"], line, _tier, _stamp = _taught(router)
    assert _routed(state["scanner"], line) == (None, None)


def test_a_finaliser_run_while_the_memo_is_emptied_finds_it_empty() -> None:
    """A router released by forgetting whose finaliser scans again gets no answer from a half-emptied memo."""
    seen: list[tuple[Any, Any]] = []
    state: dict[str, Any] = {}

    class Dying(_Router):
        def __del__(self) -> None:
            seen.append(_routed(state["scanner"], state["line"]))

    state["scanner"], state["line"], tier, stamp = _taught(Dying())
    bad = ("bad", "bad", 0.0)
    assert not state["scanner"].remember_route(tier, stamp, b"x", "x", _Router(window=bad), bad)
    assert seen == [(None, None)]


def test_a_clock_that_fails_leaves_the_line_to_the_router() -> None:
    """A clock that raises, or answers something that is not a number, gets no memo answer and no exception."""
    def broken() -> float:
        raise RuntimeError("clock")

    clocks: list[Callable[[], Any]] = [broken, lambda: "noon"]
    for clock in clocks:
        scanner, line, _tier, _stamp = _taught(_Router(clock))
        assert _routed(scanner, line) == (None, None)


# -- runs of lines: the pass-through for a block's lines in one call (Scanner.run, PassThrough.run) --

def _items(lines: list[Any]) -> list[tuple[int, Any]]:
    """``(offset, line)`` items as a block holds them (each line and its newline after the one before)."""
    items, off = [], 0
    for line in lines:
        items.append((off, line))
        off += (line.length if isinstance(line, Overlong) else len(line)) + 1
    return items


def _warm_pass() -> PassThrough:
    """A pass-through with the C check whose route memo knows the emitter lines' tiers and days."""
    native = PassThrough(_WARM)
    for line in emitter_lines(40):
        native(line)
    return native


def _run(native: PassThrough, items: list[tuple[int, Any]], start: int = 0, *, events: int = 10_000,
         nbytes: int = 1 << 30, suspect: Any = None, ip_ok: Any = is_ip) -> tuple[tuple[int, int, int, int], list[Any]]:
    """Scanner.run over ``items`` with the redactor's question unless given; its answer and the three lists."""
    scanner = native._scanner
    redactor = _WARM.redactor
    assert scanner is not None and redactor is not None
    lists: list[list[Any]] = [[], [], []]
    ingested, suffix = _SHIPPER.parts_now()
    answer = scanner.run(items, start, "k", "p", 1 << 40, events, nbytes, ingested, suffix,
                         suspect or redactor.suspect_text, ip_ok, *lists)
    return answer, lists


def _by_runs(native: PassThrough, items: list[tuple[int, Any]]) -> tuple[list[tuple[Any, ...]], int]:
    """Each line's (answer, stamp, origin) as :meth:`PassThrough.run` and the per-line answers between its runs give
    them (as the pipeline does, batches of 7), and how many lines runs took. Checks each run's accounting on the way."""
    got: list[tuple[Any, ...]] = []
    batcher = Batcher(BatchSettings(max_events=7))
    taken = start = 0
    while start < len(items):
        entries, origins, stamps, _room, _bytes = batcher.room()
        before = len(entries)
        at, full = native.run(items, start, "", "p", 1 << 40, batcher)
        if at > start:
            if full is not None:
                entries, origins, stamps = full.entries, full.origins, full.stamps
            got += zip(entries[before:], stamps[before:], origins[before:], strict=True)
            assert len(entries) - before == at - start
            taken += at - start
        if at < len(items):
            got.append(_answer(native, *items[at]))
        start = at + 1
    return got, taken


def _answer(native: PassThrough, off: int, line: bytes) -> tuple[Any, ...]:
    """One line's per-line (answer, stamp or None, origin), for the file ``""`` at path ``p``."""
    answer = native(line)
    return answer, native.stamp if isinstance(answer, bytes) else None, ("", "p", off, line)


def _per_line(native: PassThrough, items: list[tuple[int, Any]]) -> list[tuple[Any, ...]]:
    """Each line's (answer, stamp, origin) answered line by line."""
    return [_answer(native, off, line) for off, line in items]


def test_a_run_appends_what_the_pass_through_answers_line_by_line() -> None:
    """Lines taken by runs (the others answered per line between them) get the entry, stamp and ``(key, path,
    offset, line)`` origin of answering every line per line; the run's bytes and end add up."""
    items = _items(emitter_lines(300))
    got, taken = _by_runs(_warm_pass(), items)
    assert got == _per_line(_warm_pass(), items)
    assert taken >= 0.8 * len(items)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(hostile_lines(), st.sampled_from(emitter_lines(40))), min_size=1, max_size=30))
def test_runs_over_hostile_lines_answer_as_the_pass_through_does_line_by_line(lines: list[bytes]) -> None:
    """Hostile lines among emitter lines: runs and the per-line answers between them give every line its per-line
    answer."""
    items = _items(lines)
    assert _by_runs(_warm_pass(), items)[0] == _per_line(_warm_pass(), items)


def test_a_run_stops_at_the_first_line_it_is_not_sure_of() -> None:
    """A line the check doubts, an overlong line's marker, a route the memo does not know, a text the redactor's
    regexes flag or an address is_ip refuses ends the run there, and nothing of it is appended."""
    native = _warm_pass()
    good = emitter_lines(6)
    doubtful: list[Any] = [b"", b"not json", _line({"message": "a\nb"}), Overlong(10, b"x"),
                           _line({"@timestamp": "2019-01-01T00:00:00.000Z"}), _line({"message": "token=abc"}),
                           _line({"source.ip": "1:2:3:4:5:6:7:8:9"})]
    for odd in doubtful:
        (at, added, _size, _end), lists = _run(native, _items([*good[:3], odd, *good[3:]]))
        assert (at, added) == (3, 3), odd
        assert [len(one) for one in lists] == [3, 3, 3]


def test_a_run_takes_at_most_the_room_it_is_given() -> None:
    """A run ends once it appended ``room_events`` entries or at least ``room_bytes`` bytes (as a batch fills)."""
    native = _warm_pass()
    items = _items(emitter_lines(10))
    assert _run(native, items, 2, events=3)[0][:2] == (5, 3)
    (at, added, size, _end), _lists = _run(native, items, nbytes=1)
    assert (at, added) == (1, 1) and size > 1


def test_a_question_that_raises_ends_the_run_at_its_line_without_an_exception() -> None:
    """A redactor question or address check that raises leaves the line to the per-line path (which meets the error
    again and reports it); the lists stay of one length."""
    native = _warm_pass()
    def broken(text: str) -> bool:
        raise RuntimeError("question")

    lines = emitter_lines(4)
    flagged = _line({"message": "mail ftp://a@b.c", "source.ip": "::ffff:1.2.3.4"})
    (at, added, _s, _e), lists = _run(native, _items([*lines, flagged]), suspect=broken)
    assert (at, added) == (4, 4) and [len(one) for one in lists] == [4, 4, 4]
    (at, added, _s, _e), lists = _run(native, _items([*lines, flagged]), ip_ok=broken)
    assert (at, added) == (4, 4) and [len(one) for one in lists] == [4, 4, 4]


def test_run_arguments_of_other_types_are_refused_before_anything_is_appended() -> None:
    """Lists that are not exactly lists, or texts that are not bytes, raise TypeError and append nothing."""
    native = _warm_pass()
    scanner = native._scanner
    assert scanner is not None
    items = _items(emitter_lines(2))
    lists: list[list[Any]] = [[], [], []]
    with pytest.raises(TypeError):
        scanner.run(tuple(items), 0, "k", "p", 99, 9, 9, b"", b"}", None, is_ip, *lists)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        scanner.run(items, 0, "k", "p", 99, 9, 9, "", b"}", None, is_ip, *lists)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        scanner.run(items, 0, "k", "p", 99, 9, 9, b"", b"}", None)  # type: ignore[call-arg]
    assert lists == [[], [], []]


def test_runs_keep_no_memory() -> None:
    """5,000 runs of 20 lines leave the traced memory where it was (once their results are dropped)."""
    native = _warm_pass()
    items = _items(emitter_lines(20))
    assert retained_bytes(lambda: _run(native, items), 5_000) < 4096


def test_a_file_whose_lines_keep_missing_is_left_to_the_per_line_path() -> None:
    """While the per-line path skips a file's lines (after MISS_STREAK misses), a run takes none of them."""
    native = _warm_pass()
    for _ in range(MISS_STREAK):
        native(b"not json", "k")
    batcher = Batcher(BatchSettings())
    assert native.run(_items(emitter_lines(5)), 0, "k", "p", 10**9, batcher) == (0, None)
    assert native.run(_items(emitter_lines(5)), 0, "other", "p", 10**9, batcher)[0] == 5


def test_event_ingested_is_read_once_per_run() -> None:
    """Every entry of one run carries the clock's reading at the run's start, however the clock moves meanwhile."""
    ticks = iter(range(10**12, 10**13, 10**9))  # a second later at every reading
    shipper = ShipperFields(host_name="h", agent_version="0", ephemeral_id="e", clock=lambda: next(ticks))
    native = PassThrough(Enricher(TierTable(), _WARM.redactor, TimeBounds(TierTable(), clock=lambda: _NOW), shipper))
    lines = emitter_lines(40)
    for line in lines:
        native(line)
    batcher = Batcher(BatchSettings())
    assert native.run(_items(lines), 0, "k", "p", 10**9, batcher)[0] >= 10
    batch = batcher.flush()
    assert batch is not None
    stamps = {orjson.loads(entry.split(b"\n")[1])["event"]["ingested"] for entry in batch.entries}
    assert len(stamps) == 1


def test_lines_a_run_takes_end_a_files_miss_streak() -> None:
    """15 misses, a run that takes lines, then one more miss: the file is not skipped (the run reset the streak)."""
    native = _warm_pass()
    for _ in range(MISS_STREAK - 1):
        native(b"not json", "k")
    batcher = Batcher(BatchSettings())
    items = _items(emitter_lines(5))
    assert native.run(items, 0, "k", "p", 10**9, batcher)[0] == 5
    native(b"not json", "k")
    assert native.run(items, 0, "k", "p", 10**9, batcher)[0] == 5


def test_runs_leave_the_reference_counts_of_what_they_read_as_they_were() -> None:
    """The lines, the file's key and path, and the memo's index name are held by nothing once a run's results go."""
    native = _warm_pass()
    lines = emitter_lines(20)
    items = _items(lines)
    key, path = "key-" + "x" * 3, "path-" + "y" * 3  # made here: nothing else holds them
    scanner = native._scanner
    assert scanner is not None
    index = scanner.scan(lines[0])[10]  # type: ignore[index]
    counts = [sys.getrefcount(one) for one in (*lines, key, path, index)]
    for _ in range(50):
        lists: list[list[Any]] = [[], [], []]
        ingested, suffix = _SHIPPER.parts_now()
        scanner.run(items, 0, key, path, 1 << 40, 100, 1 << 30, ingested, suffix, _WARM.redactor.suspect_text,  # type: ignore[union-attr]
                    is_ip, *lists)
        assert len(lists[0]) == 20
        del lists
    assert [sys.getrefcount(one) for one in (*lines, key, path, index)] == counts


def test_an_interrupt_in_a_question_ends_the_run_takes_it_back_and_goes_on_up() -> None:
    """A KeyboardInterrupt raised by the redactor's question is not swallowed: it propagates, and the lines appended
    before it are taken back (nothing unreported stays in the batch)."""
    native = _warm_pass()
    def interrupted(text: str) -> bool:
        raise KeyboardInterrupt

    lines = emitter_lines(4)
    flagged = _line({"message": "mail ftp://a@b.c"})
    with pytest.raises(KeyboardInterrupt):
        _run(native, _items([*lines, flagged]), suspect=interrupted)
    lists: list[list[Any]] = [[b"kept"], [b"kept"], [b"kept"]]
    ingested, suffix = _SHIPPER.parts_now()
    scanner = native._scanner
    assert scanner is not None
    with pytest.raises(KeyboardInterrupt):
        scanner.run(_items([*lines, flagged]), 0, "k", "p", 1 << 40, 100, 1 << 30, ingested, suffix, interrupted,
                    is_ip, *lists)
    assert lists == [[b"kept"], [b"kept"], [b"kept"]]


def _counted_pass(now: list[float]) -> tuple[PassThrough, list[int]]:
    """A warm pass-through with the C check on a clock that reads ``now[0]`` and counts its readings."""
    readings = [0]

    def clock() -> float:
        readings[0] += 1
        return now[0]

    native = PassThrough(_warm(Enricher(TierTable(), Redactor(), TimeBounds(TierTable(), clock=clock), _SHIPPER)))
    for line in emitter_lines(40):
        native(line)
    return native, readings


def test_a_run_reads_the_routers_clock_once_for_all_its_lines() -> None:
    """A run of 40 lines the memo routes reads the clock once, not once per line (a tenth of the reader's time)."""
    native, readings = _counted_pass([_NOW])
    readings[0] = 0
    (at, added, _, _), _ = _run(native, _items(emitter_lines(40)))
    assert (at, added, readings[0]) == (40, 40, 1)


def test_a_clock_moved_past_the_window_between_runs_ends_the_next_runs_routes() -> None:
    """A line near the oldest bound is taken by a run while the window holds; after the clock moves past the
    window's end the next run reads it again and leaves the line to the router, which refuses it."""
    now = [_NOW]
    native, _ = _counted_pass(now)
    edge = _line({"@timestamp": _stamp(_NOW - 31 * 86400 + 5)})
    native(edge)  # the router teaches the memo this day
    taken = _run(native, [(0, edge)])[0][1]
    now[0] = _NOW + 10
    assert (taken, _run(native, [(0, edge)])[0][1]) == (1, 0)


def test_a_question_that_moves_the_routers_window_ends_the_runs_routes() -> None:
    """An address question (Python) that gives the router a new window mid-run leaves the run's next line to the
    router, as the per-line check does: the clock read for the run's first line judged the old window only."""
    native = _warm_pass()

    def moving(address: str) -> bool:
        native.enricher.bounds_window = ("", "", float("-inf"))  # as route() does when the window moves
        return is_ip(address)

    lines = [_line({"source.ip": "::ffff:1.2.3.4"}), *emitter_lines(3)]
    assert _run(native, _items(lines), ip_ok=moving)[0][:2] == (1, 1)
