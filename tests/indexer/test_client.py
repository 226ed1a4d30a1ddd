"""Connection settings and the client factory with one or several node URLs (no request is made)."""

from __future__ import annotations

import pytest

from auditlog.indexer.client import ConnectionSettings, make_client, safe_url, split_urls


def test_comma_separated_urls_are_split_and_trimmed() -> None:
    """A list of node URLs becomes one URL per node, blanks and spaces dropped."""
    assert ["http://a:9200", "http://b:9201"] == split_urls(" http://a:9200, http://b:9201,")


def test_client_knows_every_node_of_the_list() -> None:
    """A client made from three URLs has three nodes to send requests to."""
    client = make_client(ConnectionSettings(url="http://127.0.0.1:9200,http://127.0.0.1:9201,http://127.0.0.1:9202"))
    try:
        assert 3 == len(client.transport.node_pool.all())
    finally:
        client.close()


def test_a_bad_url_in_the_list_is_refused() -> None:
    """Every URL of the list must be http(s); the message names the bad one."""
    with pytest.raises(ValueError, match="'ftp://b'"):
        ConnectionSettings(url="http://a:9200,ftp://b")


def test_credentials_are_hidden_in_every_url_of_a_list() -> None:
    """safe_url hides the user-info part of each URL in a list."""
    assert "https://***@a:9200,https://***@b:9200" == safe_url("https://u:p@a:9200,https://u:p@b:9200")
