"""Which ECS field types the cluster offers: ``match_only_text`` (module mapper-extras) and ``wildcard``.

The default distribution has both, so ``auditlog setup`` maps ``message`` and the ``.text`` multi-fields
as ``match_only_text`` and ``url.full`` as ``wildcard``, as ECS does. The minimal test distribution has
neither; the mapping then falls back on ``text`` and ``keyword``, which read and search the same.
A type counts only when every node has its module: an index may be allocated to any of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from elasticsearch import ApiError, Elasticsearch

from auditlog.indexer.templates import MappingFeatures

MATCH_ONLY_TEXT_MODULES = frozenset({"mapper-extras"})
WILDCARD_MODULES = frozenset({"wildcard"})


def features_from_nodes_info(info: Mapping[str, Any]) -> MappingFeatures:
    """Read the field types every node offers from a ``GET _nodes/plugins`` answer (pure).

    Args:
        info: the answer's body.

    Returns:
        The features; none when the answer lists no node.
    """
    per_node = [{entry["name"] for entry in [*node.get("modules", []), *node.get("plugins", [])]}
                for node in info.get("nodes", {}).values()]
    if not per_node:
        return MappingFeatures()
    common = set.intersection(*per_node)
    return MappingFeatures(match_only_text=bool(common & MATCH_ONLY_TEXT_MODULES),
                           wildcard=bool(common & WILDCARD_MODULES))


def detect_features(client: Elasticsearch) -> MappingFeatures:
    """Ask the cluster which ECS field types it offers.

    Args:
        client: a client; ``monitor`` (or ``manage``) lets it read the nodes' modules.

    Returns:
        The features; none (the safe mapping) when the client may not read the nodes' modules.

    Raises:
        elasticsearch.ApiError / ConnectionError: on any other failure.
    """
    try:
        info = client.nodes.info(metric="plugins")
    except ApiError as exc:
        if exc.meta.status != 403:
            raise
        return MappingFeatures()
    return features_from_nodes_info(info.body)
