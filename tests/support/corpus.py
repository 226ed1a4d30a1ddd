"""The combined hostile corpus: one entry per class of hostile input, each with the outcome it must have.

Two kinds of entries:

- ``LINES``: lines an application (or an attacker who can write to its log) puts into an audit file; the
  real agent reads them and each must end as ``shipped`` (as written, or with its secrets redacted),
  ``dead-lettered`` with a reason, ``skipped`` (blank), ``pending`` (no newline yet: neither) or
  ``expired`` (shipped into a daily index that retention deletes at once). Lines shaped like the
  emitter's take the agent's pass-through, the others its full path, so both admission paths meet every
  class they can.
- ``STORED``: documents the agent refuses but another producer (an older agent, a script with the writer
  key) could still put into Elasticsearch; the test indexes them with a raw bulk request.

``SECRETS`` lists every secret value the corpus contains: none may reach Elasticsearch or the
dead-letter file. Timestamps are relative to ``NOW`` (the module's import time), inside the agent's time
bounds unless the class is about them.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import orjson

from auditlog.agent.categorize import categorize

NOW: Final = datetime.now(UTC)

SHIPPED: Final = "shipped"
REDACTED: Final = "shipped redacted"
DEAD: Final = "dead-lettered"
SKIPPED: Final = "skipped"
PENDING: Final = "pending"
EXPIRED: Final = "expired"

#: the agent's ``inputs.max_line_bytes`` in the corpus run (small, so the overlong class stays cheap)
MAX_LINE_BYTES: Final = 8192


@dataclass(frozen=True)
class Case:
    """One class of hostile line: its bytes (with line end), the outcome, and for dead letters the reason."""

    name: str
    line: bytes
    outcome: str
    reason: str = ""
    secrets: tuple[str, ...] = ()
    #: for a dead letter: ``auditlog dlq replay`` into an empty namespace ships it (else: still rejected)
    replays: bool = False

    @property
    def event_id(self) -> str | None:
        """The ``event.id`` the line carries, when it is a JSON object with one."""
        try:
            obj = orjson.loads(self.line)
            value = obj["event.id"] if "event.id" in obj else obj["event"]["id"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return None
        return value if isinstance(value, str) else None


@dataclass(frozen=True)
class Stored:
    """One document put into the index directly: its id, its raw JSON body and its age in hours."""

    name: str
    doc_id: str
    body: bytes
    hours: float

    @property
    def at(self) -> datetime:
        """The document's ``@timestamp``."""
        return NOW - timedelta(hours=self.hours)


def _stamp(hours: float) -> str:
    return (NOW - timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def event(name: str, *, emitter: bool = True, hours: float = 2.0, tier: str = "enterprise") -> dict[str, Any]:
    """A valid contract event for class ``name``; ``emitter`` shapes it like the emitter's (pass-through)."""
    action = "update"
    ev: dict[str, Any] = {
        "@timestamp": _stamp(hours),
        "event": {"id": f"hc-{name}", "action": action, "outcome": "success"},
        "audit": {"source": "appointments", "tier": tier, "changes": {"start": {"old": "10:00", "new": "11:00"}}},
        "organization": {"id": "org-hostile", "name": "Hostile AG"},
        "user": {"id": "w-1", "name": "Worker"},
        "message": f"corpus {name}",
    }
    if emitter:
        ev["event"].update(categorize(action))
        ev["audit"]["changed_fields"] = ["start"]
    return ev


Edit = Callable[[dict[str, Any]], None]


def line(name: str, edit: Edit | None = None, *, emitter: bool = True, hours: float = 2.0,
         tier: str = "enterprise", raw: tuple[bytes, bytes] | None = None, end: bytes = b"\n") -> bytes:
    """The line of class ``name``: its event after ``edit`` (changed fields kept in step), then a raw splice."""
    ev = event(name, emitter=emitter, hours=hours, tier=tier)
    if edit is not None:
        edit(ev)
    audit = ev.get("audit")
    if isinstance(audit, dict) and "changed_fields" in audit and isinstance(audit.get("changes"), dict):
        audit["changed_fields"] = sorted(audit["changes"])
    data = orjson.dumps(ev)
    if raw is not None:
        assert raw[0] in data, f"{name}: splice target missing"
        data = data.replace(*raw)
    return data + end


def put(path: str, value: Any) -> Edit:
    """An edit setting the dotted ``path`` (objects created as needed)."""
    def edit(ev: dict[str, Any]) -> None:
        *parents, leaf = path.split(".")
        node = ev
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return edit


def drop(path: str) -> Edit:
    """An edit removing the dotted ``path``."""
    def edit(ev: dict[str, Any]) -> None:
        *parents, leaf = path.split(".")
        node = ev
        for part in parents:
            node = node[part]
        del node[leaf]
    return edit


def change(field: str, new: Any, old: Any = None) -> Edit:
    """An edit adding ``audit.changes[field]``."""
    return lambda ev: ev["audit"]["changes"].update({field: {"old": old, "new": new}})


def both(*edits: Edit) -> Edit:
    """The edits one after the other."""
    def edit(ev: dict[str, Any]) -> None:
        for one in edits:
            one(ev)
    return edit


#: a placeholder string a raw splice replaces with a number token the JSON encoder cannot write
_TOKEN = "\x02"


def number(name: str, token: bytes, *, emitter: bool = True) -> bytes:
    """The line of ``name`` with ``token`` as the new value of ``audit.changes.n``."""
    return line(name, change("n", _TOKEN), emitter=emitter, raw=(b'"\\u0002"', token))


def nested(depth: int) -> Any:
    """A value nested ``depth`` objects deep."""
    value: Any = 1
    for _ in range(depth):
        value = {"k": value}
    return value


JWT = "eyJhbGciOiJIUzI1NiJ9.eyJTM0NSRVQtand0In0.c2lnLWp3dA"
PEM = "-----BEGIN PRIVATE KEY-----\nS3CRET-pem-body\n-----END PRIVATE KEY-----"
LONG_ID = "L" * 512
_RANDOM = random.Random(11)  # seeded: the far dates are random but the same in every run


def _far_date() -> str:
    year = _RANDOM.choice([_RANDOM.randint(1000, 1990), _RANDOM.randint(2100, 9998)])
    return f"{year:04d}-{_RANDOM.randint(1, 12):02d}-{_RANDOM.randint(1, 28):02d}T{_RANDOM.randint(0, 23):02d}:00:00Z"


def _ahead(days: float) -> str:
    return (NOW + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _contract_wrong_type(path: str, value: Any, *, emitter: bool = False) -> Case:
    name = "wrong_type_" + path.replace(".", "_").replace("@", "")
    return Case(name, line(name, put(path, value), emitter=emitter), DEAD, f"contract: {path}:")


def _secret_in_message(name: str, message: str, secret: str) -> Case:
    """A line whose message holds ``secret`` in one of the redactor's shapes: shipped with it redacted."""
    return Case(name, line(name, put("message", message)), REDACTED, secrets=(secret,))


LINES: Final[list[Case]] = [
    # numbers the readers cannot round-trip (issue 11, item 1)
    Case("int_400_digits", number("int_400_digits", b"9" * 400), DEAD, "number_out_of_range"),
    Case("int_above_u64", number("int_above_u64", b"18446744073709551616", emitter=False), DEAD,
         "number_out_of_range"),
    Case("int_below_i64", number("int_below_i64", b"-9223372036854775809"), DEAD, "number_out_of_range"),
    Case("float_overflow", number("float_overflow", b"1e400"), DEAD, "number_out_of_range"),
    Case("nan_token", number("nan_token", b"NaN"), DEAD, "number_out_of_range"),
    Case("infinity_token", number("infinity_token", b"-Infinity", emitter=False), DEAD, "number_out_of_range"),
    Case("u64_max", number("u64_max", b"18446744073709551615"), SHIPPED),
    Case("float_tiny", number("float_tiny", b"1e-400"), SHIPPED),
    # time bounds (item 2)
    Case("year_9999", line("year_9999", put("@timestamp", "9999-12-31T00:00:00Z")), DEAD, "timestamp_out_of_range"),
    Case("year_0999", line("year_0999", put("@timestamp", "0999-06-01T00:00:00Z"), emitter=False), DEAD,
         "timestamp_out_of_range"),
    Case("offset_into_year_0", line("offset_into_year_0", put("@timestamp", "0001-01-01T00:30:00+01:00")), DEAD,
         "timestamp_out_of_range"),
    *[Case(f"random_far_date_{n}", line(f"random_far_date_{n}", put("@timestamp", _far_date()), emitter=n % 2 == 0),
           DEAD, "timestamp_out_of_range") for n in range(4)],
    Case("two_days_ahead", line("two_days_ahead", put("@timestamp", _ahead(2))), DEAD, "timestamp_out_of_range"),
    Case("an_hour_ahead", line("an_hour_ahead", put("@timestamp", _ahead(1 / 24))), SHIPPED),
    Case("a_year_ago", line("a_year_ago", hours=365 * 24, emitter=False), DEAD, "timestamp_out_of_range"),
    Case("offset_crosses_midnight", line("offset_crosses_midnight", put(
        "@timestamp", (NOW - timedelta(hours=3)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") + "+00:00")),
        SHIPPED),
    Case("impossible_date", line("impossible_date", put("@timestamp", "2026-02-30T10:00:00Z")), DEAD,
         "contract: @timestamp"),
    # within the bounds, but older than the business class keeps its indices: retention deletes it at once
    Case("business_event_10_days_old", line("business_event_10_days_old", hours=240, tier="business"), EXPIRED),
    # event text that looks like markup, control, direction or formula (items 4, 12)
    Case("markup_worker", line("markup_worker", put("user.name", "Anna [Admin]")), SHIPPED),
    Case("markup_close_tag", line("markup_close_tag", both(put("audit.source", "[/]"), change("[/]", "[b]x"))),
         SHIPPED),
    Case("markup_link", line("markup_link", put("organization.name", "[link=https://evil.example]click[/link]")),
         SHIPPED),
    Case("markup_id", line("markup_id", put("event.id", "[b]evil[/b]")), SHIPPED),
    Case("control_chars_escaped", line("control_chars_escaped", put("user.name", "bell\x07 esc\x1b[31mred\x1b[0m")),
         SHIPPED),
    Case("raw_control_char", line("raw_control_char", put("message", "tab\x01here"), raw=(b"\\u0001", b"\x01")),
         DEAD, "invalid JSON"),
    Case("bidi_and_zero_width", line("bidi_and_zero_width", put("user.name", "\u202egnp.exe\u200b\u2066x\u2069")),
         SHIPPED),
    Case("formula_cells", line("formula_cells", both(put("message", "=HYPERLINK(\"http://evil\")"),
                                                      put("user.name", "\u200b@SUM(A1)"), change("note", "＋cmd"))),
         SHIPPED),
    Case("lone_surrogate_escape", line("lone_surrogate_escape", put("message", "a\x03b"),
                                       raw=(b"\\u0003", b"\\ud800")), DEAD, "invalid JSON"),
    Case("emoji_and_astral", line("emoji_and_astral", put("user.name", "Zoë 👩‍💻 𝔘")), SHIPPED),
    Case("nul_escaped", line("nul_escaped", put("message", "a\x00b")), SHIPPED),
    Case("digit_run_in_message", line("digit_run_in_message",
                                      put("message", "IBAN CH9300762011623852957, ref 12345678901234567890123")),
         SHIPPED),
    Case("keyword_beyond_ignore_above", line("keyword_beyond_ignore_above", put("user.name", "N" * 2000)), SHIPPED),
    # tamper-evidence fields the two admission paths must read alike (found by tests/fuzz)
    Case("seq_beyond_64_bits", line("seq_beyond_64_bits", both(put("audit.stream", "s-hostile"),
                                                               put("audit.seq", 7_777_777)),
                                    raw=(b"7777777", b"1" * 100)), DEAD, "contract: audit.seq:"),
    # above Elasticsearch's long (2^63) but a number the readers decode: the contract's range refuses it by name
    Case("seq_above_long", line("seq_above_long", both(put("audit.stream", "s-hostile"), put("audit.seq", 2**63))),
         DEAD, "contract: audit.seq:"),
    Case("stream_shaped_like_a_query", line("stream_shaped_like_a_query",
                                            both(put("audit.stream", "s-1?token=abc"), put("audit.seq", 1))), SHIPPED),
    # ids (item 5, item 11)
    Case("id_512_chars", line("id_512_chars", put("event.id", LONG_ID)), SHIPPED),
    Case("id_513_bytes", line("id_513_bytes", put("event.id", "M" * 513), emitter=False), DEAD, "id"),
    Case("id_absent", line("id_absent", drop("event.id"), emitter=False), SHIPPED),
    Case("id_reused_first", line("id_reused", hours=2.5), SHIPPED),
    # the id record travels with the state directory: replayed anywhere, even where the id is free, the line is
    # still a second event under an id first sent with other content (before session 20 it shipped there)
    Case("id_reused_other_content", line("id_reused", put("message", "same id, other content"), hours=2.5), DEAD,
         "id_conflict"),
    Case("id_reused_identical", line("id_reused", hours=2.5), SHIPPED),
    # malformed lines (parser)
    Case("invalid_utf8", line("invalid_utf8", put("message", "x\x04y"), raw=(b"\\u0004", b"\xff\xfe")), DEAD,
         "invalid UTF-8"),
    Case("nul_byte", line("nul_byte", put("message", "x\x05y"), raw=(b"\\u0005", b"\x00")), DEAD, "NUL byte"),
    Case("truncated_json", line("truncated_json")[:-40] + b"\n", DEAD, "invalid JSON"),
    Case("top_level_array", b"[" + line("top_level_array")[:-1] + b"]\n", DEAD, "not a JSON object"),
    Case("top_level_string", b'"just a string"\n', DEAD, "not a JSON object"),
    Case("bom_prefix", b"\xef\xbb\xbf" + line("bom_prefix"), DEAD, "invalid JSON"),
    Case("crlf_line_end", line("crlf_line_end", end=b"\r\n"), SHIPPED),
    Case("crlf_full_path", line("crlf_full_path", emitter=False, end=b"\r\n"), SHIPPED),
    Case("empty_object", b"{}\n", DEAD, "contract: @timestamp: missing"),
    Case("timestamp_without_offset", line("timestamp_without_offset", put("@timestamp", "2026-12-01T10:00:00")),
         DEAD, "contract: @timestamp"),
    Case("empty_line", b"\n", SKIPPED),
    Case("whitespace_line", b"   \t \n", SKIPPED),
    Case("overlong_line", line("overlong_line", put("message", "x" * MAX_LINE_BYTES)), DEAD,
         "exceeds inputs.max_line_bytes"),
    Case("deep_objects", line("deep_objects", put("extra", nested(25)), emitter=False), DEAD,
         "object nesting depth"),
    Case("deep_arrays", line("deep_arrays", put("extra", "\x06"), emitter=False,
                                 raw=(b'"\\u0006"', b"[" * 300 + b"]" * 300)), DEAD,
         "nesting too deep"),
    Case("duplicate_key_full_path", line("duplicate_key_full_path", put("message", "first"), emitter=False,
                                         raw=(b'"message":"first"', b'"message":"first","message":"second"')),
         SHIPPED),
    Case("duplicate_key_emitter", line("duplicate_key_emitter", put("message", "first"),
                                       raw=(b'"message":"first"', b'"message":"first","message":"second"')),
         DEAD, "Duplicate field", replays=True),  # the dead letter holds the line re-encoded: one key left
    Case("dotted_keys", b'{"@timestamp":"' + _stamp(2).encode() + b'","event.id":"hc-dotted_keys",'
         b'"event.action":"create","audit.source":"slots","audit.tier":"business","organization.id":"org-d"}\n',
         SHIPPED),
    Case("dotted_key_collision", line("dotted_key_collision", put("event.id", "hc-dotted_key_collision"),
                                      emitter=False, raw=(b'"message"', b'"event.action":"x","message"')), DEAD,
         "contract:"),
    Case("unknown_extra_fields", line("unknown_extra_fields", put("custom", {"a": [1, {"b": None}], "c": True}),
                                      emitter=False), SHIPPED),
    # the contract's fields with wrong types or missing (one class each)
    _contract_wrong_type("@timestamp", 1764590400),
    _contract_wrong_type("event.action", 42, emitter=True),
    _contract_wrong_type("event.id", ["a"]),
    _contract_wrong_type("event.outcome", {"ok": True}),
    _contract_wrong_type("audit.source", ["slots"], emitter=True),
    _contract_wrong_type("audit.tier", 7),
    _contract_wrong_type("audit.changes", "not an object"),
    _contract_wrong_type("organization.id", None),
    _contract_wrong_type("organization.name", 5),
    _contract_wrong_type("user.id", 13),
    _contract_wrong_type("user.email", ["a@b"]),
    _contract_wrong_type("user.roles", "admin"),
    _contract_wrong_type("source.ip", "999.1.1.1"),
    _contract_wrong_type("url.full", 80),
    _contract_wrong_type("user_agent.original", {"ua": 1}),
    _contract_wrong_type("message", {"text": "x"}, emitter=True),
    Case("missing_action", line("missing_action", drop("event.action"), emitter=False), DEAD,
         "contract: event.action"),
    Case("missing_tenant", line("missing_tenant", drop("organization"), emitter=False), DEAD,
         "contract: organization"),
    # tenants and classes
    Case("unknown_tier", line("unknown_tier", put("audit.tier", "platinum")), DEAD, "platinum"),
    Case("unknown_tenant", line("unknown_tenant", put("organization.id", "org-never-seen-before")), SHIPPED),
    Case("whitelabel_tier", line("whitelabel_tier", tier="whitelabel", emitter=False), SHIPPED),
    # secrets in every shape the redactor knows (item 8)
    _secret_in_message("bearer_in_message", "Authorization: Bearer S3CRET-bearer-7f1", "S3CRET-bearer-7f1"),
    Case("basic_in_change", line("basic_in_change", change("auth_header", "Basic UzNDUkVULWJhc2lj")), REDACTED,
         secrets=("UzNDUkVULWJhc2lj",)),
    Case("jwt_in_change", line("jwt_in_change", change("note", f"token {JWT}")), REDACTED,
         secrets=("eyJTM0NSRVQtand0In0",)),
    Case("url_userinfo", line("url_userinfo", put("url.full", "https://admin:S3CRET-userinfo@db.example/x")),
         REDACTED, secrets=("S3CRET-userinfo",)),
    Case("url_query_token", line("url_query_token", put("url.full",
                                                          "https://app.example/cb?access_token=S3CRET-query&p=2")),
         REDACTED, secrets=("S3CRET-query",)),
    _secret_in_message("dsn_userinfo_in_message", "connect postgres://app:S3CRET-dsn@db:5432/x failed", "S3CRET-dsn"),
    Case("pem_in_change", line("pem_in_change", change("certificate", PEM)), REDACTED, secrets=("S3CRET-pem-body",)),
    _secret_in_message("password_pair_in_message", "reset, password=S3CRET-pair", "S3CRET-pair"),
    _secret_in_message("json_pair_in_message", 'body {"client_secret": "S3CRET-jsonpair"}', "S3CRET-jsonpair"),
    Case("german_names", line("german_names", both(change("altes_Kennwort", "S3CRET-kennwort", "S3CRET-kw-old"),
                                                   change("Passwort", "S3CRET-passwort"))),
         REDACTED, secrets=("S3CRET-kennwort", "S3CRET-kw-old", "S3CRET-passwort")),
    Case("secret_name_at_depth", line("secret_name_at_depth", change("client", {
        "settings": {"smtp": {"api_key": "S3CRET-depth-key", "dbPass": "S3CRET-dbpass"}}, "lang": "de"})),
         REDACTED, secrets=("S3CRET-depth-key", "S3CRET-dbpass")),
    Case("secret_headers_extra", line("secret_headers_extra", both(
        put("http.request.headers.Authorization", "S3CRET-authz-header"),
        put("http.response.headers.Set-Cookie", "sid=S3CRET-cookie; Path=/"),
        put("http.request.headers.X-Api-Key", "S3CRET-xapikey")), emitter=False),
         REDACTED, secrets=("S3CRET-authz-header", "S3CRET-cookie", "S3CRET-xapikey")),
    Case("escaped_secret_name", line("escaped_secret_name", change("p\x07ssword", "S3CRET-escname"),
                                     raw=(b"p\\u0007ssword", b"p\\u0061ssword")),
         REDACTED, secrets=("S3CRET-escname",)),
    Case("escaped_bearer_in_message", line("escaped_bearer_in_message",
                                           put("message", "auth \x08earer S3CRET-escbearer"),
                                           raw=(b"\\b", b"\\u0042")),
         REDACTED, secrets=("S3CRET-escbearer",)),
    Case("escaped_jwt_in_message", line("escaped_jwt_in_message", put("message", "jwt \x0e"), raw=(
        b"\\u000e", b"\\u0065yJhbGciOiJIUzI1NiJ9.eyJTM0NSRVQtZXNjIn0.c2ln")),
         REDACTED, secrets=("eyJTM0NSRVQtZXNjIn0",)),
    Case("session_id_change", line("session_id_change", change("JSESSIONID", "S3CRET-session")), REDACTED,
         secrets=("S3CRET-session",)),
    Case("passphrase_and_private_key", line("passphrase_and_private_key", both(
        change("gpg_passphrase", "S3CRET-passphrase"), change("private_key", "S3CRET-privkey"))),
         REDACTED, secrets=("S3CRET-passphrase", "S3CRET-privkey")),
    _secret_in_message("quoted_password_in_message", 'db login failed: password="S3CRET-quoted"', "S3CRET-quoted"),
    _secret_in_message("colon_password_in_message", "login failed: password: S3CRET-colon", "S3CRET-colon"),
    _secret_in_message("xml_password_in_message", "fault <password>S3CRET-xml</password>", "S3CRET-xml"),
    _secret_in_message("json_inside_a_string_in_message", 'body {\\"password\\":\\"S3CRET-escjson\\"}',
                       "S3CRET-escjson"),
    # secrets in lines that are dead-lettered: the dead-letter file keeps them redacted
    Case("secret_in_out_of_range_line", line("secret_in_out_of_range_line", both(
        put("@timestamp", "9999-01-01T00:00:00Z"), put("message", "password=S3CRET-dlq-valid"))), DEAD,
         "timestamp_out_of_range", secrets=("S3CRET-dlq-valid",)),
    Case("secret_in_broken_line", b'{"api_key": "S3CRET-dlq-broken", "event": \n', DEAD, "invalid JSON",
         secrets=("S3CRET-dlq-broken",)),
    Case("escaped_json_secret_in_broken_line",
         b'{"message": "body {\\"password\\":\\"S3CRET-dlq-escjson\\"}", "event": \n', DEAD, "invalid JSON",
         secrets=("S3CRET-dlq-escjson",)),
    Case("secret_in_overlong_line", line("secret_in_overlong_line", put(
        "message", "Authorization: Bearer S3CRET-overlong " + "y" * MAX_LINE_BYTES)), DEAD,
         "exceeds inputs.max_line_bytes", secrets=("S3CRET-overlong",)),
    Case("secret_in_invalid_utf8_line", line("secret_in_invalid_utf8_line", put(
        "message", "password=S3CRET-nonutf8 \x04"), raw=(b"\\u0004", b"\xff")), DEAD, "invalid UTF-8",
         secrets=("S3CRET-nonutf8",)),
    Case("secret_in_wrong_type_line", line("secret_in_wrong_type_line", both(
        put("user.id", 5), change("password", "S3CRET-wrongtype")), emitter=False), DEAD, "contract: user.id",
         secrets=("S3CRET-wrongtype",)),
    # the file's last line, still being written: no newline yet, so neither shipped nor dead-lettered
    Case("unterminated_last_line", line("unterminated_last_line", end=b""), PENDING),
]

#: every secret value in the corpus
SECRETS: Final = sorted({s for case in LINES for s in case.secrets})

#: documents the agent refuses, indexed directly (as another producer could): readers must still cope
STORED: Final[list[Stored]] = [
    Stored("stored_int_400_digits", "st-int-400",
           b'{"@timestamp":"' + _stamp(1).encode() + b'","event":{"id":"st-int-400","action":"update"},'
           b'"audit":{"source":"slots","tier":"enterprise","changes":{"n":{"old":1,"new":' + b"9" * 400 + b"}}},"
           b'"organization":{"id":"org-hostile"},"message":"order 12345678901234567890123"}', 1),
    Stored("stored_lone_surrogate", "st-surrogate",
           b'{"@timestamp":"' + _stamp(1.1).encode() + b'","event":{"id":"st-surrogate","action":"update"},'
           b'"audit":{"source":"slots","tier":"enterprise"},"organization":{"id":"org-hostile"},'
           b'"message":"a\\ud800b"}', 1.1),
    Stored("stored_float_overflow", "st-inf",
           b'{"@timestamp":"' + _stamp(1.2).encode() + b'","event":{"id":"st-inf","action":"update"},'
           b'"audit":{"source":"slots","tier":"enterprise","changes":{"n":{"old":1,"new":1e400}}},'
           b'"organization":{"id":"org-hostile"}}', 1.2),
    Stored("stored_deep_arrays", "st-deep",
           b'{"@timestamp":"' + _stamp(1.3).encode() + b'","event":{"id":"st-deep","action":"update"},'
           b'"audit":{"source":"slots","tier":"enterprise"},"organization":{"id":"org-hostile"},'
           b'"extra":' + b"[" * 995 + b"]" * 995 + b"}", 1.3),
    Stored("stored_wrong_types", "st-types",
           b'{"@timestamp":' + str(int((NOW - timedelta(hours=1.4)).timestamp() * 1000)).encode() + b','
           b'"event":{"id":"st-types","action":["update","delete"]},"audit":{"source":true,"tier":"enterprise",'
           b'"changes":{"a":"plain","b":[1,2]},"changed_fields":5},"organization":[{"id":"o1"},{"id":"o2"}],'
           b'"user":{"name":["a","b"]},"message":["x","y"]}', 1.4),
]
