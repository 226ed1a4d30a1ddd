"""``auditlog setup`` and ``auditlog retention status|enforce``: the Elasticsearch admin's commands.

Every failure to talk to the cluster becomes one line and exit status 1 (``CommandError``):
unreachable, authentication failed (401), missing privilege (403, naming what the action needs),
or any other refusal. Bad flags exit 2 (``UsageError``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from elasticsearch import Elasticsearch

from auditlog.core.errors import CommandError, UsageError
from auditlog.core.terminal import shown
from auditlog.indexer import ahead, mapped, retention
from auditlog.indexer.client import make_client
from auditlog.indexer.errors import cluster_errors
from auditlog.indexer.ilm import digest_policy_requests, policy_requests
from auditlog.indexer.kibana import KibanaError, KibanaSettings, load_objects
from auditlog.indexer.query.timespec import in_calendar
from auditlog.indexer.security import roles_yml
from auditlog.indexer.setup import SecurityStoreError, SetupError, run_setup
from auditlog.indexer.templates import MappingFeatures, render_all, render_digest_templates
from auditlog.indexer.tiers import RETENTION_DAYS, TierTable
from auditlog.options.connection import add_connection_args, settings_from_args
from auditlog.options.lifetime import key_lifetime
from auditlog.options.secrets import flag_warning, warn_stderr
from auditlog.options.tiers import add_prefix_arg, tiers_from_args

#: What each command needs, named in the message when a privilege is missing.
NEEDS = {
    "setup": "cluster privileges monitor + manage_index_templates (+ manage_ilm with ILM, manage_security with "
    "security) and index privileges create_index + manage on the audit indices",
    "retention status": "cluster privilege monitor (+ read_ilm with ILM) and index privilege monitor on the audit "
    "indices",
    "retention enforce": "cluster privileges monitor + manage_index_templates and index privileges monitor + "
    "delete_index + create_index on the audit indices",
}


PRINTABLE = ("template", "policies", "kibana", "roles")


def printable(what: str, tiers: TierTable, *, minimal: bool = False, replicas: dict[str, int] | None = None) -> str:
    """Render what ``auditlog setup`` installs, without a cluster (like ``filebeat export``).

    Args:
        what: ``template`` and ``policies`` give Kibana Dev Tools requests (``PUT path`` + JSON body),
            ``kibana`` the saved objects as ndjson, ``roles`` a file-realm ``roles.yml``.
        tiers: the namespace.
        minimal: render the templates for the minimal distribution (no ILM, no ECS-only field types)
            instead of the default distribution.
        replicas: ``number_of_replicas`` per class fixed in the index templates (``--replicas``); a class
            without one keeps the auto-expanded ``0-1`` (setup fixes it from the cluster's data nodes).

    Returns:
        The text, ending in a newline.
    """
    if what == "roles":
        return roles_yml(tiers)
    if what == "kibana":
        return "".join(json.dumps(obj, ensure_ascii=False) + "\n" for obj in load_objects(tiers))
    if what == "policies":  # the events' policies, then the digests' (kept a day longer)
        requests = [(f"_ilm/policy/{r.name}", r.body) for r in policy_requests(tiers) + digest_policy_requests(tiers)]
    else:  # components, the events' index templates, the digests' index templates: what setup installs
        features = MappingFeatures() if minimal else MappingFeatures.ecs()
        templates = render_all(tiers, ilm=not minimal, features=features, replicas=replicas) + \
            render_digest_templates(tiers, ilm=not minimal, replicas=replicas)
        requests = [(f"_{t.kind}_template/{t.name}", t.body) for t in templates]
    return "\n".join(f"PUT {path}\n{json.dumps(body, indent=2, ensure_ascii=False)}\n" for path, body in requests)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add these subcommands to the root parser."""
    setup = sub.add_parser(
        "setup",
        help="install index templates, ILM policies and roles (idempotent)",
        description="Install what the audit indices need: ILM delete policies (where the cluster has ILM), "
        "component and index templates per retention class, and writer/reader roles (where security is on). "
        "Safe to run again: unchanged objects are left alone, older versions are upgraded.",
    )
    add_connection_args(setup)
    add_prefix_arg(setup)
    setup.add_argument("--api-keys", action="store_true",
                       help="also create a writer (agent) and a reader (TUI/export) API key and print them")
    setup.add_argument("--key-expiration", metavar="TIME", type=key_lifetime,
                       help="lifetime of the new API keys, e.g. 90d or 12h (default: none)")
    kibana = setup.add_argument_group("kibana")
    kibana.add_argument("--kibana", metavar="URL", help="import the data view, saved search and dashboard into Kibana")
    kibana.add_argument("--kibana-api-key", metavar="KEY",
                        help="Kibana credentials: an Elasticsearch API key (shows in ps: prefer env "
                             "AUDITLOG_KIBANA_API_KEY)")
    kibana.add_argument("--kibana-user", metavar="NAME", help="Kibana basic-auth user (env AUDITLOG_KIBANA_USERNAME)")
    kibana.add_argument("--kibana-password", metavar="PW",
                        help="Kibana basic-auth password (shows in ps: prefer env AUDITLOG_KIBANA_PASSWORD)")
    kibana.add_argument("--kibana-space", metavar="SPACE",
                        help="Kibana space to import into (default: the default space)")
    kibana.add_argument("--kibana-ca-certs", metavar="FILE", help="CA bundle for an https Kibana")
    setup.add_argument("--replicas", metavar="CLASS=N", action="append", type=_parse_replicas, default=[],
                       help="fix number_of_replicas of one retention class (enterprise, business, professional); "
                            "repeatable; default per class: 0 on one data node, 1 with two or more")
    setup.add_argument("--json", action="store_true", help="print the report as one JSON object")
    setup.add_argument("--print", dest="print_what", choices=PRINTABLE, metavar="WHAT",
                       help="print what setup would install and exit, no cluster needed: template (component "
                       "and index templates of events and digests, default distribution; replicas auto-expanded "
                       "0-1 unless --replicas) or policies (ILM) as Dev Tools requests, "
                       "kibana (saved objects, ndjson), roles (file-realm roles.yml)")
    setup.add_argument("--minimal-cluster", action="store_true",
                       help="with --print template: for a cluster without ILM, match_only_text and wildcard "
                       "(the minimal test distribution; default: the default distribution)")
    setup.add_argument("--print-roles", action="store_true", help="the same as --print roles")
    setup.set_defaults(func=run_setup_command)

    ret = sub.add_parser("retention", help="show or enforce per-tier retention of the audit indices",
                         description="Retention by the date in each daily index's name: enterprise 30 d, "
                         "business/whitelabel 7 d, professional/flatrate/basic 3 d.")
    ret_sub = ret.add_subparsers(dest="retention_command", metavar="ACTION", required=True)
    status = ret_sub.add_parser(
        "status", help="per class: indices, oldest day, docs, bytes, next deletion, who deletes"
    )
    enforce = ret_sub.add_parser(
        "enforce", help="delete indices older than their class's retention (for clusters without ILM, or audits)"
    )
    enforce.add_argument("--dry-run", action="store_true", help="only list what would be deleted")
    for parser in (status, enforce):
        add_connection_args(parser)
        add_prefix_arg(parser)
        parser.add_argument("--now", metavar="TIME", type=_parse_now,
                            help="evaluate as of this RFC 3339 time or date instead of now (audits, tests)")
        parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    status.set_defaults(func=retention_status_command)
    enforce.set_defaults(func=retention_enforce_command)


def _parse_replicas(value: str) -> tuple[str, int]:
    cls, sep, number = value.partition("=")
    if not sep or cls not in RETENTION_DAYS or not (number.isascii() and number.isdigit()) or int(number) > 9:
        raise argparse.ArgumentTypeError(
            f"not CLASS=N with CLASS one of {', '.join(RETENTION_DAYS)} and N 0-9: {value!r}")
    return cls, int(number)


def _parse_now(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an RFC 3339 time or date: {value!r}") from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if not in_calendar(moment, timedelta(days=NOW_EDGE_DAYS)):  # retention counts days on from it
        raise argparse.ArgumentTypeError(f"out of range: {value!r} (it must be {NOW_EDGE_DAYS} days or more "
                                         "from the calendar's ends, years 1 and 9999)")
    return moment


#: room --now leaves to the calendar's ends: the retention and ahead checks count days from it
NOW_EDGE_DAYS = 400




def _with_client(args: argparse.Namespace, action: str, work: Callable[[Elasticsearch], int]) -> int:
    settings = settings_from_args(args)
    # One attempt: a human is waiting for "unreachable", not for three retries.
    client = make_client(settings, max_retries=0, retry_on_timeout=False)
    try:
        with cluster_errors(settings.url, NEEDS[action]):
            return work(client)
    finally:
        client.close()


def _kibana_settings(args: argparse.Namespace) -> KibanaSettings | None:
    if not args.kibana:
        return None
    env = os.environ
    for value, flag, var in ((args.kibana_api_key, "--kibana-api-key", "AUDITLOG_KIBANA_API_KEY"),
                             (args.kibana_password, "--kibana-password", "AUDITLOG_KIBANA_PASSWORD")):
        if value is not None:
            warn_stderr(flag_warning(flag, var, None))
    try:
        return KibanaSettings(
            url=args.kibana,
            api_key=args.kibana_api_key or env.get("AUDITLOG_KIBANA_API_KEY") or None,
            username=args.kibana_user or env.get("AUDITLOG_KIBANA_USERNAME") or None,
            password=args.kibana_password or env.get("AUDITLOG_KIBANA_PASSWORD") or None,
            space=args.kibana_space,
            ca_certs=args.kibana_ca_certs,
            verify_certs=not args.es_insecure,
        )
    except ValueError as exc:
        raise UsageError(f"--kibana: {exc}") from None


def run_setup_command(args: argparse.Namespace) -> int:
    """``auditlog setup``: print one line per object and what happened to it.

    Exit 1 when setup held something back (a day not created ahead: each a warning on stderr), after doing
    everything else. An existing daily index not made from our templates is a warning too, but exit 0: setup held
    nothing back, and a deployment that runs setup before starting its agents (docker-compose.yml) must not stop
    shipping over a past day's mappings (``--json`` lists them under ``misshapen`` for scripts).
    """
    tiers = tiers_from_args(args)
    what = "roles" if args.print_roles else args.print_what
    # flags that would do nothing here: say so instead of silently ignoring them
    if args.minimal_cluster and what != "template":
        raise UsageError("--minimal-cluster: applies to --print template only")
    if args.replicas and what not in (None, "template"):
        raise UsageError("--replicas: applies to setup and --print template only")
    if args.key_expiration and not args.api_keys:
        raise UsageError("--key-expiration: applies to the keys --api-keys creates; add --api-keys")
    if not args.kibana:
        for flag in ("kibana_api_key", "kibana_user", "kibana_password", "kibana_space", "kibana_ca_certs"):
            if getattr(args, flag):
                raise UsageError(f"--{flag.replace('_', '-')}: applies to the import --kibana URL asks for; "
                                 "add --kibana")
    if what:
        print(printable(what, tiers, minimal=args.minimal_cluster, replicas=dict(args.replicas) or None), end="")
        return 0
    kibana = _kibana_settings(args)

    def work(client: Elasticsearch) -> int:
        try:
            report = run_setup(client, tiers, api_keys=args.api_keys, key_expiration=args.key_expiration,
                               kibana=kibana, replicas=dict(args.replicas))
        except (SetupError, SecurityStoreError, KibanaError) as exc:
            raise CommandError(str(exc)) from None
        made = ahead.create_ahead(client, tiers, datetime.now(UTC))
        created = [i for i in made if i.outcome == ahead.CREATED]
        refused = [i for i in made if i.outcome == ahead.REFUSED]
        _warn_not_ahead(refused)
        # after installing: an index made before setup (or through another template) keeps its dynamic mappings
        misshapen = mapped.find_misshapen(client, tiers)
        _warn_misshapen(misshapen)
        if args.json:
            document: dict[str, object] = {
                "changed": report.changed or bool(created),
                "changes": [vars(c) for c in report.changes],
                "notes": report.notes,
                "replicas": [vars(c) for c in report.replicas],
                "api_keys": [vars(k) for k in report.api_keys],
                "created_ahead": [i.name for i in created],
                "refused_ahead": _refused_json(refused),
                "misshapen": _misshapen_json(misshapen),
            }
            # the keys by role, so a deployment script can take `.writer.encoded` for the agent
            document.update({k.role: {"id": k.id, "name": k.name, "encoded": k.encoded} for k in report.api_keys})
            print(json.dumps(document))
            return 1 if refused else 0
        for choice in report.replicas:
            print(f"{'replicas':<10} {choice}")
        for change in report.changes:
            print(change)
        for index in created:
            print(f"daily index {index.name}: created ahead")
        for note in report.notes:
            print(f"note: {note}")
        for key in report.api_keys:
            consumer = "agent" if key.role == "writer" else "TUI/export"
            print(f"{key.role} API key for the {consumer} (shown once, id {key.id}): {key.env_line}")
        return 1 if refused else 0

    return _with_client(args, "setup", work)


def _human_bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{count} B"  # unreachable: the loop returns at TiB


def _warn_unreadable(inventory: retention.Inventory) -> None:
    for item in inventory.unreadable:
        name = shown(item.name, line_breaks=False)
        print(f"warning: index {name}: {item.reason}; it is never deleted by retention, check and delete it by hand",
              file=sys.stderr)


def _unreadable_json(inventory: retention.Inventory) -> list[dict[str, str]]:
    return [{"index": u.name, "reason": u.reason} for u in inventory.unreadable]


def _warn_blocked(blocked: list[retention.Blocked], due: bool) -> None:
    for item in blocked:
        name = shown(item.name, line_breaks=False)
        what = "is due but was not deleted" if due else "cannot be deleted by retention when it is due"
        print(f"warning: index {name} {what}: {item.reason}; remove the block (or delete it by hand) once it may go",
              file=sys.stderr)


def _warn_not_ahead(made: list[ahead.AheadIndex]) -> None:
    for item in made:
        if item.problem is not None:
            # the problem names what holds the day's name (an alias's index, a data stream's backing indices):
            # Elasticsearch allows a line feed in an index name, which must not start a line of its own
            print(f"warning: daily index {item.name} not created ahead: {shown(item.problem, line_breaks=False)}",
                  file=sys.stderr)


def _warn_misshapen(found: list[mapped.Misshapen]) -> None:
    for item in found:
        print(f"warning: {shown(item.line(), line_breaks=False)}", file=sys.stderr)


def _misshapen_json(found: list[mapped.Misshapen]) -> list[dict[str, object]]:
    return [{"index": m.index, "fields": [{"field": f, "type": t, "expected": e} for f, t, e in m.wrong],
             "reason": m.line()} for m in found]


def _refused_json(refused: list[ahead.AheadIndex]) -> list[dict[str, str]]:
    return [{"index": i.name, "reason": i.detail} for i in refused]


def _blocked_json(blocked: list[retention.Blocked]) -> list[dict[str, str]]:
    return [{"index": b.name, "reason": b.reason} for b in blocked]


def retention_status_command(args: argparse.Namespace) -> int:
    """``auditlog retention status``: one row per retention class, a warning per unusable index name and per
    daily index not made from our templates (``indexer.mapped``); exit 0, it only reports."""
    tiers = tiers_from_args(args)

    def work(client: Elasticsearch) -> int:
        now = args.now or datetime.now(UTC)
        inventory = retention.scan(client, tiers)
        rows = retention.status(client, tiers, now, inventory=inventory)
        _warn_unreadable(inventory)
        _warn_blocked(inventory.blocked, due=False)
        misshapen = mapped.find_misshapen(client, tiers)
        _warn_misshapen(misshapen)
        if args.json:
            print(json.dumps({"now": now.isoformat(), "classes": [r.as_dict() for r in rows],
                              "unreadable": _unreadable_json(inventory), "blocked": _blocked_json(inventory.blocked),
                              "misshapen": _misshapen_json(misshapen)}))
            return 0
        header = ("CLASS", "KEEP", "INDICES", "OLDEST", "DOCS", "SIZE", "NEXT DELETION (UTC)", "DELETED BY")
        table = [header]
        for r in rows:
            due = "-" if r.next_due is None else r.next_due.strftime("%Y-%m-%d %H:%M")
            if r.overdue:
                due += f" ({r.overdue} overdue)"
            table.append((r.retention_class, f"{r.retention_days}d", str(r.indices),
                          r.oldest_day.isoformat() if r.oldest_day else "-", str(r.docs), _human_bytes(r.bytes),
                          due, r.managed_by))
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]
        for row in table:
            print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        return 0

    return _with_client(args, "retention status", work)


def _enforced_line(verb: str, index: retention.DailyIndex) -> str:
    return f"{verb} {index.name} ({index.retention_class}, {index.docs} docs, due {index.due:%Y-%m-%d %H:%M} UTC)"


def retention_enforce_command(args: argparse.Namespace) -> int:
    """``auditlog retention enforce``: delete (or with ``--dry-run`` list) the expired indices, then create
    today's and tomorrow's daily indices ahead (``indexer.ahead``)."""
    tiers = tiers_from_args(args)

    def work(client: Elasticsearch) -> int:
        now = args.now or datetime.now(UTC)
        inventory = retention.scan(client, tiers)
        deleted: list[retention.DailyIndex] = []

        def said(chunk: list[retention.DailyIndex]) -> None:  # as each chunk goes: a later failure hides nothing
            deleted.extend(chunk)
            if not args.json:
                for index in chunk:
                    print(_enforced_line("deleted", index))

        try:
            due = retention.enforce(client, tiers, now, dry_run=args.dry_run, inventory=inventory, on_deleted=said)
        except BaseException:
            if deleted:
                names = ", ".join(i.name for i in deleted[:5]) + (", ..." if len(deleted) > 5 else "")
                print(f"deleted {len(deleted)} expired {'index' if len(deleted) == 1 else 'indices'} before the "
                      f"failure: {names}", file=sys.stderr)
            raise
        made = ahead.create_ahead(client, tiers, now, dry_run=args.dry_run)
        _warn_unreadable(inventory)
        # overdue, kept by a block: every other index went, and a nonzero exit tells the timer unit
        held = retention.overdue_blocked(inventory, tiers, now)
        _warn_blocked(held, due=True)
        verb = "would delete" if args.dry_run else "deleted"
        create_verb = "would create ahead" if args.dry_run else "created ahead"
        created = [i.name for i in made if i.outcome == ahead.CREATED]
        _warn_not_ahead(made)
        refused = [i for i in made if i.outcome == ahead.REFUSED]
        if args.json:
            print(json.dumps({"dry_run": args.dry_run, "now": now.isoformat(), verb.replace(" ", "_"): [
                {"index": i.name, "class": i.retention_class, "day": i.day.isoformat(), "docs": i.docs,
                 "due": i.due.isoformat()} for i in due], create_verb.replace(" ", "_"): created,
                "unreadable": _unreadable_json(inventory), "blocked": _blocked_json(held),
                "refused_ahead": _refused_json(refused)}))
            return 1 if held or refused else 0
        if args.dry_run:  # deleted ones were said as they went
            for index in due:
                print(_enforced_line(verb, index))
        print(f"{verb} {len(due)} expired {'index' if len(due) == 1 else 'indices'}")
        for name in created:
            print(f"{create_verb} {name}")
        return 1 if held or refused else 0

    return _with_client(args, "retention enforce", work)
