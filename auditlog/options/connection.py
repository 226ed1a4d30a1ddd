"""The connection flags every command shares: ``--es``, ``--api-key``, ``--user``/``--password``,
``--ca-certs``, ``--insecure``, each with its ``AUDITLOG_ES_*`` environment variable (flags win)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping

from auditlog.core.errors import UsageError
from auditlog.indexer.client import DEFAULT_URL, ConnectionSettings


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
