"""The status policy: every answer has exactly one documented action, and the docs show the code's table."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditlog.agent.responses import ITEM, NO_ANSWER, POLICY, REQUEST, Action, decide, render_markdown


def test_docs_show_the_policy_table_of_the_code(repo_root: Path) -> None:
    """docs/agent.md contains the table rendered from POLICY, verbatim."""
    assert render_markdown() in (repo_root / "docs" / "agent.md").read_text()


@pytest.mark.parametrize(("scope", "status", "error", "expected"), [
    (REQUEST, NO_ANSWER, None, (Action.RETRY, "")),
    (REQUEST, 413, "", (Action.SPLIT, "")),
    (REQUEST, 403, {"type": "cluster_block_exception"}, (Action.BACKPRESSURE, "cluster_block")),
    (REQUEST, 401, {"type": "security_exception"}, (Action.BACKPRESSURE, "unauthorized")),
    (REQUEST, 403, {"type": "security_exception"}, (Action.BACKPRESSURE, "unauthorized")),
    (REQUEST, 404, None, (Action.BACKPRESSURE, "not_found")),
    (REQUEST, 408, None, (Action.RETRY, "")),
    (REQUEST, 429, None, (Action.RETRY, "")),
    (REQUEST, 503, None, (Action.RETRY, "")),
    (REQUEST, 400, {"type": "parse_exception"}, (Action.SPLIT, "")),
    (ITEM, 201, None, (Action.SHIPPED, "")),
    (ITEM, 409, {"type": "version_conflict_engine_exception"}, (Action.DELIVERED, "")),
    (ITEM, 403, {"type": "cluster_block_exception"}, (Action.BACKPRESSURE, "cluster_block")),
    (ITEM, 429, {"type": "cluster_block_exception"}, (Action.BACKPRESSURE, "cluster_block")),
    (ITEM, 400, {"type": "validation_exception", "reason": "this action would add [2] shards, but this cluster "
                 "currently has [2]/[1] maximum normal shards open;"}, (Action.BACKPRESSURE, "shard_limit")),
    (ITEM, 404, {"type": "index_not_found_exception"}, (Action.BACKPRESSURE, "index_missing")),
    (ITEM, 403, {"type": "security_exception"}, (Action.BACKPRESSURE, "unauthorized")),
    (ITEM, 429, {"type": "es_rejected_execution_exception"}, (Action.RETRY, "")),
    (ITEM, 503, {"type": "unavailable_shards_exception"}, (Action.RETRY, "")),
    (ITEM, 400, {"type": "validation_exception", "reason": "other"}, (Action.DEAD_LETTER, "")),
    (ITEM, 400, {"type": "document_parsing_exception"}, (Action.DEAD_LETTER, "")),
    (ITEM, 302, None, (Action.DEAD_LETTER, "")),
])
def test_decide(scope: str, status: int, error: object, expected: tuple[Action, str]) -> None:
    """Each kind of answer gets the action (and backpressure cause) the table promises."""
    rule = decide(scope, status, error)
    assert (rule.action, rule.cause) == expected


def test_every_rule_is_reachable() -> None:
    """No rule is shadowed by an earlier one: each matches an answer built from its own fields."""
    shadowed = []
    for rule in POLICY:
        special = {"no answer": NO_ANSWER, "any": 302}
        status = special[rule.status] if rule.status in special else int(
            rule.status.split(",")[0].strip().replace("xx", "00"))
        error = {"type": rule.error_type or "x", "reason": rule.reason_contains}
        if decide(rule.scope, status, error) is not rule:
            shadowed.append(rule.why)
    assert shadowed == []
