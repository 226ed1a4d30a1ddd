"""Redaction of secrets: by name at any depth, by value shape in text, over whole events and raw lines."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from hypothesis import event as observe
from hypothesis import given, settings
from hypothesis import strategies as st

from auditlog.agent.redact import REDACTED, RedactionSettingError, Redactor
from auditlog.core.contract import CONTRACT
from tests.support.corpus import put


def test_default_keys_catch_spelling_variants() -> None:
    """apiKey, X-Api-Key, new_password and PasswordHash are all secrets by default."""
    redactor = Redactor()
    assert [n for n in ("apiKey", "X-Api-Key", "new_password", "PasswordHash", "start") if redactor.is_secret(n)] == [
        "apiKey",
        "X-Api-Key",
        "new_password",
        "PasswordHash",
    ]


def test_secret_values_are_replaced() -> None:
    """Both sides of a secret change become the replacement; other fields stay."""
    changes = {"password": {"old": "hunter2", "new": "s3cret"}, "start": {"old": "10:00", "new": "11:00"}}
    assert Redactor()(changes) == {
        "password": {"old": REDACTED, "new": REDACTED},
        "start": {"old": "10:00", "new": "11:00"},
    }


def test_null_side_stays_null() -> None:
    """A secret that was set for the first time keeps old = null."""
    assert Redactor()({"api_token": {"old": None, "new": "abc"}}) == {"api_token": {"old": None, "new": REDACTED}}


def test_nested_secrets_are_scrubbed() -> None:
    """A secret key inside an object value is redacted too."""
    changes = {"smtp": {"old": {"host": "a", "password": "x"}, "new": {"host": "b", "password": "y"}}}
    assert Redactor()(changes) == {
        "smtp": {"old": {"host": "a", "password": REDACTED}, "new": {"host": "b", "password": REDACTED}}
    }


def test_input_is_not_mutated() -> None:
    """The caller's dict is left as it was."""
    changes = {"password": {"old": "a", "new": "b"}}
    Redactor()(changes)
    assert changes == {"password": {"old": "a", "new": "b"}}


def test_clean_changes_are_returned_as_is() -> None:
    """Without secrets the same object comes back (no copy on the hot path)."""
    changes = {"start": {"old": "10:00", "new": "11:00"}}
    assert Redactor()(changes) is changes


def test_substring_mode_over_redacts_on_purpose() -> None:
    """token_count contains "token" and is hidden in substring mode (the documented safe side)."""
    assert Redactor().is_secret("token_count") is True


def test_exact_mode_matches_whole_names_only() -> None:
    """In exact mode only the normalised whole name counts."""
    redactor = Redactor(["token"], mode="exact")
    assert (redactor.is_secret("Token"), redactor.is_secret("token_count")) == (True, False)


@pytest.mark.parametrize(
    ("keys", "mode", "message"),
    [
        ("password", "substring", "list of names"),
        ([], "substring", "at least one"),
        (["_-"], "substring", "empty once normalised"),
        ([1], "substring", "must be strings"),
        (["password"], "fuzzy", "mode must be"),
    ],
)
def test_bad_configuration_raises_at_construction(keys: object, mode: str, message: str) -> None:
    """Bad keys or mode stop construction with a message saying what is wrong."""
    with pytest.raises(ValueError, match=message):
        Redactor(keys, mode=mode)  # type: ignore[arg-type]


@pytest.mark.parametrize(("keys", "words", "argument"), [(["_-"], [], "keys"), (["password"], ["-"], "words"),
                                                      ("password", [], "keys"), (["password"], "pass", "words")])
def test_a_bad_name_list_error_names_its_argument(keys: object, words: object, argument: str) -> None:
    """The construction error of a bad keys or words list says which of the two it was (argument)."""
    with pytest.raises(RedactionSettingError) as refused:
        Redactor(keys, words=words)  # type: ignore[arg-type]
    assert argument == refused.value.argument


@pytest.mark.parametrize(
    "name",
    ["pwd", "db_pass", "smtpPass", "PASS", "passwd", "passphrase", "Secret", "client_secret", "token", "api_key",
     "apikey", "X-API-KEY", "Authorization", "cookie", "Set-Cookie", "credentials", "dsn", "SENTRY_DSN", "jwt",
     "private_key", "session_id", "sessionId", "SESSIONID", "JSESSIONID", "PHPSESSID", "sid", "Passwort",
     "altes_Kennwort", "pin"],
)
def test_secret_names_are_caught_in_any_spelling(name: str) -> None:
    """Each secret name of the default list is caught, case-insensitively and inside longer names."""
    assert Redactor().is_secret(name) is True


@pytest.mark.parametrize("name", ["passenger", "bypass", "compass", "start", "customer_name", "side", "pinned"])
def test_short_words_do_not_hide_ordinary_names(name: str) -> None:
    """pass, sid and pin match whole words only, so ordinary names that contain them stay visible."""
    assert Redactor().is_secret(name) is False


def test_secret_names_are_redacted_at_any_depth_in_changes() -> None:
    """A secret key deep inside a change value is redacted; its siblings are kept."""
    changes = {"smtp": {"old": None, "new": {"server": {"host": "mx", "Passwort": "geheim"}}}}
    assert Redactor()(changes) == {"smtp": {"old": None, "new": {"server": {"host": "mx", "Passwort": REDACTED}}}}


JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.abcDEF123_-x"
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAK\n-----END RSA PRIVATE KEY-----"


@pytest.mark.parametrize(
    ("text", "secret", "kept"),
    [
        ("Authorization: Bearer abcdef123456XYZ", "abcdef123456XYZ", "Authorization: Bearer "),
        ("auth basic dXNlcjpodW50ZXIy", "dXNlcjpodW50ZXIy", "auth basic "),
        (f"token {JWT} seen", JWT, " seen"),
        ("https://admin:hunter2@db.example/x", "hunter2", "https://admin:"),
        ("https://ghp_abcdefgh@github.com/x", "ghp_abcdefgh", "@github.com/x"),
        ("https://app.example/cb?code=7&access_token=abc123&x=1", "abc123", "code=7&access_token="),
        ("reset done, password=hunter2 for anna", "hunter2", "for anna"),
        ("cookie sid=s3cr3t; lang=de", "s3cr3t", "lang=de"),
        (f"key:\n{PEM}\nend", "MIIEow", "-----BEGIN RSA PRIVATE KEY-----"),
        ('payload {"client_secret": "cs-99", "id": 4}', "cs-99", '"id": 4'),
    ],
    ids=["bearer", "basic", "jwt", "userinfo", "token-as-user", "query", "message-pair", "cookie", "pem", "json"],
)
def test_value_shaped_secrets_are_redacted_and_the_rest_kept(text: str, secret: str, kept: str) -> None:
    """A secret recognised by its shape is replaced; the text around it stays."""
    out = Redactor().scrub_text(text)
    assert (secret in out, REDACTED in out, kept in out) == (False, True, True)


@pytest.mark.parametrize(
    "text",
    ["upgraded to the basic plan", "https://app.example/a?page=2&sort=name", "the bearer of news", "x = 1",
     "mail anna@example.org about https://app.example/x"],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    """Words, plain query parameters and e-mail addresses next to URLs are not secrets."""
    assert Redactor().scrub_text(text) is text


def test_event_redacts_url_message_changes_and_unknown_fields_but_not_contract_fields() -> None:
    """Value shapes in url.full, message and change strings and names in unknown fields go; contract fields stay."""
    ev = {"@timestamp": "2026-01-02T03:04:05Z", "event": {"action": "update", "token": "t-1"},
          "audit": {"source": "s", "tier": "basic", "changes": {"note": {"old": None, "new": "Bearer abcdefgh1234"}}},
          "organization": {"id": "o"}, "user": {"name": "Pass Word"}, "url": {"full": "https://u:p4ss@h/"},
          "message": "password=hunter2", "labels": {"dsn": "postgres://x"}}
    out = Redactor().event(ev)
    got = (out["event"]["token"], out["audit"]["changes"]["note"]["new"], out["url"]["full"], out["message"],
           out["labels"], out["user"])
    assert got == (REDACTED, f"Bearer {REDACTED}", f"https://u:{REDACTED}@h/", f"password={REDACTED}",
                   {"dsn": REDACTED}, {"name": "Pass Word"})
    assert ev["message"] == "password=hunter2"  # the input is not mutated


#: the contract's free texts: the value-shape rules read them (the module doc); every other field is not text
_FREE_TEXTS = {"message", "url.full", "audit.changes"}


@pytest.mark.parametrize("path", [f.path for f in CONTRACT.fields if f.type == "string" and f.path not in _FREE_TEXTS])
def test_every_contract_field_that_is_not_free_text_is_left_as_written(path: str) -> None:
    """A secret-shaped value in a contract field other than the free texts stays (audit.stream once did not)."""
    ev: dict[str, Any] = {}
    put(path, "s-1?token=abc Bearer abcdefgh1234")(ev)
    assert Redactor().event(ev) is ev


def test_clean_event_is_returned_as_is() -> None:
    """An event without secrets comes back as the same object (no copy on the hot path)."""
    ev = {"audit": {"changes": {"start": {"old": "10:00", "new": "11:00"}}}, "message": "moved", "url": {"full": "x"}}
    assert Redactor().event(ev) is ev


def test_line_keeps_bytes_that_are_not_utf8() -> None:
    """An undecodable line keeps its bytes except the secret part."""
    assert Redactor().line(b'\xff{"password": "hunter2"') == b'\xff{"password": "[REDACTED]"'


# ---------------------------------------------------------------------------------------------- property

_FRAGMENTS = st.sampled_from(
    ["Bearer ", "bearer\t", "BASIC ", "basic", "eyJ", "eyJab.eyJcd.ef", ".", "://", "https://", "u:p@", "@", "=",
     "?token=", "&", "password", "pass", "sid=", "-----BEGIN X-----", "-----END X-----", '"', '"pwd": ', "\\",
     "\n", " ", "abcdefgh12", "x", "é", "\u00a0", "Z", ";", "#", "/", "[", "]", ":",
     ": ", ":\t", " = ", "'", "'pwd'", "password:", "pin", "<", "</", ">", "<pwd>", "</pwd>", "{", "}", "\t",
     "\\u0077", "Token "]
)


@settings(max_examples=500, deadline=None)
@given(parts=st.lists(_FRAGMENTS | st.text(max_size=4), max_size=8))
def test_suspect_is_a_guarantee(parts: list[str]) -> None:
    """When suspect_text does not fire on a text, scrubbing leaves it unchanged."""
    redactor = Redactor()
    text = "".join(parts)
    observe("suspect" if redactor.suspect_text(text) else "clean")
    if not redactor.suspect_text(text):
        assert redactor.scrub_text(text) == text


def test_clean_names_hold_only_names_found_not_secret() -> None:
    """Names asked about join ``clean_names`` only when they are not secret."""
    redactor = Redactor()
    answers = (redactor.is_secret("email"), redactor.is_secret("new_password"))
    assert answers == (False, True)
    assert ({"email": 1}.keys() <= redactor.clean_names, {"new_password": 1}.keys() <= redactor.clean_names) \
        == (True, False)


def test_clean_names_start_empty() -> None:
    """A name never asked about is not in ``clean_names``, so callers must ask."""
    assert not {"email": 1}.keys() <= Redactor().clean_names


# ---------------------------------------------------------------------------------------------- assignments


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ('db login failed: password="hunter2"', f'db login failed: password="{REDACTED}"'),
        ("password='hunter2' rejected", f"password='{REDACTED}' rejected"),
        ("password: hunter2", f"password: {REDACTED}"),
        ("login as anna, password = hunter2", f"login as anna, password = {REDACTED}"),
        ('api_key: "two words"', f'api_key: "{REDACTED}"'),
        ("Kennwort :\thunter2", f"Kennwort :\t{REDACTED}"),
        ("pass = 1234", f"pass = {REDACTED}"),
        ("pin: '1234'", f"pin: '{REDACTED}'"),
        ("{'api_key': 'X', 'id': 4}", f"{{'api_key': '{REDACTED}', 'id': 4}}"),
        ("{'db_pass': 42}", f"{{'db_pass': {REDACTED}}}"),
        ("<password>X</password> ok", f"<password>{REDACTED}</password> ok"),
        ('{"pass\\u0077ord":"X"} x', f'{{"pass\\u0077ord":"{REDACTED}"}} x'),
        ('{"x": {"password": "y"}} x', f'{{"x": {{"password": "{REDACTED}"}}}} x'),
    ],
    ids=["double-quoted", "single-quoted", "colon", "spaced-equals", "colon-quoted", "colon-tab", "word-equals",
         "word-colon-quoted", "python-dict", "python-dict-bare", "xml", "escaped-json-key", "nested-json"],
)
def test_assigned_secrets_are_redacted_whatever_the_quoting(text: str, want: str) -> None:
    """A secret name assigned a value with '=' or ':', quoted or not, or as an XML element, loses the value only."""
    assert Redactor().scrub_text(text) == want


@pytest.mark.parametrize(
    "text",
    ["the password field is empty", "pass: 3 of 5", "sid: 4, pin: 7", "Forgot your password? Reset it",
     "password reset: done", "opens 09:00-13:00, 2026-11-20T17:30", "https://h:8443/login", "password=",
     'password=""', "it's the user's password, isn't it", "<b>password</b>", "<password></password>",
     "token count: 5", "{'password': null}"],
)
def test_names_without_an_assigned_value_are_left_alone(text: str) -> None:
    """Prose that mentions a secret name, a short word name before a bare colon, or an empty value stays as written."""
    assert Redactor().scrub_text(text) is text


@pytest.mark.parametrize(
    "line",
    [b"db login failed: password=\"hunter2\" {", b"{'api_key': 'hunter2'}", b"password: hunter2",
     b"password = hunter2", b"<password>hunter2</password>", b'{"pass\\u0077ord":"hunter2"} x',
     b'{"message":"body {\\"password\\":\\"hunter2\\"} cut', b'x={\\"api_key\\": \\"hunter2\\"}'],
)
def test_invalid_json_lines_lose_assigned_secrets(line: bytes) -> None:
    """A dead letter that is not JSON keeps no secret assigned in any of the documented shapes."""
    assert b"hunter2" not in Redactor().line(line)


def test_json_logged_inside_a_message_loses_its_secret_and_keeps_the_rest() -> None:
    """A message holding escaped JSON (a request body logged as text) ships without the secret, other pairs kept."""
    ev = {"message": 'body {\\"password\\":\\"hunter2\\",\\"user\\":\\"anna\\",\\"token\\":null}'}
    expected = f'body {{\\"password\\":\\"{REDACTED}\\",\\"user\\":\\"anna\\",\\"token\\":null}}'
    assert expected == Redactor().event(ev)["message"]


def test_message_with_a_quoted_password_is_redacted_in_the_event() -> None:
    """An event whose message assigns a quoted password ships without it."""
    ev = {"message": 'db login failed: password="hunter2"'}
    assert Redactor().event(ev)["message"] == f'db login failed: password="{REDACTED}"'


def _scrub_growth(make: Callable[[int], str], n: int) -> float:
    """How many times longer scrubbing ``make(8 * n)`` takes than ``make(n)`` (best of three each): about 8 for a
    rule that reads the text once, 64 for one that reads it again from every position. A ratio, not a time, so a
    slow or busy machine does not change what it says."""
    def best(text: str) -> float:
        spent = []
        for _ in range(3):
            start = time.process_time()
            Redactor().scrub_text(text)
            spent.append(time.process_time() - start)
        return max(min(spent), 1e-6)

    return best(make(8 * n)) / best(make(n))


def test_a_long_run_of_eyj_is_read_in_linear_time() -> None:
    """"eyJeyJ..." with no JWT in it costs in proportion to its length (it was quadratic: 300 KB took ~20 s)."""
    assert _scrub_growth(lambda n: "eyJ" * n, 20_000) < 20


def test_a_long_scheme_run_before_a_double_slash_is_read_in_linear_time() -> None:
    """Letters before a "://" cost in proportion to their number (it was quadratic: 200 KB took ~30 s)."""
    assert _scrub_growth(lambda n: "a" * n + "://host", 20_000) < 20


def test_a_jwt_inside_a_run_of_word_characters_is_still_redacted() -> None:
    """A JWT glued to the letters before it is found from its "eyJ", as before the linear-time rule."""
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln"
    assert Redactor().scrub_text(f"id=x tok{jwt} and eyJa.b") == f"id=x tok{REDACTED} and eyJa.b"


def test_a_jwt_after_an_eyj_that_starts_none_is_still_redacted() -> None:
    """An "eyJ" that starts no JWT (here "eyJ." and "eyJx.") does not hide the JWT right after it."""
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln"
    assert [Redactor().scrub_text(f"{head}{jwt}") for head in ("eyJ.", "eyJx.")] == [f"eyJ.{REDACTED}",
                                                                                     f"eyJx.{REDACTED}"]


_JWT_REFERENCE = re.compile(r"eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*")


@settings(max_examples=3000, deadline=None)
@given(text=st.lists(st.sampled_from(["eyJ", "e", "y", "J", "a", "Z9", ".", "-", "_", " ", "=", "ab"]),
                     max_size=18).map("".join))
def test_the_linear_jwt_rule_replaces_what_the_plain_pattern_does(text: str) -> None:
    """The JWT rule replaces exactly what the plain (quadratic) pattern replaces, leftmost first."""
    assert Redactor()._jwts(text) == _JWT_REFERENCE.sub(REDACTED, text)


def test_userinfo_after_leading_digits_is_still_redacted() -> None:
    """A scheme whose run starts with digits ("1http://u:pw@h") keeps the digits and loses the password."""
    assert Redactor().scrub_text("see 1http://u:pw@h/x") == f"see 1http://u:{REDACTED}@h/x"


def test_a_secret_in_deeply_nested_json_text_is_redacted() -> None:
    """A password 3000 objects deep in compact JSON text is redacted (the per-level recursion raised RecursionError)."""
    text = '{"a":' * 3000 + '{"password":"hunter2"}' + "}" * 3000
    assert Redactor().scrub_text(text) == text.replace('"hunter2"', f'"{REDACTED}"')


def test_a_raw_line_of_nested_json_text_is_redacted_without_error() -> None:
    """A dead letter's line whose message is '":{' repeated is returned whole (it raised RecursionError)."""
    line = orjson.dumps({"message": '":{' * 2000})
    assert Redactor().line(line) == line


def test_a_secret_named_unclosed_object_value_is_redacted() -> None:
    """JSON text cut off inside a secret-named object loses the object's text up to the next delimiter."""
    assert Redactor().scrub_text('{"password":{"v":"x"') == f'{{"password":"{REDACTED}"'
