"""Elasticsearch failures as one actionable line (indexer.errors)."""

from __future__ import annotations

import pytest
from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig
from elasticsearch import ApiError, SSLError
from elasticsearch import ConnectionError as EsConnectionError

from auditlog.core.errors import CommandError
from auditlog.indexer.errors import cluster_errors, describe_es_error


def _api_error(status: int, body: object) -> ApiError:
    meta = ApiResponseMeta(status=status, http_version="1.1", headers=HttpHeaders(), duration=0.0,
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
