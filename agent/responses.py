"""What the sink does with each answer Elasticsearch (or a proxy in front of it) gives: the status policy.

:data:`POLICY` is the one table: ``docs/agent.md`` shows it as rendered by :func:`render_markdown`, and a
test checks the two agree. Rules are tried in order, first match wins; every answer matches some rule.

The principle: a problem of *one document* (a mapping conflict, a value Elasticsearch refuses) is that
document's dead letter; a problem of the *cluster or the connection* (a write block, the shard limit,
credentials, a missing index, a wrong URL) says nothing about the documents, so it is backpressure:
the items are held and retried with the same capped backoff as 429/5xx, a loud log line and a metric
say why, and reading pauses once the in-flight batches are full. Nothing is dead-lettered en masse
because of the cluster's state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Action(StrEnum):
    """What happens to the items an answer covers."""

    SHIPPED = "shipped"
    DELIVERED = "delivered"
    RETRY = "retry"
    BACKPRESSURE = "backpressure"
    SPLIT = "split"
    DEAD_LETTER = "dead-letter"


#: ``scope`` of a rule: an answer to the whole bulk request, or one item of a bulk response.
REQUEST, ITEM = "request", "item"

#: status given to a request that got no HTTP answer at all (refused, reset, timed out).
NO_ANSWER = 0


def _statuses(spec: str) -> Callable[[int], bool]:
    """Turn ``"2xx"``, ``"409"``, ``"401, 403"``, ``"any"`` or ``"no answer"`` into a predicate."""
    if spec == "any":
        return lambda s: True
    if spec == "no answer":
        return lambda s: s == NO_ANSWER
    ranges: list[range] = []
    for part in spec.split(","):
        part = part.strip()
        if part.endswith("xx"):
            lo = int(part[0]) * 100
            ranges.append(range(lo, lo + 100))
        else:
            ranges.append(range(int(part), int(part) + 1))
    return lambda s: any(s in r for r in ranges)


@dataclass(frozen=True)
class Rule:
    """One row of the policy: which answers it matches, what the sink does and why."""

    scope: str
    status: str
    action: Action
    why: str
    error_type: str = ""
    reason_contains: str = ""
    #: metric label for backpressure (``auditlog_agent_backpressure_total{cause}``).
    cause: str = ""
    _match: Callable[[int], bool] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_match", _statuses(self.status))
        if (self.action is Action.BACKPRESSURE) != bool(self.cause):
            raise ValueError("a backpressure rule names its cause, no other rule does")

    def matches(self, scope: str, status: int, error_type: str, reason: str) -> bool:
        """True when an answer of ``status`` with this error type and reason falls under the rule."""
        return (scope == self.scope and self._match(status)
                and (not self.error_type or error_type == self.error_type)
                and (not self.reason_contains or self.reason_contains in reason))


POLICY: tuple[Rule, ...] = (
    # -- one answer for the whole bulk request -----------------------------------------------------
    Rule(REQUEST, "no answer", Action.RETRY, "connection refused or reset, timeout: the node is away"),
    Rule(REQUEST, "413", Action.SPLIT,
         "body over `http.max_content_length` (or a proxy's limit): send each half on its own, down to one "
         "document; one document alone over the limit is dead-lettered"),
    Rule(REQUEST, "403", Action.BACKPRESSURE, "cluster read-only (`cluster.blocks.read_only`)",
         error_type="cluster_block_exception", cause="cluster_block"),
    Rule(REQUEST, "401, 403", Action.BACKPRESSURE,
         "wrong, expired or rotated credentials, a key without the writer role", cause="unauthorized"),
    Rule(REQUEST, "404", Action.BACKPRESSURE, "wrong URL path (a proxy in front of the node)",
         cause="not_found"),
    Rule(REQUEST, "408, 429, 5xx", Action.RETRY, "node busy, restarting or failing over"),
    Rule(REQUEST, "4xx", Action.SPLIT,
         "the body was refused as a whole (e.g. 400): halves isolate the document that causes it, which "
         "is dead-lettered with the reason"),
    # -- one item of a bulk response ---------------------------------------------------------------
    Rule(ITEM, "2xx", Action.SHIPPED, "created"),
    Rule(ITEM, "409", Action.DELIVERED,
         "already in Elasticsearch (a re-send): delivered, unless the agent sent this `event.id` with "
         "other content, then dead-lettered as `id_conflict`"),
    Rule(ITEM, "any", Action.BACKPRESSURE,
         "`index.blocks.write`, read-only index, flood-stage disk watermark (403 or 429)",
         error_type="cluster_block_exception", cause="cluster_block"),
    Rule(ITEM, "400", Action.BACKPRESSURE, "a new daily index would exceed `cluster.max_shards_per_node`",
         error_type="validation_exception", reason_contains="shards open", cause="shard_limit"),
    Rule(ITEM, "404", Action.BACKPRESSURE, "index missing and not auto-created (`action.auto_create_index`)",
         error_type="index_not_found_exception", cause="index_missing"),
    Rule(ITEM, "401, 403", Action.BACKPRESSURE, "the key may not write this index (role, prefix)",
         cause="unauthorized"),
    Rule(ITEM, "429, 5xx", Action.RETRY, "rejected execution (queue full), shard unavailable"),
    Rule(ITEM, "4xx", Action.DEAD_LETTER,
         "this document is refused (mapping conflict, value out of range...): dead letter with "
         "Elasticsearch's reason"),
    Rule(ITEM, "any", Action.DEAD_LETTER, "anything else: dead letter with the status and reason"),
)


def error_fields(error: Any) -> tuple[str, str]:
    """Return (type, reason) of an Elasticsearch error object (or whatever stands in its place)."""
    if isinstance(error, dict):
        inner = error.get("error", error)
        if isinstance(inner, dict):
            return str(inner.get("type", "")), str(inner.get("reason", ""))
        return "", str(inner)
    return "", "" if error is None else str(error)


def decide(scope: str, status: int, error: Any = None) -> Rule:
    """Return the first rule of :data:`POLICY` that matches an answer.

    Args:
        scope: :data:`REQUEST` or :data:`ITEM`.
        status: the HTTP status (:data:`NO_ANSWER` when there was none).
        error: Elasticsearch's error object for that answer, if any.

    Returns:
        The matching rule (the table ends with catch-alls, so there always is one).
    """
    error_type, reason = error_fields(error)
    for rule in POLICY:
        if rule.matches(scope, status, error_type, reason):
            return rule
    raise LookupError(f"no rule for {scope} {status} {error_type}")  # unreachable: catch-alls above


def render_markdown() -> str:
    """Return :data:`POLICY` as the Markdown table that ``docs/agent.md`` shows."""
    rows = ["| answer | status | error type | action | when |", "|---|---|---|---|---|"]
    for r in POLICY:
        kind = r.error_type and f"`{r.error_type}`"
        if r.reason_contains:
            kind += f" with \"{r.reason_contains}\""
        action = r.action.value + (f" (`{r.cause}`)" if r.cause else "")
        rows.append(f"| {r.scope} | {r.status} | {kind or 'any'} | {action} | {r.why} |")
    return "\n".join(rows) + "\n"
