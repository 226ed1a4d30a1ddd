"""``auditlog keys tenant|list|narrow|revoke``: API keys for customers (tenant keys) and their lifecycle.

A tenant key reads only one enterprise tenant's events, enforced by Elasticsearch with
document-level security (``indexer.keys``); ``list`` shows the namespace's auditlog keys without
secrets, marking keys that grant more than a new one of their role would (tenant keys made before tenant keys
were narrowed, writer keys made before the roles' version 5 with the class patterns, writer and reader keys made
before version 3 with ``<prefix>-*``); ``narrow`` gives those a new key's privileges in place, secret unchanged;
``revoke``
invalidates keys by id (they get 401 from then on).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable

from elasticsearch import Elasticsearch

from auditlog.core.errors import CommandError, UsageError
from auditlog.core.terminal import shown
from auditlog.indexer import keys
from auditlog.indexer.client import make_client
from auditlog.indexer.errors import cluster_errors
from auditlog.indexer.security import READER, WRITER, security_enabled
from auditlog.options.connection import add_connection_args, settings_from_args
from auditlog.options.lifetime import key_lifetime
from auditlog.options.tiers import add_prefix_arg, tiers_from_args

#: what ``keys narrow`` leaves a key of each role, after "narrowed ID (...): "
NARROWED_TO = {keys.TENANT: "search and point in time only", WRITER: "the daily indices only",
               READER: "the namespace's class patterns only"}

NEEDS = "cluster privilege manage_api_key (or manage_own_api_key) and read on the audit indices"
#: keys on a cluster without security (the plain local node): what it lacks and how to get a node that has it
NO_SECURITY = ("API keys need a cluster with security enabled (xpack.security.enabled: true); this one has none. "
               "For the local node: auditlog es start --secure")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``auditlog keys`` to the root parser."""
    parser = sub.add_parser("keys", help="tenant API keys for customers; list and revoke auditlog keys",
                            description="API keys enforced by Elasticsearch: a tenant key reads only its tenant's "
                                        "enterprise events (document-level security, needs a licence with it).")
    keys_sub = parser.add_subparsers(dest="keys_command", metavar="ACTION", required=True)

    tenant = keys_sub.add_parser("tenant", help="create a key that reads only ORG's enterprise events")
    tenant.add_argument("org", metavar="ORG", type=_tenant, help="the tenant (organization.id)")
    tenant.add_argument("--expires", type=key_lifetime, metavar="TIME", help="lifetime, e.g. 30d (default: never)")
    tenant.add_argument("--force", action="store_true",
                        help="create it even though the tenant's newest event is not on an enterprise tier")
    tenant.add_argument("--json", action="store_true", help="print one JSON object (holds the secret)")
    tenant.set_defaults(func=tenant_command)

    listing = keys_sub.add_parser("list", help="the namespace's auditlog keys (never their secrets)")
    listing.add_argument("--all", action="store_true", help="include revoked keys")
    listing.add_argument("--json", action="store_true", help="print one JSON object per key")
    listing.set_defaults(func=list_command)

    narrow = keys_sub.add_parser(
        "narrow", help="give keys that `list` marks BROADER a new key's privileges (secret unchanged)",
        description="Tenant keys made before their privileges were narrowed still hold read and "
                    "view_index_metadata (term vectors, explain, mappings); writer keys made before the roles' "
                    "version 5 still hold the class patterns (they may auto-create any name under them). This "
                    "updates them in place: id, secret, tenant and metadata stay, whoever holds the key changes "
                    "nothing. It never widens a key, and only the user who made a key may update it. Exit status 1 "
                    "when a key could not be narrowed.")
    narrow.add_argument("ids", nargs="*", metavar="ID", help="only these keys (default: every broader key)")
    narrow.set_defaults(func=narrow_command)

    revoke = keys_sub.add_parser("revoke", help="invalidate keys by id (they get 401 from then on)")
    # Elasticsearch key ids are base64url and may start with '-': auditlog.cli.glue_dash_values hands them
    # to ``ids`` as operands; ``--`` works too.
    revoke.add_argument("ids", nargs="*", metavar="ID", help="key id (from `auditlog keys list`)")
    revoke.set_defaults(func=revoke_command)

    for command in (tenant, listing, narrow, revoke):
        add_connection_args(command)
        add_prefix_arg(command)


def _with_client(args: argparse.Namespace, work: Callable[[Elasticsearch], int]) -> int:
    settings = settings_from_args(args)
    client = make_client(settings, max_retries=0, retry_on_timeout=False)
    try:
        with cluster_errors(settings.url, NEEDS):
            if not security_enabled(client):  # before: Elasticsearch's "no handler found for uri ..." (400)
                raise CommandError(NO_SECURITY)
            try:
                return work(client)
            except keys.KeyRefused as exc:
                raise CommandError(str(exc)) from None
    finally:
        client.close()


def _tenant(text: str) -> str:
    """An argparse type: a non-empty organization id (an empty one made a key that matched nothing)."""
    if not text.strip() or not text.isprintable():
        raise argparse.ArgumentTypeError(f"must be an organization.id, got {text!r}")
    return text


def tenant_command(args: argparse.Namespace) -> int:
    """``auditlog keys tenant ORG``: create a tenant key and print it once."""
    tiers = tiers_from_args(args)

    def work(client: Elasticsearch) -> int:
        key = keys.create_tenant_key(client, tiers, args.org, expiration=args.expires, force=args.force)
        if args.json:
            print(json.dumps({"id": key.id, "name": key.name, "tenant": key.tenant, "encoded": key.encoded,
                              "expires": key.expires}))
            return 0
        until = f", expires {key.expires}" if key.expires else ""
        print(f"tenant key for {key.tenant} (id {key.id}{until}); hand it to the customer's admin, it is shown once:")
        print(f"AUDITLOG_ES_API_KEY={key.encoded}")
        return 0

    return _with_client(args, work)


def list_command(args: argparse.Namespace) -> int:
    """``auditlog keys list``: one line (or JSON object) per key."""
    tiers = tiers_from_args(args)

    def work(client: Elasticsearch) -> int:
        found = keys.list_keys(client, tiers, include_invalidated=args.all)
        for key in found:
            if args.json:
                print(json.dumps(vars(key)))
                continue
            who = f"tenant {key.tenant}" if key.tenant else key.role
            state = "revoked" if key.invalidated else f"expires {key.expires}" if key.expires else "no expiry"
            # a key keeps the descriptor it was made with: say which ones still grant what new ones do not
            broader = f"  BROADER than a new {key.role} key: auditlog keys narrow" \
                if key.broader and not key.invalidated else ""
            # a key's name and tenant are whoever made it chose: one key, one line
            print(shown(f"{key.id}  {who:<24} created {key.created}  {state}  {key.name}{broader}", line_breaks=False))
        if not found and not args.json:
            print(f"no auditlog keys in namespace {tiers.prefix}")
        return 0

    return _with_client(args, work)


def narrow_command(args: argparse.Namespace) -> int:
    """``auditlog keys narrow [ID...]``: one line per broader key, narrowed or why not."""
    tiers = tiers_from_args(args)

    def work(client: Elasticsearch) -> int:
        seen = failed = 0
        for key in keys.narrow_keys(client, tiers, list(args.ids)):  # each line as soon as it is done
            seen, failed = seen + 1, failed + (key.problem is not None)
            who = f" (tenant {key.tenant})" if key.tenant else f" ({key.role})" if key.role in (WRITER, READER) else ""
            # a tenant is whatever the key's maker put in its metadata, a reason what Elasticsearch said: one line
            print(shown(f"narrowed {key.id}{who}: {NARROWED_TO[key.role]}, secret unchanged" if key.problem is None
                        else f"not narrowed {key.id}{who}: {key.problem}", line_breaks=False), flush=True)
        if not seen:
            print(f"no broader keys in namespace {tiers.prefix}")
        return 1 if failed else 0

    return _with_client(args, work)


def revoke_command(args: argparse.Namespace) -> int:
    """``auditlog keys revoke ID...``: invalidate keys.

    Raises:
        UsageError: when no id is given.
    """
    if not args.ids:
        raise UsageError("give at least one key id (from `auditlog keys list`)")

    def work(client: Elasticsearch) -> int:
        now = keys.revoke_keys(client, list(args.ids))
        for key_id in args.ids:
            print(f"revoked {key_id}" if key_id in now else f"{key_id} was already revoked")
        return 0

    return _with_client(args, work)
