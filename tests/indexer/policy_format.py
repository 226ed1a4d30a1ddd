"""The documented ``PUT _ilm/policy`` format, checked over the policy files in ilm_policies/ (test support).

Elasticsearch is the real judge of a policy (tests/integration installs them on a node with ILM where
one runs); this structure check runs without a node, so a malformed file fails in the unit tests.
"""

from __future__ import annotations

import re
from typing import Any

#: ILM time units (``min_age``), from the Elasticsearch "API conventions: time units" page, in seconds.
UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "micros": 1e-6, "nanos": 1e-9}
TIME_VALUE = re.compile(r"^(\d+)(d|h|m|s|ms|micros|nanos)$")

#: The phases of a timeseries policy in execution order, each with the actions Elasticsearch allows in it
#: (the ILM actions reference; ``TimeseriesLifecycleType`` in x-pack core enforces the same table).
ALLOWED_ACTIONS: dict[str, frozenset[str]] = {
    "hot": frozenset({"set_priority", "unfollow", "rollover", "readonly", "downsample", "shrink", "forcemerge",
                      "searchable_snapshot"}),
    "warm": frozenset({"set_priority", "unfollow", "readonly", "downsample", "allocate", "migrate", "shrink",
                       "forcemerge"}),
    "cold": frozenset({"set_priority", "unfollow", "readonly", "downsample", "searchable_snapshot", "allocate",
                       "migrate", "freeze"}),
    "frozen": frozenset({"unfollow", "searchable_snapshot"}),
    "delete": frozenset({"wait_for_snapshot", "delete"}),
}

#: Hot-phase actions Elasticsearch only accepts together with ``rollover``.
HOT_ACTIONS_NEEDING_ROLLOVER = frozenset({"readonly", "shrink", "forcemerge", "downsample", "searchable_snapshot"})



def policy_problems(body: Any) -> list[str]:
    """Check one policy body against the documented ``PUT _ilm/policy`` format.

    Args:
        body: the parsed file.

    Returns:
        Problems as "where: what" strings; empty when the body is well-formed.
    """
    if not isinstance(body, dict) or set(body) != {"policy"}:
        return ["body: must be an object with exactly one key 'policy'"]
    policy = body["policy"]
    if not isinstance(policy, dict):
        return ["policy: must be an object"]
    problems = [f"policy.{key}: unknown key" for key in policy if key not in {"phases", "_meta"}]
    phases = policy.get("phases")
    if not isinstance(phases, dict) or not phases:
        return [*problems, "policy.phases: must be a non-empty object"]
    for phase, spec in phases.items():
        where = f"policy.phases.{phase}"
        if phase not in ALLOWED_ACTIONS:
            problems.append(f"{where}: unknown phase")
            continue
        if not isinstance(spec, dict):
            problems.append(f"{where}: must be an object")
            continue
        problems += [f"{where}.{key}: unknown key" for key in spec if key not in {"min_age", "actions"}]
        min_age = spec.get("min_age", "0ms")
        if not isinstance(min_age, str) or not TIME_VALUE.match(min_age):
            problems.append(f"{where}.min_age: not a time value: {min_age!r}")
        actions = spec.get("actions")
        if not isinstance(actions, dict):
            problems.append(f"{where}.actions: must be an object")
            continue
        problems += [f"{where}.actions.{name}: not allowed in {phase}" for name in actions
                     if name not in ALLOWED_ACTIONS[phase]]
        problems += [f"{where}.actions.{name}: must be an object" for name, arg in actions.items()
                     if not isinstance(arg, dict)]
        if phase == "hot" and "rollover" not in actions:
            problems += [f"{where}.actions.{name}: needs rollover in the hot phase" for name in actions
                         if name in HOT_ACTIONS_NEEDING_ROLLOVER]
        if phase == "frozen" and "searchable_snapshot" not in actions:
            problems.append(f"{where}.actions: the frozen phase needs searchable_snapshot")
    return problems + _age_order_problems(phases)


def _seconds(value: object) -> float | None:
    match = TIME_VALUE.match(value) if isinstance(value, str) else None
    return int(match.group(1)) * UNITS[match.group(2)] if match else None


def _age_order_problems(phases: dict[str, Any]) -> list[str]:
    """Later phases may not start before earlier ones (Elasticsearch rejects such policies)."""
    problems = []
    latest: tuple[str, float] | None = None
    for phase in ALLOWED_ACTIONS:  # dict order = execution order
        spec = phases.get(phase)
        age = _seconds(spec.get("min_age", "0ms")) if isinstance(spec, dict) else None
        if age is None or age == 0:
            continue  # an unset (zero) min_age is not compared, as in Elasticsearch
        if latest is not None and age < latest[1]:
            problems.append(f"policy.phases.{phase}.min_age: earlier than the {latest[0]} phase's")
        else:
            latest = (phase, age)
    return problems


