"""Which ECS field types a cluster offers, read from its nodes' modules (pure part)."""

from __future__ import annotations

from typing import Any

from auditlog.indexer.features import features_from_nodes_info
from auditlog.indexer.templates import MappingFeatures

DEFAULT_MODULES = ["aggregations", "analysis-common", "mapper-extras", "wildcard", "x-pack-core", "x-pack-ilm"]
MINIMAL_MODULES = ["apm", "transport-netty4", "x-pack-core", "x-pack-security"]  # the test distribution


def _info(*nodes: list[str]) -> dict[str, Any]:
    return {"nodes": {f"n{i}": {"modules": [{"name": m} for m in mods], "plugins": []}
                      for i, mods in enumerate(nodes)}}


def test_default_distribution_offers_both_types() -> None:
    """A node with mapper-extras and wildcard offers match_only_text and wildcard."""
    assert MappingFeatures.ecs() == features_from_nodes_info(_info(DEFAULT_MODULES))


def test_minimal_distribution_offers_neither() -> None:
    """The test distribution's modules offer neither type."""
    assert MappingFeatures() == features_from_nodes_info(_info(MINIMAL_MODULES))


def test_a_type_counts_only_when_every_node_has_it() -> None:
    """One node without the wildcard module turns wildcard off for the whole cluster."""
    without_wildcard = [m for m in DEFAULT_MODULES if m != "wildcard"]
    expected = MappingFeatures(match_only_text=True, wildcard=False)
    assert expected == features_from_nodes_info(_info(DEFAULT_MODULES, without_wildcard))


def test_a_plugin_counts_like_a_module() -> None:
    """A type installed as a plugin rather than a module is used too."""
    info = {"nodes": {"n0": {"modules": [], "plugins": [{"name": "mapper-extras"}]}}}
    assert MappingFeatures(match_only_text=True) == features_from_nodes_info(info)


def test_no_nodes_means_no_features() -> None:
    """An answer without nodes gives the safe mapping."""
    assert MappingFeatures() == features_from_nodes_info({"nodes": {}})
