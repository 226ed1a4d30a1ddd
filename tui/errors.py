"""Elasticsearch failures as one sentence a support person can act on (CLI messages, TUI notifications)."""

from __future__ import annotations

from elasticsearch import ApiError, SSLError, TransportError
from elasticsearch import ConnectionError as EsConnectionError

#: What a call into the query layer may raise when the cluster misbehaves.
ES_ERRORS: tuple[type[Exception], ...] = (ApiError, TransportError)


def describe_es_error(exc: BaseException) -> str:
    """Return a short, actionable description of an Elasticsearch failure.

    Args:
        exc: an exception from the client (or anything else, described generically).

    Returns:
        One line: unreachable cluster, rejected key, missing privilege or the server's reason.
    """
    if isinstance(exc, SSLError):
        return (f"the cluster's TLS certificate is not trusted ({exc.message}); pass its CA with --ca-certs "
                "(or AUDITLOG_ES_CA_CERTS)")
    if isinstance(exc, EsConnectionError):
        return f"cannot reach Elasticsearch ({exc.message}); is the cluster up and --es right?"
    if isinstance(exc, ApiError):
        if exc.status_code == 401:
            return "Elasticsearch rejected the credentials (bad or expired API key / password)"
        if exc.status_code == 403:
            return "the API key may not read the audit indices (ask for a reader key: auditlog setup --api-keys)"
        reason = exc.message
        body = exc.body if isinstance(exc.body, dict) else {}
        error = body.get("error")
        if isinstance(error, dict):
            reason = str(error.get("reason") or error.get("type") or reason)
        return f"Elasticsearch error {exc.status_code}: {reason}"
    if isinstance(exc, TransportError):
        return f"Elasticsearch transport error: {exc.message}"
    return f"{type(exc).__name__}: {exc}"
