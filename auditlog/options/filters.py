"""The filter flags every filtering command shares (``auditlog export``, ``auditlog tui``, ...).

``--tenant ORG`` / ``--worker ID`` / ``--action A`` / ``--source S`` (each repeatable; values are OR-ed
within a flag and AND-ed across flags), ``--since`` / ``--until`` and ``--query TEXT``.

Times are RFC 3339 with an offset or ``Z`` (``2026-11-20T10:00:00+01:00``), a bare date
(``2026-11-20``, midnight UTC), ``now``, or a relative age ``<n><unit>`` with unit ``s``, ``m``, ``h``,
``d`` or ``w`` (``15m``, ``24h``, ``7d``: that long before now). A relative time is resolved when
``filter_from_args`` runs, so one command uses one "now". Actions are lowercased (the contract's
actions are lowercase). A bad value stops the command with argparse's usage error naming the flag
(exit status 2).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from auditlog.core.errors import UsageError
from auditlog.indexer.query.dsl import text_problem
from auditlog.indexer.query.filter import Filter, values_problem
from auditlog.indexer.query.timespec import TimeSpec, parse_time


def typed_text(text: str) -> str:
    """Return ``text`` unchanged when it is valid UTF-8 as typed (an argparse ``type``).

    A command line holding bytes that are not UTF-8 (a Latin-1 terminal's ``ü``) reaches Python as lone
    surrogates (``\\udcfc``), which no request to Elasticsearch can carry: the client failed on it, reported as
    an unreadable *answer* of the cluster with the request body quoted.

    Raises:
        argparse.ArgumentTypeError: naming the value, when it holds such bytes (exit 2, naming the flag).
    """
    if any("\ud800" <= ch <= "\udfff" for ch in text):
        raise argparse.ArgumentTypeError(f"{text!r} holds bytes that are not UTF-8: is the terminal's encoding "
                                         "UTF-8 (LANG, LC_ALL)?")
    return text


def _value(text: str) -> str:
    value = typed_text(text).strip()
    if not value:
        raise argparse.ArgumentTypeError("must not be empty")
    return value


def _query(text: str) -> str:
    problem = text_problem(typed_text(text))
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return text


def _action(text: str) -> str:
    return _value(text).lower()


def add_filter_args(parser: argparse.ArgumentParser) -> None:
    """Add the shared filter flags to a command's parser.

    Destinations: ``tenants``, ``workers``, ``actions``, ``sources``, ``since``, ``until`` (``TimeSpec``)
    and ``text``; turn them into a ``Filter`` with ``filter_from_args``.
    """
    group = parser.add_argument_group("filters")
    group.add_argument("--tenant", dest="tenants", type=_value, action="append", default=[], metavar="ORG",
                       help="only this tenant (organization.id); repeatable")
    group.add_argument("--worker", dest="workers", type=_value, action="append", default=[], metavar="ID",
                       help="only events by this worker (user.id); repeatable")
    group.add_argument("--action", dest="actions", type=_action, action="append", default=[], metavar="A",
                       help="only this type of action (auth, create, update, delete, ...); repeatable")
    group.add_argument("--source", dest="sources", type=_value, action="append", default=[], metavar="S",
                       help="only this source (appointments, slots, login, ...); repeatable")
    group.add_argument("--since", type=parse_time, metavar="TIME",
                       help="from this time: RFC 3339, a date, or relative like 15m, 24h, 7d")
    group.add_argument("--until", type=parse_time, metavar="TIME",
                       help="up to this time (inclusive): RFC 3339, a date, or relative")
    group.add_argument("--query", dest="text", type=_query, metavar="TEXT",
                       help="free text in message, worker, organization, changed fields, URL, ...")


def filter_from_args(
    args: argparse.Namespace, *, now: datetime | None = None, parser: argparse.ArgumentParser | None = None
) -> Filter:
    """Build the ``Filter`` from flags added by ``add_filter_args``.

    Args:
        args: the parsed arguments.
        now: "now" for relative times (defaults to the current time).
        parser: report a contradiction with ``parser.error`` (exit 2) instead of raising.

    Returns:
        The filter.

    Raises:
        UsageError: when ``--since`` is after ``--until`` and no ``parser`` is given (exit status 2).
    """
    now = now or datetime.now(UTC)
    since_spec: TimeSpec | None = getattr(args, "since", None)
    until_spec: TimeSpec | None = getattr(args, "until", None)
    since = since_spec.resolve(now) if since_spec else None
    until = until_spec.resolve(now) if until_spec else None
    if since is not None and until is not None and since > until:
        message = f"argument --since: {since.isoformat()} is after --until {until.isoformat()}"
        if parser is not None:
            parser.error(message)
        raise UsageError(message)
    text = getattr(args, "text", None)
    flt = Filter(
        tenants=tuple(dict.fromkeys(getattr(args, "tenants", None) or ())),
        workers=tuple(dict.fromkeys(getattr(args, "workers", None) or ())),
        actions=tuple(dict.fromkeys(getattr(args, "actions", None) or ())),
        sources=tuple(dict.fromkeys(getattr(args, "sources", None) or ())),
        since=since,
        until=until,
        text=text if text and text.strip() else None,
    )
    problem = values_problem(flt)
    if problem is not None:
        if parser is not None:
            parser.error(problem)
        raise UsageError(problem)
    return flt
