"""Elasticsearch failures as one line a person can act on: every command and the TUI use this.

401 names the credential options, 403 what the action needs, TLS failures ``--ca-certs``,
connection failures the URL, an answer over the client's size bound that bound and the request path; anything
else carries Elasticsearch's own ``error.reason``. Whatever
the failure, the description is one line of at most ``MAX_MESSAGE`` characters: never a response body.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager

from elastic_transport import SerializationError
from elasticsearch import ApiError, SSLError, TransportError
from elasticsearch import ConnectionError as ESConnectionError

from auditlog.core.errors import CommandError, UsageError
from auditlog.indexer.client import AnswerTooLarge, safe_url

#: What a call into the client may raise when the cluster misbehaves.
ES_ERRORS: tuple[type[Exception], ...] = (ApiError, TransportError)

#: What reading an answer of an unexpected shape raises (``hits`` a number, a missing key, a list for an object).
ANSWER_ERRORS: tuple[type[Exception], ...] = (KeyError, TypeError, AttributeError, IndexError, ValueError)
#: Everything a read from the cluster may end in: the client's errors and an answer of another shape.
READ_ERRORS: tuple[type[Exception], ...] = (*ES_ERRORS, *ANSWER_ERRORS)


_CONNECTION_HINTS = ("Connection refused", "timed out", "Name or service not known")

#: The longest description shown to a person (a terminal line or two; a notification).
MAX_MESSAGE = 300


def one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    """Return ``text`` on one line (line breaks and runs of spaces collapsed), cut to ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def error_reason(exc: ApiError) -> str:
    """Return Elasticsearch's own reason from an error response (``error.reason``), never the response body.

    An answer that is not Elasticsearch's JSON error (a proxy's HTML page, plain text, JSON of another shape)
    is named by its status and content type: its text is no reason and may be a page of markup. A reason or
    type that is not a string is written as JSON, so it is neither lost nor shown as Python's repr.

    Args:
        exc: an error response of the client (its body decoded, or the bytes of a raw client).

    Returns:
        One line of at most ``MAX_MESSAGE`` characters.
    """
    status = exc.meta.status
    content_type = _content_type(exc)
    body = exc.body
    if isinstance(body, bytes | bytearray | str) and "json" in content_type:
        # a raw client (rawsource.raw_client_options) leaves every JSON answer undecoded
        with contextlib.suppress(ValueError, RecursionError):
            body = json.loads(body)
    if isinstance(body, dict) and "error" in body:
        error = body["error"]
        if isinstance(error, dict):
            error = next((error[key] for key in ("reason", "type") if error.get(key) not in _EMPTY), None)
        if error not in _EMPTY:
            return one_line(_as_text(error))
        return f"HTTP {status} with an error object that gives no reason"
    if isinstance(body, dict | list) or (isinstance(body, bool | int | float) and "json" in content_type):
        return f"HTTP {status} with JSON that holds no error object"
    if not body:
        return f"HTTP {status} with an empty body"
    article = "an" if content_type[:1] in ("a", "e", "i", "o", "u") else "a"
    kind = f"{article} {content_type} body" if content_type else "a body of no declared type"
    return f"HTTP {status} with {kind} (not Elasticsearch's JSON)"


#: Values that say nothing as a reason.
_EMPTY: tuple[object, ...] = (None, "", [], {})

_MEDIA_TYPE = re.compile(r"[\w.+-]{1,60}/[\w.+-]{1,60}", re.ASCII)


def _content_type(exc: ApiError) -> str:
    """The answer's media type (``text/html``), or "" when it has none or one that is no media type."""
    try:
        value = str(exc.meta.headers.get("content-type") or "")
    except (AttributeError, TypeError):
        return ""
    media = value.partition(";")[0].strip().lower()
    return media if _MEDIA_TYPE.fullmatch(media) else ""


def _as_text(value: object) -> str:
    """A reason as text: a string as it is, anything else as JSON (control characters escaped)."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, default=lambda other: type(other).__name__)[: MAX_MESSAGE * 2]
    except (ValueError, RecursionError):  # a reason nested deeper than JSON is written
        return f"a {type(value).__name__} nested too deep to show"


def _connection_reason(exc: ESConnectionError) -> str:
    text = str(exc.message or exc)
    for hint in _CONNECTION_HINTS:
        if hint.lower() in text.lower():
            return hint
    return (text.splitlines() or [""])[0][:200]


def describe_es_error(exc: BaseException, *, url: str | None = None, needs: str | None = None) -> str:
    """Return a short, actionable description of an Elasticsearch failure (one line, ``MAX_MESSAGE`` at most).

    Args:
        exc: an exception from the client (anything else is described generically).
        url: the cluster's URL, named in connection and credential messages.
        needs: the privileges the failed action requires, named on 403.

    Returns:
        One line.
    """
    return one_line(_describe(exc, url=url, needs=needs))


def _describe(exc: BaseException, *, url: str | None, needs: str | None) -> str:
    at = f" at {safe_url(url)}" if url else ""
    if isinstance(exc, SSLError):
        return (f"the certificate of Elasticsearch{at} is not trusted ({exc.message}); pass its CA with "
                "--ca-certs (or AUDITLOG_ES_CA_CERTS)")
    if isinstance(exc, ESConnectionError):
        return f"cannot reach Elasticsearch{at}: {_connection_reason(exc)}; is the cluster up and --es right?"
    if isinstance(exc, ApiError):
        if exc.meta.status == 401:
            return (f"Elasticsearch{at} rejected the credentials (401): check --api-key / AUDITLOG_ES_API_KEY "
                    "or --user/--password")
        if exc.meta.status == 403:
            what = needs or "read on the audit indices (a reader key: auditlog setup --api-keys)"
            return f"the credentials lack a privilege (403): this needs {what}; Elasticsearch said: {error_reason(exc)}"
        return f"Elasticsearch refused ({exc.meta.status}): {error_reason(exc)}"
    if isinstance(exc, AnswerTooLarge):  # its message names the bound and the request path, never the body
        return (f"Elasticsearch{at}: {exc.message}; is --es an Elasticsearch 9 cluster, reached without a proxy "
                "that rewrites it?")
    if isinstance(exc, SerializationError):
        return f"the answer of Elasticsearch{at} could not be read: {str(exc.message)[:160]}"
    if isinstance(exc, TransportError):
        return f"Elasticsearch{at} failed: {exc.message}"
    if isinstance(exc, ANSWER_ERRORS):
        return describe_answer_error(exc, url=url)
    return f"{type(exc).__name__}: {exc}"


@contextmanager
def cluster_errors(url: str, needs: str | None = None) -> Iterator[None]:
    """Turn client errors raised inside the block into one-line ``CommandError`` (exit 1).

    Args:
        url: the cluster's URL, for the message.
        needs: the privileges the action requires, named on 403.

    Raises:
        CommandError: for any Elasticsearch client error.
    """
    try:
        yield
    except ES_ERRORS as exc:
        raise CommandError(describe_es_error(exc, url=url, needs=needs)) from None
    except UsageError:
        raise
    except ANSWER_ERRORS as exc:
        raise CommandError(describe_answer_error(exc, url=url)) from None


def describe_answer_error(exc: Exception, *, url: str | None = None) -> str:
    """One line for an answer whose shape the command cannot read (a proxy's page, another product, a bug).

    The exception's type and text stay in the line, so a bug of ours is still told apart from a bad answer.
    """
    at = f" at {safe_url(url)}" if url else ""
    return one_line(f"the answer of Elasticsearch{at} is not what this command reads ({type(exc).__name__}: "
                    f"{str(exc)[:120]}); is --es an Elasticsearch 9 cluster, reached without a proxy that rewrites it?")
