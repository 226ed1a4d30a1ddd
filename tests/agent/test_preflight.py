"""Pre-flight results as the lines `auditlog agent check` prints (no cluster needed)."""

from __future__ import annotations

from elasticsearch import Elasticsearch

from auditlog.agent.preflight import CheckResult, check
from auditlog.indexer.client import ConnectionSettings
from auditlog.indexer.tiers import TierTable


def test_a_detail_with_a_line_feed_stays_on_one_line() -> None:
    """A line feed in a result's detail (a file name) is shown as its escape, so the result is one line."""
    result = CheckResult("config", "fail", "cannot read config a\nb")
    assert "FAIL  config      cannot read config a\\x0ab" == result.line()


def test_credentials_in_the_url_are_reported_as_the_basic_auth_they_are() -> None:
    """A URL with user info is sent with Basic auth: the config line and the redacted settings say so, without
    the user or password (before: "as no credentials", "auth": "none")."""
    settings = ConnectionSettings(url="https://anna:s3cret@es1:9200")
    line = check(settings, TierTable(), _unreachable).results[0].line()
    assert (settings.redacted()["auth"], "as the user named in the URL" in line) == ("basic", True)
    assert "anna" not in line and "s3cret" not in line


def _unreachable(settings: ConnectionSettings, **options: object) -> Elasticsearch:
    """A client to a port nobody listens on (the config line comes before any request)."""
    return Elasticsearch("http://127.0.0.1:9", **options)  # type: ignore[arg-type]
