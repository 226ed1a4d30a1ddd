"""Hostile input against the real node: numbers, dates and secrets the agent must not let through.

One agent run ships a file that interleaves good lines with lines carrying numbers the readers cannot
decode, timestamps outside the time bounds and secrets of every class the redactor knows, on both the
pass-through (emitter-shaped lines) and the full path; the tests below each check one consequence of
that run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from elasticsearch import Elasticsearch

from auditlog.agent.deadletter import DEADLETTER_FILE, read_records
from tests.integration.agent_support import AgentRun, agent_run, dead_letter_at, event_line, stored_documents

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJTM0NSRVQtand0In0.c2lnLWp3dA"
ESCAPED_JWT_PAYLOAD = "eyJTM0NSRVQtZXNjIn0"
PEM = "-----BEGIN PRIVATE KEY-----\nS3CRET-pem-body\n-----END PRIVATE KEY-----"
#: every secret in the corpus; none may reach Elasticsearch or the dead-letter file
SECRETS = ["S3CRET-bearer-7f1", "UzNDUkVULWJhc2lj", "eyJTM0NSRVQtand0In0", ESCAPED_JWT_PAYLOAD, "S3CRET-userinfo",
           "S3CRET-query", "S3CRET-pem-body", "S3CRET-msgpair", "S3CRET-kennwort", "S3CRET-authz-header",
           "S3CRET-cookie", "S3CRET-dlq-valid", "S3CRET-dlq-broken", "S3CRET-session"]


def hostile(i: int, edit: Callable[[dict[str, Any]], None], *, raw: tuple[bytes, bytes] | None = None) -> bytes:
    """Line ``i`` of the good corpus after ``edit`` (changed fields kept in step), optionally with a raw splice."""
    ev = orjson.loads(event_line(i))
    edit(ev)
    if "changed_fields" in ev["audit"]:
        ev["audit"]["changed_fields"] = sorted(ev["audit"]["changes"])
    line = orjson.dumps(ev)
    if raw is not None:
        line = line.replace(*raw)
    return line + b"\n"


def change(name: str, new: Any) -> Callable[[dict[str, Any]], None]:
    return lambda ev: ev["audit"]["changes"].update({name: {"old": None, "new": new}})


def stamp(text: str) -> Callable[[dict[str, Any]], None]:
    return lambda ev: ev.update({"@timestamp": text})


def put(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(ev: dict[str, Any]) -> None:
        *parents, leaf = path.split(".")
        node = ev
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return edit


def both(*edits: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def edit(ev: dict[str, Any]) -> None:
        for one in edits:
            one(ev)
    return edit


NOW = datetime.now(UTC)
_NUM = (b'"\\u0002"', b"")  # a placeholder string the raw splice replaces with a number token


def number(i: int, token: bytes) -> bytes:
    return hostile(i, change("n", "\x02"), raw=(_NUM[0], token))


#: kind -> (line, reason fragment): lines that must be dead-lettered (even i: emitter-shaped)
REJECTED: dict[str, tuple[bytes, str]] = {
    "int_400_digits": (number(9000, b"9" * 400), "number_out_of_range: Integer exceeds 64-bit range"),
    "int_2_64": (number(9001, b"18446744073709551616"), "number_out_of_range"),
    "int_below_i64": (number(9002, b"-9223372036854775809"), "number_out_of_range"),
    "float_overflow": (number(9004, b"1e400"), "number_out_of_range: a number overflows a double"),
    "nan_token": (number(9005, b"NaN"), "number_out_of_range: NaN and Infinity"),
    "infinity_token": (number(9006, b"-Infinity"), "number_out_of_range: NaN and Infinity"),
    "year_9999": (hostile(9008, stamp("9999-12-31T00:00:00Z")), "timestamp_out_of_range"),
    "two_days_ahead": (hostile(9010, stamp(f"{(NOW + timedelta(days=2)).date()}T00:00:00Z")),
                       "timestamp_out_of_range"),
    "year_0999": (hostile(9011, stamp("0999-06-01T00:00:00Z")), "timestamp_out_of_range"),
    "a_year_ago": (hostile(9012, stamp(f"{(NOW - timedelta(days=365)).date()}T12:00:00Z")),
                   "timestamp_out_of_range"),
    "offset_into_year_0": (hostile(9013, stamp("0001-01-01T00:30:00+01:00")), "timestamp_out_of_range"),
    "secret_in_rejected_line": (hostile(9014, both(stamp("9999-01-01T00:00:00Z"),
                                                   put("message", "password=S3CRET-dlq-valid"))),
                                "timestamp_out_of_range"),
    "secret_in_broken_line": (b'{"api_key": "S3CRET-dlq-broken", "event": \n', "invalid JSON"),
}

#: kind -> line: lines that must arrive, with their secrets redacted (even i: emitter-shaped)
SHIPPED: dict[str, bytes] = {
    "u64_max": number(9100, b"18446744073709551615"),
    "bearer_in_message": hostile(9102, put("message", "header Authorization: Bearer S3CRET-bearer-7f1")),
    "basic_in_change": hostile(9103, change("auth_header", "Basic UzNDUkVULWJhc2lj")),
    "jwt_in_change": hostile(9104, change("note", f"token {JWT}")),
    "escaped_jwt_in_message": hostile(9106, put("message", "jwt \x01"),
                                      raw=(b"\\u0001", f"\\u0065yJhbGciOiJIUzI1NiJ9.{ESCAPED_JWT_PAYLOAD}.c2ln"
                                           .encode())),
    "url_userinfo": hostile(9108, put("url.full", "https://admin:S3CRET-userinfo@db.example/x")),
    "url_query_token": hostile(9109, put("url.full", "https://app.example/cb?access_token=S3CRET-query&page=2")),
    "pem_in_change": hostile(9110, change("certificate", PEM)),
    "password_pair_in_message": hostile(9112, put("message", "reset done, password=S3CRET-msgpair")),
    "kennwort_change": hostile(9114, lambda ev: ev["audit"]["changes"].update(
        {"altes_Kennwort": {"old": "S3CRET-kennwort-old", "new": "S3CRET-kennwort-new"}})),
    "authorization_header_extra": hostile(9115, put("http.request.headers.Authorization", "S3CRET-authz-header")),
    "set_cookie_extra": hostile(9116, put("http.response.headers.Set-Cookie", "sid=S3CRET-cookie; Path=/")),
    "session_id_nested_change": hostile(9118, change("client", {"JSESSIONID": "S3CRET-session", "lang": "de"})),
}
GOOD = 40


def _lines() -> Iterator[bytes]:
    """The run's log: each hostile line after a good one, then the rest of the good lines."""
    hostile_lines = [line for line, _reason in REJECTED.values()] + list(SHIPPED.values())
    for i, line in enumerate(hostile_lines):
        yield event_line(i)
        yield line
    for i in range(len(hostile_lines), GOOD):
        yield event_line(i)


@pytest.fixture(scope="module")
def run(es: Elasticsearch, es_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentRun]:
    with agent_run(es, es_url, tmp_path_factory.mktemp("agent-admission"), _lines(), arrivals=GOOD + len(SHIPPED),
                   dead_letters=len(REJECTED)) as done:
        yield done


def test_good_and_acceptable_hostile_lines_arrive_once(run: AgentRun, es: Elasticsearch) -> None:
    """Every good line and every hostile line that may be shipped is in Elasticsearch, and nothing else."""
    ids = sorted(stored_documents(es, run.tiers))
    expected = sorted([f"ev-{i:08d}" for i in range(GOOD)]
                      + [orjson.loads(line)["event"]["id"] for line in SHIPPED.values()])
    assert (run.arrived, ids) == (GOOD + len(SHIPPED), expected)


@pytest.mark.parametrize("kind", list(REJECTED))
def test_rejected_line_is_dead_lettered_with_its_reason(run: AgentRun, kind: str) -> None:
    """Each hostile line that must not be shipped is in the dead-letter file at its offset with its reason."""
    line, fragment = REJECTED[kind]
    record = dead_letter_at(run, line)
    assert record is not None, f"{kind} not dead-lettered"
    assert fragment in record["reason"]


def test_dead_letter_count_matches_the_rejected_lines(run: AgentRun) -> None:
    """Exactly one dead letter per rejected line: nothing else was refused."""
    assert len(list(read_records(run.state))) == len(REJECTED)


def test_no_index_outside_the_time_bounds_exists(run: AgentRun, es: Elasticsearch) -> None:
    """Every index the agent created is a readable daily name between 31 days ago and tomorrow."""
    names = list(es.indices.get(index=f"{run.tiers.prefix}-*", expand_wildcards="all"))
    days = [parsed[1] if (parsed := run.tiers.parse_index(name)) else None for name in names]
    earliest, latest = (NOW - timedelta(days=31)).date(), (NOW + timedelta(days=1)).date()
    assert names and [n for n, d in zip(names, days, strict=True) if d is None or not earliest <= d <= latest] == []


def test_no_secret_reaches_elasticsearch(run: AgentRun, es: Elasticsearch) -> None:
    """None of the corpus's secrets is in any stored document."""
    text = orjson.dumps(stored_documents(es, run.tiers)).decode()
    assert [s for s in SECRETS if s in text] == []


def test_no_secret_reaches_the_dead_letter_file(run: AgentRun) -> None:
    """Dead letters keep the lines redacted: none of the corpus's secrets is in the file."""
    text = (run.state / DEADLETTER_FILE).read_text()
    assert ([s for s in SECRETS if s in text], "[REDACTED]" in text) == ([], True)


def test_redacted_fields_keep_their_readable_part(run: AgentRun, es: Elasticsearch) -> None:
    """Redaction replaces only the secret: the user name in a URL and the other query parameters stay."""
    docs = stored_documents(es, run.tiers)
    urls = {docs[orjson.loads(SHIPPED[k])["event"]["id"]]["url"]["full"] for k in ("url_userinfo", "url_query_token")}
    assert urls == {"https://admin:[REDACTED]@db.example/x",
                    "https://app.example/cb?access_token=[REDACTED]&page=2"}


def test_largest_64_bit_integer_is_stored_exactly(run: AgentRun, es: Elasticsearch) -> None:
    """2**64-1 is within the readers' range and arrives digit for digit."""
    doc = stored_documents(es, run.tiers)[orjson.loads(SHIPPED["u64_max"])["event"]["id"]]
    assert doc["audit"]["changes"]["n"]["new"] == 2**64 - 1
