"""The agent's pre-flight check: can this configuration ship to this cluster? One line per check.

``auditlog agent check`` runs it, prints every line and exits 1 when one failed; the daemon runs it
at start and logs every line (a failure as an error) and starts anyway: what failed is then
backpressure (lines held, never dead-lettered) until the configuration is fixed and reloaded.
Checks, in order, each depending on the one before:

1. config    the configuration loaded (the caller did it; a bad key never gets here)
2. reach     the node answers HTTP at ``elasticsearch.url``
3. tls       the certificate verified (``https``), not verified (``verify_certs = false``), or plain http
4. auth      ``GET _security/_authenticate`` accepted the credentials (or security is off)
5. privileges ``_has_privileges``: a bulk ``create`` and ``auto_configure`` on every daily index of the
   namespace and, with ``digest.enabled``, on every daily digest index (a key made before digests existed
   lacks those). It asks about the writer role's own regular expressions, which Elasticsearch answers by
   whether the key's names cover all they match: a key of the roles' version 5 holds exactly them, an older
   key the class patterns around them (``audit-enterprise-*``), and both pass; a key made before version 4
   holds ``create_doc`` instead of the create action, which also passes. One daily name (today's) would pass
   a key that may write that day only
6. templates the namespace's index templates exist and no template of a higher priority overrides them for
   new daily indices (``indexer.precedence``; a writer key may not read templates: then "skipped")
7. mappings  the existing daily indices were made from those templates (``indexer.mapped``): one not made from
   them (before setup ran, or through another template) is a warning naming it, its fields' types and what to
   do: the agent ships fine, but tenant keys, sorting or verify miss its events. Reading mappings needs cluster
   privilege ``monitor``, which the writer key does not hold: then "skipped"

Every request has a short timeout and no retries, so a wrong key is reported in well under 5 seconds.
No message ever carries a credential.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from elasticsearch import ApiError, Elasticsearch, SSLError, TransportError
from elasticsearch import ConnectionError as ESConnectionError

from auditlog.core.terminal import shown
from auditlog.indexer.client import ConnectionSettings, safe_url
from auditlog.indexer.errors import ANSWER_ERRORS, describe_answer_error, error_reason
from auditlog.indexer.mapped import find_misshapen
from auditlog.indexer.precedence import shadowed
from auditlog.indexer.security import WRITER_PRIVILEGES
from auditlog.indexer.templates import index_template_name
from auditlog.indexer.tiers import RETENTION_DAYS, TierTable

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"

#: Seconds per request: a human waits for the answer.
TIMEOUT = 4.0


@dataclass(frozen=True)
class CheckResult:
    """One pre-flight check: its name, outcome (ok/warn/fail/skip) and one line saying what was found or what to do."""

    name: str
    outcome: str
    detail: str

    def line(self) -> str:
        """The line ``auditlog agent check`` prints (a line feed in the detail, from a file name, as its escape)."""
        return f"{self.outcome.upper():<4}  {self.name:<10}  {shown(self.detail, line_breaks=False)}"


@dataclass(frozen=True)
class Report:
    """All checks in order."""

    results: tuple[CheckResult, ...]

    @property
    def ok(self) -> bool:
        """No check failed."""
        return all(r.outcome != FAIL for r in self.results)


def _security_off(exc: ApiError) -> bool:
    text = (str(exc.message) + str(exc.body)).lower()
    return exc.meta.status in (400, 404, 405, 410) or (exc.meta.status == 500 and "security" in text)


def check(settings: ConnectionSettings, tiers: TierTable, client_factory: Callable[..., Elasticsearch], *,
          digests: bool = True) -> Report:
    """Run every check against the cluster the settings name.

    Args:
        settings: where and how the agent connects (already validated).
        tiers: the namespace the agent writes into.
        client_factory: ``make_client``-like: builds a client from settings and keyword overrides.
        digests: the agent writes digests (``digest.enabled``): its key needs the digest indices too.

    Returns:
        The report; checks after a failed prerequisite are ``skip``.
    """
    results = [CheckResult("config", OK, f"valid; shipping to {safe_url(settings.url)} as {_auth_kind(settings)}, "
                                         f"namespace {tiers.prefix}")]
    client = client_factory(settings, request_timeout=TIMEOUT, max_retries=0, retry_on_timeout=False)
    try:
        results += _remote_checks(client, settings, tiers, digests)
    except ANSWER_ERRORS as exc:  # an answer of another shape (a proxy's page, another product)
        results += [CheckResult("reach", FAIL, describe_answer_error(exc, url=settings.url)),
                    *_skipped("tls", "auth", "privileges", "templates", "mappings")]
    finally:
        client.close()
    return Report(tuple(results))


def _auth_kind(settings: ConnectionSettings) -> str:
    user = f"user {settings.username!r}" if settings.username else "the user named in the URL"
    return {"api_key": "an API key", "basic": user, "none": "no credentials"}[str(settings.redacted()["auth"])]


def _remote_checks(client: Elasticsearch, settings: ConnectionSettings, tiers: TierTable,
                   digests: bool) -> list[CheckResult]:
    https = settings.url.startswith("https://")
    url = safe_url(settings.url)
    try:
        who: dict[str, Any] | None = dict(client.security.authenticate())
        auth_error: ApiError | None = None
    except SSLError as exc:
        return [CheckResult("reach", OK, f"{url} answers"),
                CheckResult("tls", FAIL, f"certificate not verified ({exc.message}); set elasticsearch.ca_certs "
                                         "(or --ca-certs) to the cluster's CA"),
                *_skipped("auth", "privileges", "templates", "mappings")]
    except ESConnectionError as exc:
        return [CheckResult("reach", FAIL, f"cannot reach {url} ({str(exc.message).splitlines()[0][:160]}); "
                                           "is the cluster up and elasticsearch.url right?"),
                *_skipped("tls", "auth", "privileges", "templates", "mappings")]
    except TransportError as exc:
        return [CheckResult("reach", FAIL, f"{url} failed: {exc.message}"),
                *_skipped("tls", "auth", "privileges", "templates", "mappings")]
    except ApiError as exc:
        who, auth_error = None, exc
    results = [CheckResult("reach", OK, f"{url} answers")]
    if not https:
        results.append(CheckResult("tls", WARN, "plain http: traffic and credentials are not encrypted"))
    elif not settings.verify_certs:
        results.append(CheckResult("tls", WARN, "https without certificate verification (verify_certs = false)"))
    else:
        results.append(CheckResult("tls", OK, "certificate verified"))
    if auth_error is not None:
        status = auth_error.meta.status
        if status == 401:
            what = "API key was" if settings.api_key else "credentials were"
            return [*results, CheckResult("auth", FAIL, f"the {what} rejected (401); create a writer key with "
                                                        "`auditlog setup --api-keys` and set elasticsearch.api_key "
                                                        "(or AUDITLOG_ES_API_KEY)"),
                    *_skipped("privileges", "templates", "mappings")]
        if _security_off(auth_error):
            results += [CheckResult("auth", WARN, "security is off on this cluster: anyone may write and delete"),
                        CheckResult("privileges", SKIP, "security is off")]
            return [*results, _templates(client, tiers), _mappings(client, tiers)]
        return [*results, CheckResult("auth", FAIL, f"authentication failed ({status}): {error_reason(auth_error)}"),
                *_skipped("privileges", "templates", "mappings")]
    assert who is not None
    key = who.get("api_key") or {}
    name = f"API key {key.get('name')!r}" if key else f"user {who.get('username')!r}"
    results.append(CheckResult("auth", OK, f"accepted: {name}"))
    results.append(_privileges(client, tiers, digests))
    return [*results, _templates(client, tiers), _mappings(client, tiers)]


def _lost(name: str, exc: TransportError) -> CheckResult:
    """A check whose request got no answer, after earlier ones did (one of several nodes down, a dropped connection)."""
    first = str(exc.message).splitlines()[0][:160] if str(exc.message) else type(exc).__name__
    return CheckResult(name, FAIL, f"no answer ({first}); is every node of elasticsearch.url up?")


def _skipped(*names: str) -> list[CheckResult]:
    return [CheckResult(name, SKIP, "not checked: an earlier check failed") for name in names]


#: The bulk item's action, and the named privilege older writer keys (roles' version 3 and before) hold for it:
#: ``_has_privileges`` does not count ``create_doc`` as holding the action, though Elasticsearch authorises it.
_CREATE, _LEGACY_CREATE = "indices:data/write/index:op_type/create", "create_doc"


def _privileges(client: Elasticsearch, tiers: TierTable, digests: bool) -> CheckResult:
    """The writer's privileges on every daily events index and, when digests are on, every daily digest index.

    A key made before digests existed holds the events' names only: its events are stored and every digest is
    refused, so without this check tamper evidence would be missing with no line saying why at start.
    """
    # the role's regular expressions, each with the name shape a person reads in the line
    shapes = {tiers.daily_regex(cls): tiers.daily_shape(cls) for cls in RETENTION_DAYS}
    digest_shapes = {tiers.digest_daily_regex(cls): tiers.digest_daily_shape(cls) for cls in RETENTION_DAYS}
    names = [*shapes, *(digest_shapes if digests else ())]
    try:
        answer = client.security.has_privileges(index=[{"names": names,
                                                         "privileges": [*WRITER_PRIVILEGES, _LEGACY_CREATE]}])
    except ApiError as exc:
        return CheckResult("privileges", FAIL, f"_has_privileges failed ({exc.meta.status}): {error_reason(exc)}")
    except TransportError as exc:
        return _lost("privileges", exc)
    granted = answer.get("index", {})
    remedy = f"use a writer key from `auditlog setup --api-keys --prefix {tiers.prefix}`"
    for name in names:
        held = granted.get(name, {})
        missing = [p for p in WRITER_PRIVILEGES if not held.get(p) and not (p == _CREATE and held.get(_LEGACY_CREATE))]
        if not missing:
            continue
        if name in shapes:
            return CheckResult("privileges", FAIL, f"missing {', '.join(missing)} on {shapes[name]}; {remedy}")
        return CheckResult("privileges", FAIL, f"missing {', '.join(missing)} on {digest_shapes[name]}: events are "
                                               f"stored but their digests (tamper evidence) would be refused; "
                                               f"{remedy}, or set digest.enabled = false")
    where = ",".join(shapes.values()) + (f" and {','.join(digest_shapes.values())}" if digests else "")
    return CheckResult("privileges", OK, f"{', '.join(WRITER_PRIVILEGES)} on {where}")


def _templates(client: Elasticsearch, tiers: TierTable) -> CheckResult:
    names = [index_template_name(tiers, cls) for cls in sorted(set(tiers.classes.values()))]
    try:
        missing = [n for n in names if not client.indices.exists_index_template(name=n)]
    except ApiError as exc:
        if exc.meta.status == 403:
            return CheckResult("templates", SKIP, "this key may not read templates (the writer needs no such "
                                                  "privilege); `auditlog setup` reports them")
        return CheckResult("templates", FAIL, f"cannot read templates ({exc.meta.status}): {error_reason(exc)}")
    except TransportError as exc:
        return _lost("templates", exc)
    if missing:
        return CheckResult("templates", FAIL, f"missing {', '.join(missing)}: run `auditlog setup --prefix "
                                              f"{tiers.prefix}` so new daily indices get the audit mappings")
    try:
        overridden = shadowed(client, tiers, datetime.now(UTC).date())
    except ApiError as exc:
        if exc.meta.status == 403:
            return CheckResult("templates", OK, f"{len(names)} index templates installed (whether another template "
                                                "overrides them: this key may not ask; `auditlog setup` does)")
        return CheckResult("templates", FAIL, f"cannot simulate templates ({exc.meta.status}): {error_reason(exc)}")
    except TransportError as exc:
        return _lost("templates", exc)
    if overridden:
        return CheckResult("templates", FAIL, overridden[0].line(len(overridden) - 1))
    return CheckResult("templates", OK, f"{len(names)} index templates installed and applied to new daily indices")


def _mappings(client: Elasticsearch, tiers: TierTable) -> CheckResult:
    """Whether the namespace's existing daily indices were made from our templates (a warning naming those that
    were not: the agent's writes still go in)."""
    try:
        found = find_misshapen(client, tiers)
    except ApiError as exc:
        if exc.meta.status == 403:
            return CheckResult("mappings", SKIP, "this key may not read the indices' mappings (cluster privilege "
                                                 "monitor; the writer needs no such privilege); `auditlog setup` and "
                                                 "`auditlog retention status` report them")
        return CheckResult("mappings", FAIL, f"cannot read index mappings ({exc.meta.status}): {error_reason(exc)}")
    except TransportError as exc:
        return _lost("mappings", exc)
    if found:
        return CheckResult("mappings", WARN, found[0].line(len(found) - 1))
    return CheckResult("mappings", OK, "every existing daily index was made from our templates")
