"""Elasticsearch client factory: one place that turns connection settings into a client.

Every command takes the same connection options (ARCHITECTURE.md): ``--es URL`` /
``AUDITLOG_ES_URL`` (default ``http://127.0.0.1:9200``), ``AUDITLOG_ES_API_KEY``, user/password
(``AUDITLOG_ES_USERNAME`` / ``AUDITLOG_ES_PASSWORD``), ``--ca-certs`` / ``AUDITLOG_ES_CA_CERTS``.
TLS verification is on unless ``--insecure`` is given explicitly.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass

from elasticsearch import Elasticsearch

from agent.errors import UsageError

DEFAULT_URL = "http://127.0.0.1:9200"


@dataclass(frozen=True)
class ConnectionSettings:
    """How to reach and authenticate to one Elasticsearch cluster."""

    url: str = DEFAULT_URL
    api_key: str | None = None
    username: str | None = None
    password: str | None = None
    ca_certs: str | None = None
    verify_certs: bool = True
    request_timeout: float = 30.0

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"es url must start with http:// or https://: {self.url!r}")
        if (self.username is None) != (self.password is None):
            raise ValueError("es username and password go together")

    def redacted(self) -> dict[str, object]:
        """Return the settings as a dict without secrets, for logs and status output."""
        return {
            "url": self.url,
            "auth": "api_key" if self.api_key else ("basic" if self.username else "none"),
            "ca_certs": self.ca_certs,
            "verify_certs": self.verify_certs,
        }


def make_client(settings: ConnectionSettings, **overrides: object) -> Elasticsearch:
    """Build an Elasticsearch client from ``settings``.

    Args:
        settings: where and how to connect.
        **overrides: extra keyword arguments for ``Elasticsearch`` (e.g. ``max_retries``).

    Returns:
        A configured client (no request is made).
    """
    kwargs: dict[str, object] = {
        "request_timeout": settings.request_timeout,
        "verify_certs": settings.verify_certs,
    }
    if settings.api_key:
        kwargs["api_key"] = settings.api_key
    elif settings.username is not None and settings.password is not None:
        kwargs["basic_auth"] = (settings.username, settings.password)
    if settings.ca_certs:
        kwargs["ca_certs"] = settings.ca_certs
    if not settings.verify_certs:
        kwargs["ssl_show_warn"] = False
    kwargs.update(overrides)
    return Elasticsearch(settings.url, **kwargs)  # type: ignore[arg-type]


def add_connection_args(parser: argparse.ArgumentParser) -> None:
    """Add the shared connection options to a command's parser."""
    group = parser.add_argument_group("connection")
    group.add_argument("--es", dest="es_url", metavar="URL",
                       help=f"Elasticsearch URL (env AUDITLOG_ES_URL, default {DEFAULT_URL})")
    group.add_argument("--api-key", dest="es_api_key", metavar="KEY", help="API key (env AUDITLOG_ES_API_KEY)")
    group.add_argument("--user", dest="es_username", metavar="NAME", help="basic-auth user (env AUDITLOG_ES_USERNAME)")
    group.add_argument("--password", dest="es_password", metavar="PW",
                       help="basic-auth password (env AUDITLOG_ES_PASSWORD)")
    group.add_argument("--ca-certs", dest="es_ca_certs", metavar="FILE", help="CA bundle (env AUDITLOG_ES_CA_CERTS)")
    group.add_argument("--insecure", dest="es_insecure", action="store_true", help="turn TLS verification off")


def settings_from_args(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> ConnectionSettings:
    """Resolve connection settings: flags first, then environment, then defaults.

    Args:
        args: parsed arguments from a parser that had ``add_connection_args``.
        env: environment (defaults to ``os.environ``).

    Returns:
        The settings.

    Raises:
        UsageError: on contradictory or malformed settings (the message names the option; exit 2).
    """
    env = os.environ if env is None else env

    def pick(attr: str, var: str) -> str | None:
        value = getattr(args, attr, None)
        return value if value is not None else (env.get(var) or None)

    try:
        return ConnectionSettings(
            url=pick("es_url", "AUDITLOG_ES_URL") or DEFAULT_URL,
            api_key=pick("es_api_key", "AUDITLOG_ES_API_KEY"),
            username=pick("es_username", "AUDITLOG_ES_USERNAME"),
            password=pick("es_password", "AUDITLOG_ES_PASSWORD"),
            ca_certs=pick("es_ca_certs", "AUDITLOG_ES_CA_CERTS"),
            verify_certs=not getattr(args, "es_insecure", False),
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
