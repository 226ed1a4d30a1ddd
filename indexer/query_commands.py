"""``auditlog show ID``: print one event's JSON, found by id across every daily index.

Exit status 0 with the event as indented JSON on stdout; 1 with one line on stderr when no index
holds the id or the cluster cannot answer (unreachable, 401, 403, ...); 2 on bad flags.
The namespace is ``--prefix`` / ``AUDITLOG_INDEX_PREFIX`` (default ``audit``), as for ``auditlog setup``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from elasticsearch import ApiError, AuthenticationException, AuthorizationException, TransportError
from elasticsearch import ConnectionError as ESConnectionError

from agent.errors import CommandError, UsageError
from indexer.client import ConnectionSettings, add_connection_args, make_client, settings_from_args
from indexer.query.events import get_event
from indexer.tiers import DEFAULT_PREFIX, TierTable


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``show`` to the root parser."""
    show = sub.add_parser(
        "show",
        help="print one audit event as JSON",
        description="Print the event with this id (event.id) as JSON, searching every daily index of the namespace.",
    )
    show.add_argument("event_id", metavar="ID", help="the event's id (event.id, the document _id)")
    show.add_argument("--prefix", metavar="NAME",
                      help=f"index namespace (env AUDITLOG_INDEX_PREFIX, default {DEFAULT_PREFIX!r})")
    add_connection_args(show)
    show.set_defaults(func=run_show)


def _tiers(args: argparse.Namespace) -> TierTable:
    prefix = args.prefix or os.environ.get("AUDITLOG_INDEX_PREFIX") or DEFAULT_PREFIX
    try:
        return TierTable(prefix=prefix)
    except ValueError as exc:
        raise UsageError(f"--prefix: {exc}") from None


def _settings(args: argparse.Namespace) -> ConnectionSettings:
    try:
        return settings_from_args(args)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _cluster_error(settings: ConnectionSettings, exc: Exception) -> CommandError:
    """One line saying what went wrong talking to the cluster and what to check."""
    if isinstance(exc, AuthenticationException):
        return CommandError(f"Elasticsearch at {settings.url} rejected the credentials (401): "
                            "check --api-key / AUDITLOG_ES_API_KEY or --user/--password")
    if isinstance(exc, AuthorizationException):
        return CommandError("the credentials lack a privilege (403): show needs read on the audit indices")
    if isinstance(exc, ESConnectionError):
        first = str(exc.message or exc).splitlines()[0][:200]
        return CommandError(f"cannot reach Elasticsearch at {settings.url}: {first}")
    if isinstance(exc, ApiError):
        return CommandError(f"Elasticsearch refused ({exc.meta.status}): {exc.message}")
    return CommandError(f"Elasticsearch at {settings.url} failed: {exc}")


def run_show(args: argparse.Namespace) -> int:
    """Print the event ``args.event_id`` as JSON.

    Returns:
        0 when printed.

    Raises:
        UsageError: on an empty id or bad prefix/connection flags (exit 2).
        CommandError: when the event is not found or the cluster fails (exit 1).
    """
    event_id = args.event_id.strip()
    if not event_id:
        raise UsageError("ID must not be empty")
    tiers = _tiers(args)
    settings = _settings(args)
    # One attempt: a person is waiting for "unreachable", not for retries.
    client = make_client(settings, max_retries=0, retry_on_timeout=False)
    try:
        event = get_event(client, tiers, event_id)
    except (ApiError, TransportError) as exc:
        raise _cluster_error(settings, exc) from None
    finally:
        client.close()
    if event is None:
        raise CommandError(f"event {event_id!r} not found in {tiers.read_pattern}")
    json.dump(event, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0
