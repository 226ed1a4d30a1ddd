"""``auditlog verify [filters] [--pubkey FILE] [--json]``: prove the audit trail against the signed digests.

Prints a summary line and one line per problem (or, with ``--json``, one JSON object). Exit status 0
when every event checked is proven (expired days and events not yet covered by a digest are listed,
not problems), 1 when something was deleted, altered, inserted, lost or forged (or the cluster cannot
answer), 2 on bad usage. See docs/tamper-evidence.md.
"""

from __future__ import annotations

import argparse
import json
import sys

from auditlog.core.errors import CommandError, UsageError
from auditlog.core.files import read_limited
from auditlog.core.terminal import json_text_shown, shown
from auditlog.indexer.client import make_client
from auditlog.indexer.errors import cluster_errors
from auditlog.indexer.integrity import load_public_keys
from auditlog.indexer.keys import TENANT_CANNOT_VERIFY, key_scope
from auditlog.indexer.rawsource import raw_client_options
from auditlog.indexer.verify import verify
from auditlog.options.connection import add_connection_args, settings_from_args
from auditlog.options.filters import add_filter_args, filter_from_args
from auditlog.options.tiers import add_prefix_arg, tiers_from_args


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``verify`` to the root parser."""
    p = sub.add_parser(
        "verify",
        help="prove that no audit event was deleted, altered or inserted",
        description="Recompute every event's hash and check it against the agents' signed, chained digests; "
        "report deleted, altered and inserted events, broken chains, bad signatures and sequence gaps. "
        "Exit 0 when proven, 1 on problems, 2 on bad usage.",
    )
    add_filter_args(p)
    p.add_argument("--pubkey", metavar="FILE", action="append", default=[],
                   help="pinned agent public key (PEM from `auditlog agent key --public`; repeatable). "
                   "Without it each digest's own key is used, which proves consistency, not authorship")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    add_prefix_arg(p)
    add_connection_args(p)
    p.set_defaults(func=run_verify)


#: the most a --pubkey file may hold (a PEM public key is under 200 bytes; a file of pinned keys stays small)
PUBKEY_FILE_LIMIT = 1024 * 1024


def _pubkeys(files: list[str]) -> list[bytes] | None:
    if not files:
        return None
    keys: list[bytes] = []
    for name in files:
        try:
            keys += load_public_keys(read_limited(name, PUBKEY_FILE_LIMIT))
        except OSError as exc:
            raise UsageError(f"--pubkey {name}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise UsageError(f"--pubkey {name}: {exc}") from None
    return keys


def run_verify(args: argparse.Namespace) -> int:
    """Verify the namespace (or the filtered part of it) and print the result.

    Returns:
        0 when everything is proven, 1 when there are problems.

    Raises:
        UsageError: bad flags or an unreadable --pubkey file (exit 2).
        CommandError: the cluster cannot answer, or the credentials are a tenant key (exit 1).
    """
    keys = _pubkeys(args.pubkey)
    flt = filter_from_args(args)
    tiers = tiers_from_args(args)
    settings = settings_from_args(args)
    needs = "read on the audit and digest indices"
    if settings.api_key:  # only an API key can be a tenant key, which reads one tenant and no digests
        checker = make_client(settings, max_retries=0, retry_on_timeout=False)
        try:
            with cluster_errors(settings.url, needs):
                tenant_key = key_scope(checker) is not None
        finally:
            checker.close()
        if tenant_key:
            raise CommandError(TENANT_CANNOT_VERIFY)
    client = make_client(settings, max_retries=0, retry_on_timeout=False, **raw_client_options())
    try:
        with cluster_errors(settings.url, needs):
            report = verify(client, tiers, flt, pubkeys=keys)
    finally:
        client.close()
    if args.json:
        # ids and index names are the cluster's: C1 controls and bidi marks as JSON escapes, so the line parses
        sys.stdout.write(json_text_shown(json.dumps(report.as_dict(), ensure_ascii=False)) + "\n")
    else:
        # ids and index names are the cluster's: a line feed in a digest's id would forge a line ("verified: ...")
        print(shown(report.summary(), line_breaks=False))
        for problem in report.problems:
            print(shown(problem.line(), line_breaks=False))
        for note in report.expired:
            print(shown(f"expired {note}", line_breaks=False))
    return 0 if report.ok else 1
