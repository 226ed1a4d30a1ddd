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
