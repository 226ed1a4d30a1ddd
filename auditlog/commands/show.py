"""``auditlog show ID``: print one event's JSON, found by id across every daily index.

Exit status 0 with the event as indented JSON on stdout; 1 with one line on stderr when no index
holds the id or the cluster cannot answer (unreachable, 401, 403, ...); 2 on bad flags.
The namespace is ``--prefix`` / ``AUDITLOG_INDEX_PREFIX`` (default ``audit``), as for ``auditlog setup``.
"""

from __future__ import annotations

import argparse
import sys

from auditlog.core.errors import CommandError, UsageError
from auditlog.core.terminal import json_text_shown
from auditlog.indexer.client import make_client
from auditlog.indexer.decode import dumps_deep
from auditlog.indexer.errors import cluster_errors
from auditlog.indexer.query.events import get_event
from auditlog.options.connection import add_connection_args, settings_from_args
from auditlog.options.filters import typed_text
from auditlog.options.tiers import add_prefix_arg, tiers_from_args


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``show`` to the root parser."""
    show = sub.add_parser(
        "show",
        help="print one audit event as JSON",
        description="Print the event with this id (event.id) as JSON, searching every daily index of the namespace.",
    )
    show.add_argument("event_id", type=typed_text, metavar="ID", help="the event's id (event.id, the document _id)")
    add_prefix_arg(show)
    add_connection_args(show)
    show.set_defaults(func=run_show)




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
    tiers = tiers_from_args(args)
    settings = settings_from_args(args)
    # One attempt: a person is waiting for "unreachable", not for retries.
    client = make_client(settings, max_retries=0, retry_on_timeout=False)
    try:
        with cluster_errors(settings.url, "read on the audit indices"):
            event = get_event(client, tiers, event_id)
    finally:
        client.close()
    if event is None:
        raise CommandError(f"event {event_id!r} not found in {tiers.read_pattern}")
    text = dumps_deep(event, indent=2, ensure_ascii=False) + "\n"
    # A lone surrogate (Elasticsearch stores "\ud800" escapes) cannot be UTF-8: write it back as that escape;
    # C1 controls, DEL and bidi marks as JSON escapes (stdout's own escaping would write "\x9b": no JSON).
    sys.stdout.write(json_text_shown(text.encode("utf-8", "backslashreplace").decode("utf-8")))
    return 0
