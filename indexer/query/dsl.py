"""Filter -> Elasticsearch query DSL: pure functions, no I/O.

Every reader of audit events (TUI list, facet counts, histogram, export, ``auditlog show``) builds its
query here, so the same ``Filter`` always selects the same events.

Mapping of the filter's dimensions (field layout = the nested event contract):

* ``tenant``  -> ``term`` on ``organization.id``
* ``workers`` -> ``terms`` on ``user.id``
* ``actions`` -> ``terms`` on ``event.action``
* ``sources`` -> ``terms`` on ``audit.source``
* ``since`` / ``until`` -> ``range`` on ``@timestamp`` (both bounds inclusive, sent in UTC)
* ``text`` -> ``simple_query_string`` over ``TEXT_FIELDS``

All clauses go into ``bool.filter`` (no scoring: the order is always by time). Free text uses
``simple_query_string`` because it never raises on bad syntax (an unbalanced quote or a stray ``+`` is
read literally instead of failing the request); ``lenient`` keeps a word like ``abc`` from failing on
the IP field, every term must match (``default_operator: and``, like a search box), and only the cheap
operators are enabled (no fuzzy/slop/near, which are costly on keyword fields). Text of more than
``MAX_TEXT_TERMS`` words or ``MAX_TEXT_CHARS`` characters is refused (``text_problem`` says why in one
line), so that many words times many fields can never exceed the cluster's clause limit. It used to be
cut to those limits silently: a 65th word was dropped, so the list and the export held events the
search excluded while the export's Metadata named the whole text.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final, Literal

from auditlog.core.contract import F
from auditlog.indexer.query.filter import Filter

#: A JSON object of the query DSL.
Query = dict[str, Any]

#: The filter dimensions a facet can be computed for (see ``indexer.query.facets``).
Dimension = Literal["workers", "actions", "sources"]

#: Document field of each multi-select dimension.
DIMENSION_FIELDS: Final[dict[Dimension, str]] = {
    "workers": F.worker_id,
    "actions": F.action,
    "sources": F.source,
}

TENANT_FIELD: Final = F.tenant
TIME_FIELD: Final = F.timestamp

#: Fields searched by the free-text box. Names, URLs and user agents are keywords with a ``.text``
#: sub-field (the ECS multi-field layout of ``indexer/templates``): the keyword matches a whole value
#: (an id, an e-mail, ``Anna*``), the text sub-field single words ("keller" finds "Anna Keller").
#: Fields a cluster does not map are skipped by Elasticsearch.
TEXT_FIELDS: Final[tuple[str, ...]] = (
    F.message,
    F.worker_name,
    f"{F.worker_name}.text",
    F.worker_email,
    F.worker_id,
    F.tenant_name,
    f"{F.tenant_name}.text",
    F.tenant,
    F.changed_fields,
    F.source,
    F.login_type,
    F.action,
    F.id,
    F.url,
    f"{F.url}.text",
    f"{F.user_agent}.text",
    F.ip,
)

#: ``simple_query_string`` operators users may type: boolean logic, phrases and prefix search.
TEXT_FLAGS: Final = "AND|OR|NOT|PHRASE|PREFIX|PRECEDENCE|WHITESPACE|ESCAPE"

#: Words of free text kept; the rest are dropped (clause limit: words x fields must stay small).
MAX_TEXT_TERMS: Final = 64

#: Characters of free text kept (one long "word" can still split into many tokens on text fields).
MAX_TEXT_CHARS: Final = 512

#: Stable order of every listing: newest first, then the point-in-time's tiebreaker.
#: ``unmapped_type`` keeps an empty or foreign index matched by the read pattern from failing the sort.
SORT: Final[list[dict[str, Any]]] = [
    {TIME_FIELD: {"order": "desc", "unmapped_type": "date"}},
    {"_shard_doc": "asc"},
]


def format_time(value: datetime) -> str:
    """Return ``value`` as an RFC 3339 UTC string with microseconds, as sent in range queries."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def time_range(since: datetime | None, until: datetime | None) -> Query | None:
    """Return the ``range`` clause on ``@timestamp`` (inclusive bounds), or ``None`` when unbounded."""
    bounds: dict[str, str] = {}
    if since is not None:
        bounds["gte"] = format_time(since)
    if until is not None:
        bounds["lte"] = format_time(until)
    if not bounds:
        return None
    return {"range": {TIME_FIELD: {**bounds, "format": "strict_date_optional_time_nanos"}}}


def text_problem(text: str | None) -> str | None:
    """Return why ``text`` cannot be searched as typed (one line for the user), or ``None`` when it can.

    Args:
        text: what the user typed.

    Returns:
        ``None``, or the limit it exceeds and by how much.
    """
    words = (text or "").split()
    chars = len(" ".join(words))
    if len(words) <= MAX_TEXT_TERMS and chars <= MAX_TEXT_CHARS:
        return None
    return (f"search text too long: at most {MAX_TEXT_TERMS} words and {MAX_TEXT_CHARS} characters are searched "
            f"(this has {len(words):,} word{'' if len(words) == 1 else 's'}, {chars:,} characters); shorten it")


def text_query(text: str | None) -> Query | None:
    """Return the free-text clause for ``text``, or ``None`` when it is empty or blank.

    Args:
        text: what the user typed; any string within the limits is safe (see the module docs).

    Returns:
        A ``simple_query_string`` clause.

    Raises:
        ValueError: when ``text`` exceeds ``MAX_TEXT_TERMS`` words or ``MAX_TEXT_CHARS`` characters
            (``text_problem``): cutting it would search for something else than what was asked.
    """
    if text is None:
        return None
    words = text.split()
    if not words:
        return None
    problem = text_problem(text)
    if problem is not None:
        raise ValueError(problem)
    return {
        "simple_query_string": {
            "query": " ".join(words),
            "fields": list(TEXT_FIELDS),
            "default_operator": "and",
            "flags": TEXT_FLAGS,
            "lenient": True,
            "analyze_wildcard": True,
        }
    }


def dimension_clause(flt: Filter, dimension: Dimension) -> Query | None:
    """Return the ``terms`` clause of one multi-select dimension, or ``None`` when nothing is selected."""
    values: tuple[str, ...] = getattr(flt, dimension)
    if not values:
        return None
    return {"terms": {DIMENSION_FIELDS[dimension]: sorted(set(values))}}


def filter_clauses(flt: Filter, *, exclude: Dimension | None = None) -> list[Query]:
    """Return the ``bool.filter`` clauses for ``flt``.

    Args:
        flt: the filter.
        exclude: a dimension to leave out (facet counts of that dimension ignore its own selection).

    Returns:
        The clauses in a fixed order (tenant, time, dimensions, text); empty means "match all".
    """
    clauses: list[Query] = []
    if len(flt.tenants) == 1:
        clauses.append({"term": {TENANT_FIELD: flt.tenants[0]}})
    elif flt.tenants:
        clauses.append({"terms": {TENANT_FIELD: sorted(set(flt.tenants))}})
    rng = time_range(flt.since, flt.until)
    if rng is not None:
        clauses.append(rng)
    for dimension in DIMENSION_FIELDS:
        if dimension == exclude:
            continue
        clause = dimension_clause(flt, dimension)
        if clause is not None:
            clauses.append(clause)
    text = text_query(flt.text)
    if text is not None:
        clauses.append(text)
    return clauses


def build_query(flt: Filter, *, exclude: Dimension | None = None) -> Query:
    """Return the query selecting the events of ``flt``.

    Args:
        flt: the filter.
        exclude: a dimension whose selection is ignored (see ``filter_clauses``).

    Returns:
        A ``bool`` query (``match_all`` when the filter is empty).
    """
    clauses = filter_clauses(flt, exclude=exclude)
    if not clauses:
        return {"match_all": {}}
    return {"bool": {"filter": clauses}}
