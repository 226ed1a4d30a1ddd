"""``auditlog`` subcommands owned by the ``tui`` package: ``tui`` (browse) and ``export`` (Excel).

``auditlog export [filters] -o FILE.xlsx [--tz ZONE]`` writes every event matching the shared filter
flags (``indexer.query.add_filter_args``) to a workbook, newest first, through the same query layer
the TUI lists with, so the file's row count is the count the TUI shows for the same filter.
``auditlog tui [--tenant ORG]`` opens the browser: all tenants (support view), or the customer view
of one enterprise tenant (refused, exit 1, for other tiers). With a tenant API key both commands
follow the key: the customer view (and export) of the key's tenant, which the flags cannot leave.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from elasticsearch import Elasticsearch

from auditlog.core.errors import CommandError, UsageError
from auditlog.core.terminal import unfiltered
from auditlog.indexer.client import ConnectionSettings, make_client
from auditlog.indexer.errors import ANSWER_ERRORS, ES_ERRORS, describe_answer_error, describe_es_error
from auditlog.indexer.keys import TENANT_CANNOT_VERIFY
from auditlog.indexer.query import EventStream, PitExpiredError
from auditlog.indexer.query.pit import SnapshotIndexDeletedError
from auditlog.indexer.rawsource import raw_client_options
from auditlog.indexer.tiers import TierTable
from auditlog.indexer.verify import verify
from auditlog.options.connection import add_connection_args, settings_from_args
from auditlog.options.filters import add_filter_args, filter_from_args, typed_text
from auditlog.options.tiers import tiers_from_args
from auditlog.options.view import add_view_args, summarizer_from_args, zone_from_args
from auditlog.tui.access import AccessDenied, CustomerView, key_view


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add this package's subcommands to the root parser."""
    export = sub.add_parser(
        "export",
        help="export matching events to an Excel workbook",
        description="Export every event matching the filters to FILE.xlsx (newest first): an events sheet with "
                    "times in the chosen zone, and a metadata sheet.",
    )
    export.add_argument("-o", "--output", required=True, metavar="FILE.xlsx", help="workbook to write")
    export.add_argument("--verify", action="store_true",
                        help="verify the exported events against the signed digests first and put the result "
                             "(and the digest range) in the Metadata sheet; exit 1 when it finds problems")
    add_filter_args(export)
    add_view_args(export)
    add_connection_args(export)
    export.set_defaults(func=run_export)

    tui = sub.add_parser(
        "tui",
        help="browse, inspect and export audit events in the terminal",
        description="Support view of all tenants; with --tenant, the customer view of one enterprise tenant.",
    )
    # append, not store: a second --tenant is refused instead of silently replacing the first
    tui.add_argument("--tenant", action="append", type=typed_text, metavar="ORG",
                     help="customer view: only this tenant (enterprise tier only; one tenant)")
    tui.add_argument("--export-dir", metavar="DIR", default=".", help="where `e` and `d` write workbooks (default .)")
    add_view_args(tui)
    add_connection_args(tui)
    tui.set_defaults(func=run_tui)


class _ProgressLine:
    """Prints "exported n / total" on one terminal line (only when stderr is a terminal)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.enabled = stream.isatty()

    def __call__(self, rows: int, total: int | None) -> None:
        if self.enabled:
            of = f" / {total:,}" if total is not None else ""
            self.stream.write(f"\rexported {rows:,}{of} events")
            self.stream.flush()

    def done(self) -> None:
        if self.enabled:
            self.stream.write("\n")


def _client(settings: ConnectionSettings) -> Elasticsearch:
    """The client for browsing and exporting: responses decoded by orjson (a 100k-event export reads
    ~80 MB of JSON; the standard library's decoder took a sixth of the export's time), with the exact
    decoder as fallback for documents orjson cannot read (``indexer.decode``)."""
    return make_client(settings)


def _key_view(client: Elasticsearch, settings: ConnectionSettings,
              requested: tuple[str, ...]) -> CustomerView | None:
    """The customer view a tenant key fixes (only API keys can be tenant keys: no request otherwise).

    Raises:
        AccessDenied: when a requested tenant is not the key's.
    """
    if not settings.api_key:
        return None
    return key_view(client, requested)


def _namespace(tiers: TierTable, view: CustomerView) -> TierTable:
    """The namespace a tenant key was made for (it reads nothing else)."""
    if view.namespace is None or view.namespace == tiers.prefix:
        return tiers
    return TierTable(prefix=view.namespace)


def run_export(args: argparse.Namespace) -> int:
    """Run ``auditlog export``.

    Returns:
        0 on success.

    Raises:
        UsageError: bad output name, zone, language, prefix or filter (exit 2).
        CommandError: the cluster failed or the file could not be written (exit 1).
    """
    from auditlog.tui.export.xlsx import export_xlsx
    from auditlog.tui.filters import describe_filter
    from auditlog.tui.verification import export_pairs

    output = Path(args.output)
    if output.name.lower() == ".xlsx":  # Path(".xlsx").suffix is "": the name alone looked like no .xlsx
        raise UsageError(f"--output: {str(output)!r} needs a name before .xlsx (e.g. audit.xlsx)")
    if output.suffix.lower() != ".xlsx":
        raise UsageError(f"--output: {str(output)!r} must end in .xlsx")
    if not output.parent.is_dir():
        raise UsageError(f"--output: folder {str(output.parent)!r} does not exist")
    flt = filter_from_args(args)
    tiers = tiers_from_args(args)
    zone = zone_from_args(args)
    summarizer = summarizer_from_args(args)
    settings = settings_from_args(args)
    client = _client(settings)
    progress = _ProgressLine(unfiltered(sys.stderr))  # its "\r" is ours; the line holds only numbers
    report = None
    try:
        view = _key_view(client, settings, flt.tenants)
        index = None
        if view is not None:
            # a tenant key: its tenant, its class and its namespace, whatever the flags said
            flt = flt.with_(tenants=(view.tenant,))
            tiers = _namespace(tiers, view)
            index = view.index
            if args.verify:
                raise CommandError(f"--verify: {TENANT_CANNOT_VERIFY}")
        if args.verify:
            verifier = make_client(settings, **raw_client_options())
            try:
                report = verify(verifier, tiers, flt)
            finally:
                verifier.close()
        extra = export_pairs(report) if args.verify else []
        with EventStream(client, tiers, flt, index=index) as stream:
            result = export_xlsx(stream, output, zone=zone, summarizer=summarizer, total=stream.total,
                                 filters=describe_filter(flt, ZoneInfo(zone)) + extra, progress=progress)
    except ES_ERRORS as exc:
        raise CommandError(describe_es_error(exc, url=settings.url)) from None
    except SnapshotIndexDeletedError as exc:
        raise CommandError(f"index {exc.index} was deleted while the export read it (retention?); {str(output)!r} "
                           "was not written, export again") from None
    except PitExpiredError:
        raise CommandError("the cluster dropped the export's snapshot (point in time) before its last event: a node "
                           f"restarted, or the export stalled longer than the snapshot is kept; {str(output)!r} was "
                           "not written, export again") from None
    except AccessDenied as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"cannot write {str(output)!r}: {exc.strerror or exc}") from None
    except UsageError:
        raise
    except ANSWER_ERRORS as exc:
        raise CommandError(describe_answer_error(exc, url=settings.url)) from None
    finally:
        progress.done()
        client.close()
    sheets = f" on {len(result.sheets)} sheets" if len(result.sheets) > 1 else ""
    print(f"exported {result.rows:,} events{sheets} to {result.path}")
    if report is not None:
        print(report.summary())
        return 0 if report.ok else 1
    return 0


def run_tui(args: argparse.Namespace) -> int:
    """Run ``auditlog tui``.

    Returns:
        0 after the user quits; 128 + the signal's number when SIGTERM or SIGHUP ended it (the terminal
        is restored either way).

    Raises:
        UsageError: bad zone, language, prefix or export folder (exit 2).
        CommandError: the customer view is refused or the cluster cannot be asked (exit 1).
    """
    from auditlog.tui.access import customer_view
    from auditlog.tui.app import AppConfig, AuditLogApp

    if args.tenant and len(args.tenant) > 1:
        raise UsageError("--tenant: the customer view shows one tenant (export takes --tenant several times)")
    tiers = tiers_from_args(args)
    zone = zone_from_args(args)
    summarizer = summarizer_from_args(args)
    export_dir = Path(args.export_dir)
    if not export_dir.is_dir():
        raise UsageError(f"--export-dir: {str(export_dir)!r} is not a folder")
    settings = settings_from_args(args)
    client = _client(settings)
    try:
        try:
            view = _key_view(client, settings, tuple(args.tenant or ()))
            if view is not None:
                tiers = _namespace(tiers, view)
            elif args.tenant:
                view = customer_view(client, tiers, args.tenant[0])
        except AccessDenied as exc:
            raise CommandError(str(exc)) from None
        except ES_ERRORS as exc:
            raise CommandError(describe_es_error(exc, url=settings.url)) from None
        except UsageError:
            raise
        except ANSWER_ERRORS as exc:
            raise CommandError(describe_answer_error(exc, url=settings.url)) from None
        # tamper evidence in the operator's view only: digests list every tenant's event ids
        verifier = None if view is not None else make_client(settings, **raw_client_options())
        config = AppConfig(client=client, tiers=tiers, zone=zone, summarizer=summarizer, customer=view,
                           export_dir=export_dir, verify_client=verifier, url=settings.url)
        app = AuditLogApp(config)
        try:
            app.run()
        finally:
            if verifier is not None:
                verifier.close()
    finally:
        client.close()
    return 128 + app.ended_by if app.ended_by is not None else 0
