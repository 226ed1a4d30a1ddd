"""Node loss under load: the agent keeps every event exactly once when the busiest of three nodes is SIGKILLed.

The scenario is ``bench.node_loss`` at CI size (20k events at a steady 800 per second, the node down for
about ten seconds plus its restart): a real three-node cluster (``auditlog es start --nodes 3``'s code),
``auditlog setup``'s replica choice, the agent given all three URLs, and the TUI's first page, its facets
and ``auditlog export`` run while the node is down. It runs once for the module; each test checks one
outcome.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditlog.indexer.es_cluster import ClusterConfig, LocalCluster
from bench.node_loss import NodeLossParams, NodeLossResult, Probe, run_scenario

CI = NodeLossParams(events=20_000, rate=800, down_s=10.0)


@pytest.fixture(scope="module")
def outcome() -> Iterator[NodeLossResult]:
    """Run the scenario once on a fresh three-node cluster; the cluster is stopped and removed afterwards."""
    state = Path(tempfile.mkdtemp(prefix="auditlog-test-es-", dir="/var/tmp"))
    state.chmod(0o755)
    work = Path(tempfile.mkdtemp(prefix="auditlog-test-node-loss-", dir="/var/tmp"))
    cluster = LocalCluster(ClusterConfig(state_dir=state, port=0, nodes=3), log=lambda _m: None)
    try:
        cluster.start()
        result = run_scenario(cluster, CI, work, log=print)
        print(f"node loss at CI size: {result.to_json()}")
        yield result
    finally:
        cluster.stop()
        shutil.rmtree(state, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)


def _probe(result: NodeLossResult, what: str) -> Probe:
    return next(p for p in result.probes if p.what == what)


def test_setup_gave_every_class_one_replica(outcome: NodeLossResult) -> None:
    """Setup counted three data nodes and chose one replica per class (what makes the loss survivable)."""
    assert {"enterprise": 1, "business": 1, "professional": 1} == outcome.replicas


def test_every_line_was_written_and_delivered(outcome: NodeLossResult) -> None:
    """All 20k lines were written and the agent delivered them (no stop in delivery before the end)."""
    assert (CI.events, "") == (outcome.written, outcome.note)


def test_no_event_is_lost(outcome: NodeLossResult) -> None:
    """Every event.id written is in the cluster after the node came back."""
    assert 0 == outcome.lost, outcome.note


def test_no_event_is_duplicated(outcome: NodeLossResult) -> None:
    """No event.id is in the cluster twice (re-sent requests ended as 409, not as copies)."""
    assert (0, CI.events) == (outcome.duplicated, outcome.documents)


def test_the_outage_causes_no_dead_letter(outcome: NodeLossResult) -> None:
    """The agent dead-lettered nothing: a lost node is retried, never a reason to give a line up."""
    assert 0 == outcome.dead_letters, outcome.note


def test_tui_first_page_answers_while_the_node_is_down(outcome: NodeLossResult) -> None:
    """The Pager's first page (the TUI's list) answered through the three URLs with the node dead."""
    probe = _probe(outcome, "tui first page")
    assert (True, "100 hits") == (probe.ok, probe.detail.split(" of ")[0]), probe.detail


def test_tui_facets_answer_while_the_node_is_down(outcome: NodeLossResult) -> None:
    """facet_counts (the TUI's facets) answered with the node dead."""
    probe = _probe(outcome, "tui facets")
    assert True is probe.ok, probe.detail


def test_export_answers_while_the_node_is_down(outcome: NodeLossResult) -> None:
    """`auditlog export` of one tenant exited 0 with the node dead."""
    probe = _probe(outcome, "export")
    assert True is probe.ok, probe.detail
