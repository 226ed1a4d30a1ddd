"""How many replicas each retention class gets: chosen by ``auditlog setup`` from the cluster's data nodes.

One data node: 0 (a replica could never be assigned and the cluster would stay yellow). Two or more:
1, so the loss of any one node loses no acknowledged event and every shard stays searchable. An
operator may fix a class's number (``auditlog setup --replicas enterprise=2``); a number that needs
more data nodes than the cluster has is still applied (the cluster stays yellow until they join), and
setup says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from elasticsearch import Elasticsearch

from auditlog.indexer.retention import expressions
from auditlog.indexer.tiers import RETENTION_DAYS, TierTable

#: replicas with two or more data nodes (one copy survives the loss of any node)
CLUSTER_REPLICAS = 1


@dataclass(frozen=True)
class ReplicaChoice:
    """The ``number_of_replicas`` of one retention class and why."""

    retention_class: str
    replicas: int
    reason: str

    def __str__(self) -> str:
        return f"{self.retention_class}: {self.replicas} ({self.reason})"


def choose_replicas(data_nodes: int, overrides: Mapping[str, int] | None = None) -> list[ReplicaChoice]:
    """Return one choice per retention class, in ``RETENTION_DAYS`` order (pure).

    Args:
        data_nodes: data nodes in the cluster now.
        overrides: class -> replicas the operator fixed.

    Returns:
        The choices.

    Raises:
        ValueError: an override names an unknown class or a negative number.
    """
    overrides = dict(overrides or {})
    for cls, replicas in overrides.items():
        if cls not in RETENTION_DAYS:
            raise ValueError(f"unknown retention class {cls!r} (known: {', '.join(RETENTION_DAYS)})")
        if replicas < 0:
            raise ValueError(f"replicas of {cls} must be 0 or more, got {replicas}")
    nodes = f"{data_nodes} data node{'' if data_nodes == 1 else 's'}"
    default = CLUSTER_REPLICAS if data_nodes >= 2 else 0
    choices = []
    for cls in RETENTION_DAYS:
        if cls in overrides:
            replicas = overrides[cls]
            reason = f"set by --replicas; {nodes}"
            if replicas + 1 > data_nodes:
                reason += f": {replicas + 1 - data_nodes} copies stay unassigned (yellow) until more nodes join"
        else:
            replicas, reason = default, nodes
        choices.append(ReplicaChoice(cls, replicas, reason))
    return choices


def data_node_count(client: Elasticsearch) -> int:
    """Return the cluster's data nodes now (needs cluster privilege ``monitor``).

    Raises:
        elasticsearch.ApiError / ConnectionError: refused or unreachable.
    """
    return int(client.cluster.health()["number_of_data_nodes"])


def stale_indices(client: Elasticsearch, tiers: TierTable, choice: ReplicaChoice) -> list[str]:
    """Return the class's existing event and digest indices whose replicas differ from ``choice``.

    Only indices whose own name is a daily event or digest index of the class: a wildcard also resolves an alias
    named like one of ours to the index behind it, which belongs to someone else (setup set ``foreign-x``'s
    replicas to 0 through an alias ``audit-enterprise-2027.01.01``).

    Raises:
        elasticsearch.ApiError / ConnectionError: refused or unreachable.
    """
    patterns = f"{tiers.class_pattern(choice.retention_class)},{tiers.prefix}.digest-{choice.retention_class}-*"
    found = client.indices.get_settings(
        index=patterns, name="index.number_of_replicas,index.auto_expand_replicas",
        allow_no_indices=True, expand_wildcards="open", flat_settings=True,
    )
    stale = []
    for index, body in found.items():
        day = tiers.parse_index(index) or tiers.parse_digest_index(index)
        if day is None or day[0] != choice.retention_class:
            continue
        settings = body.get("settings", {})
        auto = str(settings.get("index.auto_expand_replicas", "false")).lower()
        if auto != "false" or int(settings.get("index.number_of_replicas", -1)) != choice.replicas:
            stale.append(index)
    return sorted(stale)


def apply_to_existing(client: Elasticsearch, indices: list[str], replicas: int) -> None:
    """Give ``indices`` a fixed ``number_of_replicas`` (their template only shapes new indices).

    Raises:
        elasticsearch.ApiError / ConnectionError: refused (index privilege ``manage``) or unreachable.
    """
    # a long comma-joined name list could pass the request line's 4 KiB, which fails the whole request: a few
    # requests of at most 50 names, fewer when they are long (a long prefix)
    for start in range(0, len(indices), 50):
        for names in expressions(indices[start:start + 50]):
            client.indices.put_settings(index=names, settings={"index": {"auto_expand_replicas": "false",
                                                                         "number_of_replicas": replicas}})
