"""The connection flags every command shares: ``--es``, ``--api-key``, ``--user``/``--password``,
``--ca-certs``, ``--insecure``, each with its ``AUDITLOG_ES_*`` environment variable (flags win).

Secrets (``auditlog.options.secrets``): ``AUDITLOG_ES_API_KEY`` / ``AUDITLOG_ES_PASSWORD``, or a file
(``--api-key-file`` / ``--password-file``, or ``AUDITLOG_ES_API_KEY_FILE`` / ``AUDITLOG_ES_PASSWORD_FILE``;
a warning when the file is not 0600), or for ``--user`` without a password a prompt on the terminal.
``--api-key`` and ``--password`` still work and warn that they show in ``ps``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping

from auditlog.core.errors import UsageError
from auditlog.indexer.client import (
    DEFAULT_URL,
    ConnectionSettings,
    ca_file_problem,
    credential_problem,
    url_problem,
)
from auditlog.options.secrets import Warn, flag_warning, prompt_password, read_secret_file, warn_stderr


def add_connection_args(parser: argparse.ArgumentParser) -> None:
    """Add the shared connection options to a command's parser."""
    group = parser.add_argument_group("connection")
    group.add_argument("--es", dest="es_url", metavar="URL",
                       help=f"Elasticsearch URL, or several nodes of one cluster comma-separated "
                            f"(env AUDITLOG_ES_URL, default {DEFAULT_URL})")
    group.add_argument("--api-key", dest="es_api_key", metavar="KEY",
                       help="API key (shows in ps: prefer env AUDITLOG_ES_API_KEY or --api-key-file)")
    group.add_argument("--api-key-file", dest="es_api_key_file", metavar="FILE",
                       help="read the API key from FILE, mode 0600 (env AUDITLOG_ES_API_KEY_FILE)")
    group.add_argument("--user", dest="es_username", metavar="NAME", help="basic-auth user (env AUDITLOG_ES_USERNAME)")
    group.add_argument("--password", dest="es_password", metavar="PW",
                       help="basic-auth password (shows in ps: prefer env AUDITLOG_ES_PASSWORD or --password-file; "
                            "asked for on a terminal when --user has none)")
    group.add_argument("--password-file", dest="es_password_file", metavar="FILE",
                       help="read the password from FILE, mode 0600 (env AUDITLOG_ES_PASSWORD_FILE)")
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
    resolve_secrets(args, env)

    def pick(attr: str, var: str) -> str | None:
        value = getattr(args, attr, None)
        return value if value is not None else (env.get(var) or None)

    url = pick("es_url", "AUDITLOG_ES_URL") or DEFAULT_URL
    problem = url_problem(url)
    if problem:  # name where the URL came from; the message shows it without a password
        raise UsageError(f"{'--es' if getattr(args, 'es_url', None) is not None else 'AUDITLOG_ES_URL'}: {problem}")
    for attr, flag, var in (("es_username", "--user", "AUDITLOG_ES_USERNAME"),
                            ("es_password", "--password", "AUDITLOG_ES_PASSWORD")):
        value = pick(attr, var)
        if value is not None and (problem := credential_problem(value, username=attr == "es_username")):
            source = flag if getattr(args, attr, None) is not None else var
            if attr == "es_password" and getattr(args, "es_password_file", None):
                source = "--password-file"
            raise UsageError(f"{source}: {problem}")  # never the value
    if pick("es_password", "AUDITLOG_ES_PASSWORD") is not None and pick("es_username", "AUDITLOG_ES_USERNAME") is None:
        source = getattr(args, "es_password_source", None) or (
            "--password" if getattr(args, "es_password", None) is not None else "AUDITLOG_ES_PASSWORD")
        raise UsageError(f"{source}: a password needs a user name: add --user NAME (or AUDITLOG_ES_USERNAME), "
                         "e.g. --user elastic")
    try:
        settings = ConnectionSettings(
            url=url,
            api_key=pick("es_api_key", "AUDITLOG_ES_API_KEY"),
            username=pick("es_username", "AUDITLOG_ES_USERNAME"),
            password=pick("es_password", "AUDITLOG_ES_PASSWORD"),
            ca_certs=pick("es_ca_certs", "AUDITLOG_ES_CA_CERTS"),
            verify_certs=not getattr(args, "es_insecure", False),
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if settings.ca_certs and (problem := ca_file_problem(settings.ca_certs)):
        source = "--ca-certs" if getattr(args, "es_ca_certs", None) is not None else "AUDITLOG_ES_CA_CERTS"
        raise UsageError(f"{source}: {problem}")
    return settings


def resolve_secrets(args: argparse.Namespace, env: Mapping[str, str] | None = None, warn: Warn = warn_stderr,
                    *, prompt: bool = True) -> None:
    """Fill ``args.es_api_key`` / ``args.es_password`` from files or a prompt, warning about flag secrets.

    Idempotent (a second call neither warns nor reads again). Precedence: the flag, then its file flag,
    then the environment variable (read later by the caller), then its ``*_FILE`` variable, then, for
    ``--user`` without any password, a prompt on the terminal.

    Args:
        args: parsed arguments from a parser that had ``add_connection_args``.
        env: environment (defaults to ``os.environ``).
        warn: where warnings go.
        prompt: whether to ask on the terminal; False where a config file may still hold the password
            (the agent asks through ``agent.config.load`` once it has read the file).

    Raises:
        UsageError: a secret file cannot be read, or no password and no terminal to ask on.
    """
    if getattr(args, "_secrets_resolved", False):
        return
    env = os.environ if env is None else env
    for attr, flag, var, file_flag in (("es_api_key", "--api-key", "AUDITLOG_ES_API_KEY", "--api-key-file"),
                                       ("es_password", "--password", "AUDITLOG_ES_PASSWORD", "--password-file")):
        if getattr(args, attr, None) is not None:
            warn(flag_warning(flag, var, file_flag))
            continue
        path = getattr(args, attr + "_file", None)
        if path:
            setattr(args, attr, read_secret_file(path, file_flag, warn))
            setattr(args, attr + "_source", file_flag)
        elif not env.get(var) and env.get(var + "_FILE"):
            setattr(args, attr, read_secret_file(str(env[var + "_FILE"]), var + "_FILE", warn))
            setattr(args, attr + "_source", var + "_FILE")
    option, user = _username_source(args, env)
    if prompt and user and getattr(args, "es_password", None) is None and not env.get("AUDITLOG_ES_PASSWORD") \
            and not getattr(args, "es_api_key", None) and not env.get("AUDITLOG_ES_API_KEY"):
        args.es_password = prompt_password(user, option=option)
    args._secrets_resolved = True


def _username_source(args: argparse.Namespace | None, env: Mapping[str, str]) -> tuple[str, str | None]:
    """Return where the basic-auth user name comes from and the name (pure).

    Args:
        args: parsed arguments (``es_username``), or None.
        env: environment (``AUDITLOG_ES_USERNAME``).

    Returns:
        ``("--user", name)`` or ``("AUDITLOG_ES_USERNAME", name)``, the flag first; ``(..., None)`` for none.
    """
    flag = getattr(args, "es_username", None) if args is not None else None
    if flag:
        return "--user", flag
    return "AUDITLOG_ES_USERNAME", env.get("AUDITLOG_ES_USERNAME") or None
