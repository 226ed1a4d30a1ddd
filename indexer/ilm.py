"""ILM: detect whether the cluster has index lifecycle management and install our delete policies.

The policies are files, one per retention class, in ``ilm_policies/audit-<class>.json``: each is
exactly the body of ``PUT _ilm/policy/<name>``, so an admin can also install them by hand
(``curl -XPUT .../_ilm/policy/audit-enterprise -d @ilm_policies/audit-enterprise.json``).
Policy names follow the index namespace: ``<prefix>-<class>``.

Detection: the default distribution ships ILM as the ``x-pack-ilm`` module; the minimal distribution
used in tests has no ILM at all (``GET _ilm/status`` answers 400 "no handler found" and
``index.lifecycle.name`` is an unknown setting). We read the local node's modules and plugins from
``GET _nodes/_local/plugins`` and, when the credentials may not read node info, fall back to
``GET _ilm/status``. Without ILM, deletion is done by ``auditlog retention enforce``.
"""

from __future__ import annotations

import copy
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from elasticsearch import ApiError, Elasticsearch

from auditlog.indexer.integrity import DIGEST_EXTRA_DAYS
from auditlog.indexer.templates import digest_name, policy_name
from auditlog.indexer.tiers import RETENTION_DAYS, TierTable


def _policy_dir() -> Path:
    # A checkout (or editable install) has them at the top level (ARCHITECTURE.md); a wheel installs
    # the same files as data under <prefix>/share/auditlog/ilm_policies (pyproject's data-files).
    checkout = Path(__file__).resolve().parents[1] / "ilm_policies"
    return checkout if checkout.is_dir() else Path(sys.prefix) / "share" / "auditlog" / "ilm_policies"


#: Where the policy files live.
POLICY_DIR = _policy_dir()

#: Module or plugin names that provide ILM.
ILM_COMPONENTS = frozenset({"x-pack-ilm"})

#: ILM time units (``min_age``), from the Elasticsearch "API conventions: time units" page, in seconds.
_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "micros": 1e-6, "nanos": 1e-9}
_TIME_VALUE = re.compile(r"^(\d+)(d|h|m|s|ms|micros|nanos)$")

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


@dataclass(frozen=True)
class PolicyFile:
    """One ILM policy file: retention class, the file and its ``PUT _ilm/policy`` body."""

    retention_class: str
    path: Path
    body: dict[str, Any]

    @property
    def version(self) -> int:
        """The policy's own version from ``policy._meta.version``."""
        return int(self.body["policy"]["_meta"]["version"])


def load_policies(directory: Path = POLICY_DIR) -> list[PolicyFile]:
    """Read ``audit-<class>.json`` for every retention class.

    Args:
        directory: folder with the policy files.

    Returns:
        One ``PolicyFile`` per class, in ``RETENTION_DAYS`` order.

    Raises:
        FileNotFoundError: when a class has no file.
        ValueError: when a file is not valid JSON.
    """
    policies = []
    for cls in RETENTION_DAYS:
        path = directory / f"audit-{cls}.json"
        try:
            body = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: invalid JSON: {exc}") from exc
        policies.append(PolicyFile(cls, path, body))
    return policies


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
        if not isinstance(min_age, str) or not _TIME_VALUE.match(min_age):
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
    match = _TIME_VALUE.match(value) if isinstance(value, str) else None
    return int(match.group(1)) * _UNITS[match.group(2)] if match else None


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


def delete_after_days(body: dict[str, Any]) -> int | None:
    """Return the delete phase's ``min_age`` in days, or ``None`` when the policy never deletes."""
    delete = body["policy"]["phases"].get("delete")
    if delete is None or "delete" not in delete.get("actions", {}):
        return None
    match = re.fullmatch(r"(\d+)d", delete.get("min_age", "0ms"))
    if match is None:
        raise ValueError(f"delete min_age is not in days: {delete.get('min_age')!r}")
    return int(match.group(1))


def has_ilm(client: Elasticsearch) -> bool:
    """Tell whether the cluster runs index lifecycle management.

    Args:
        client: a client for the cluster.

    Returns:
        True when the local node has the ILM module or plugin (or ``GET _ilm/status`` answers).

    Raises:
        elasticsearch.ApiError / ConnectionError: when neither request could be made.
    """
    try:
        info = client.nodes.info(node_id="_local", metric="plugins")
    except ApiError as exc:
        if exc.meta.status != 403:
            raise
        return _ilm_status_answers(client)
    for node in info["nodes"].values():
        names = {entry["name"] for entry in [*node.get("modules", []), *node.get("plugins", [])]}
        if names & ILM_COMPONENTS:
            return True
    return False


def _ilm_status_answers(client: Elasticsearch) -> bool:
    try:
        client.ilm.get_status()
    except ApiError as exc:
        if exc.meta.status in (400, 404, 405, 410):  # "no handler found for uri": no ILM here
            return False
        raise
    return True


@dataclass(frozen=True)
class PolicyRequest:
    """One ``PUT _ilm/policy/<name>`` setup makes: policy name and body."""

    name: str
    body: dict[str, Any]


def policy_requests(tiers: TierTable, policies: list[PolicyFile] | None = None) -> list[PolicyRequest]:
    """Return the policy installs for a namespace (pure: what ``install_policies`` sends).

    Args:
        tiers: the namespace (policy names are ``<prefix>-<class>``).
        policies: the files (default: ``load_policies()``).

    Returns:
        One request per retention class.
    """
    files = load_policies() if policies is None else policies
    return [PolicyRequest(policy_name(tiers, p.retention_class), p.body) for p in files]


def digest_policy_requests(tiers: TierTable, policies: list[PolicyFile] | None = None) -> list[PolicyRequest]:
    """Return the digest indices' policies: each class's policy with deletion one day later (pure).

    Args:
        tiers: the namespace (policy names are ``<prefix>.digest-<class>``).
        policies: the files (default: ``load_policies()``).

    Returns:
        One request per retention class.
    """
    files = load_policies() if policies is None else policies
    requests = []
    for p in files:
        body = copy.deepcopy(p.body)
        days = delete_after_days(body)
        if days is not None:
            body["policy"]["phases"]["delete"]["min_age"] = f"{days + DIGEST_EXTRA_DAYS}d"
        body["policy"]["_meta"]["description"] = (
            f"auditlog digests of class {p.retention_class}: kept {DIGEST_EXTRA_DAYS} day longer than the events"
        )
        requests.append(PolicyRequest(digest_name(tiers, p.retention_class), body))
    return requests


def installed_policy_version(client: Elasticsearch, name: str) -> int | None:
    """Return ``policy._meta.version`` of an installed policy: ``None`` when absent, 0 when not ours."""
    try:
        found = client.ilm.get_lifecycle(name=name)
    except ApiError as exc:
        if exc.meta.status == 404:
            return None
        raise
    meta = found.get(name, {}).get("policy", {}).get("_meta") or {}
    if meta.get("managed_by") != "auditlog":
        return 0  # someone else's policy under our name: replace it (reported as "updated")
    return int(meta.get("version") or 0)
