"""Elasticsearch failures as one actionable line (indexer.errors)."""

from __future__ import annotations

import pytest
from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig
from elasticsearch import ApiError, SSLError
from elasticsearch import ConnectionError as EsConnectionError

from auditlog.core.errors import CommandError
from auditlog.indexer.client import AnswerTooLarge
from auditlog.indexer.errors import MAX_MESSAGE, cluster_errors, describe_es_error, error_reason


def _api_error(status: int, body: object, content_type: str | None = None) -> ApiError:
    headers = HttpHeaders({"content-type": content_type} if content_type else {})
    meta = ApiResponseMeta(status=status, http_version="1.1", headers=headers, duration=0.0,
                           node=NodeConfig("http", "localhost", 9200))
    return ApiError("error", meta, body)


def test_connection_error_says_unreachable() -> None:
    """A connection failure tells the user the cluster cannot be reached."""
    assert describe_es_error(EsConnectionError("refused")).startswith("cannot reach Elasticsearch")


def test_untrusted_certificate_names_the_ca_option() -> None:
    """A TLS verification failure tells the user to pass the CA."""
    assert "--ca-certs" in describe_es_error(SSLError("CERTIFICATE_VERIFY_FAILED"))


def test_bad_key_and_missing_privilege() -> None:
    """401 names the credentials, 403 the missing read privilege."""
    texts = [describe_es_error(_api_error(401, {})), describe_es_error(_api_error(403, {}))]
    expected = (True, True)
    assert expected == ("credentials" in texts[0], "reader key" in texts[1])


def test_other_errors_carry_the_server_reason() -> None:
    """Other API errors show the status and Elasticsearch's reason."""
    expected = "Elasticsearch refused (400): bad query"
    assert expected == describe_es_error(_api_error(400, {"error": {"reason": "bad query"}}))


def test_forbidden_names_what_the_action_needs() -> None:
    """On 403 the message names the privileges the caller said the action needs."""
    text = describe_es_error(_api_error(403, {"error": {"reason": "action [x] is unauthorized"}}),
                             needs="cluster privilege monitor")
    assert "this needs cluster privilege monitor" in text
    assert "action [x] is unauthorized" in text


def test_cluster_errors_turns_client_errors_into_one_line_command_error() -> None:
    """Inside cluster_errors a client error becomes a CommandError naming the URL."""
    with pytest.raises(CommandError) as err, cluster_errors("http://127.0.0.1:1"):
        raise EsConnectionError("Connection refused")
    assert str(err.value).startswith("cannot reach Elasticsearch at http://127.0.0.1:1: Connection refused")


def test_every_description_is_one_short_line() -> None:
    """A failure carrying a megabyte body with line breaks is described in one line of at most 300 characters."""
    from elastic_transport import SerializationError

    text = describe_es_error(SerializationError("Unable to deserialize as JSON: " + "x\n" * 500_000))
    assert (True, False) == (len(text) <= 300, "\n" in text)


def test_server_reasons_are_cut_to_one_line() -> None:
    """A long multi-line reason from Elasticsearch is flattened and cut to 300 characters."""
    text = describe_es_error(_api_error(400, {"error": {"reason": "bad\nquery " * 200}}))
    assert (300, False, True) == (len(text), "\n" in text, text.endswith("…"))


def test_an_html_error_page_is_named_by_status_and_type_not_shown() -> None:
    """A proxy's 502 page is described by its status and content type; none of the page is shown."""
    page = "<html>\n<body>\nBad gateway\n" + "x" * 5000 + "\n</body></html>"
    text = describe_es_error(_api_error(502, page, "text/html; charset=utf-8"))
    assert "Elasticsearch refused (502): HTTP 502 with a text/html body (not Elasticsearch's JSON)" == text


def test_an_error_body_without_a_content_type_is_not_shown() -> None:
    """A text body of no declared type is named as such, never quoted."""
    assert "HTTP 500 with a body of no declared type (not Elasticsearch's JSON)" == error_reason(
        _api_error(500, "Internal error: stack trace follows"))


def test_a_json_error_the_raw_client_left_as_bytes_still_gives_the_reason() -> None:
    """The raw-bytes client's error body is parsed for Elasticsearch's reason instead of shown as bytes."""
    body = b'{"error": {"type": "x", "reason": "index closed"}, "status": 500}'
    assert "index closed" == error_reason(_api_error(500, body, "application/vnd.elasticsearch+json;compatible-with=9"))


def test_a_json_answer_without_an_error_object_names_the_status_only() -> None:
    """A JSON list or an object without ``error`` gives the status, not the body."""
    assert "HTTP 500 with JSON that holds no error object" == error_reason(_api_error(500, [1, 2, 3],
                                                                                        "application/json"))


def test_a_reason_of_another_type_is_shown_as_json() -> None:
    """A reason that is an object is written as JSON: an escape byte shows as text, never as a control byte."""
    body = {"error": {"type": ["x"], "reason": {"nested": "\x1b[31mred"}}, "status": 500}
    assert '{"nested": "\\u001b[31mred"}' == error_reason(_api_error(500, body, "application/json"))


def test_a_type_that_is_a_list_is_the_reason_when_there_is_none() -> None:
    """Without a reason, a type that is a list is shown as JSON rather than lost."""
    assert '["x", 5]' == error_reason(_api_error(500, {"error": {"type": ["x", 5], "reason": None}}))


def test_a_reason_is_one_line_for_every_caller() -> None:
    """error_reason itself returns one line of at most 300 characters (the agent's checks use it bare)."""
    text = error_reason(_api_error(400, {"error": {"reason": "bad\nquery " * 200}}))
    assert (300, False) == (len(text), "\n" in text)


def test_an_answer_over_the_bound_is_one_line_naming_the_bound_the_path_and_the_cluster() -> None:
    """AnswerTooLarge reads as one line of at most MAX_MESSAGE characters with the bound, the path and the URL."""
    exc = AnswerTooLarge("its answer to POST /" + "a" * 99 + "… is over the 128 MiB bound on one answer; not read")
    line = describe_es_error(exc, url="https://u:secret@es.example:9200")
    assert (True, True, True, False, True) == (
        line.startswith("Elasticsearch at https://***@es.example:9200: its answer to POST /aaa"),
        "128 MiB bound" in line, len(line) <= MAX_MESSAGE, "secret" in line, "\n" not in line)
