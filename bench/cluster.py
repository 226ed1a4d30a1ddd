"""The benchmark's Elasticsearch node and the index namespaces each run writes into.

A run uses ``AUDITLOG_BENCH_ES_URL`` when it is set, otherwise it starts a dedicated node with the
product's own ``indexer.es_node.LocalNode`` (removed again afterwards). Every measured run writes into
its own prefix ``b<run>-<n><label>-audit``, with the product's templates (``indexer.setup.install_templates``)
installed for that prefix, and the
prefix is deleted right after its numbers are taken, so runs do not see each other's data.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

from auditlog.indexer.ahead import create_ahead
from auditlog.indexer.setup import install_templates
from auditlog.indexer.tiers import TierTable
from bench.events import default_window

BENCH_URL_ENV = "AUDITLOG_BENCH_ES_URL"

@dataclass
class Cluster:
    """A reachable node plus the bookkeeping of the namespaces this run created."""

    url: str
    client: Elasticsearch
    run_id: str
    started_here: bool
    _counter: int = 0
    _live: list[str] = field(default_factory=list)

    def new_namespace(self, label: str, ahead: tuple[datetime, datetime] | None = None) -> TierTable:
        """Create a fresh prefix for one measured run, install templates and create its daily indices ahead.

        Production creates each day's indices before the day starts (``auditlog setup`` and the periodic
        ``auditlog retention enforce``: ``indexer.ahead``), so no shipper waits on index creation; a namespace
        here gets the same for every day of ``ahead`` (default: the bench's event window), before any clock runs.

        Args:
            label: short name of what runs in it (for humans reading ``_cat/indices``).
            ahead: first and last moment whose days' indices are created (``None``: ``default_window()``).

        Returns:
            The tier table of the new prefix.
        """
        self._counter += 1
        safe = "".join(c for c in label.lower() if c.isalnum())[:12]
        tiers = TierTable(prefix=f"b{self.run_id}-{self._counter}{safe}-audit")
        install_templates(self.client, tiers)
        self._live.append(tiers.prefix)
        start, end = ahead or default_window()
        day = start
        while day <= end:
            create_ahead(self.client, tiers, day)  # that day and the next, as the admin job does
            day += timedelta(days=1)
        return tiers

    def drop_namespace(self, tiers: TierTable) -> None:
        """Delete every index and template of ``tiers.prefix``."""
        delete_prefix(self.client, tiers.prefix)
        if tiers.prefix in self._live:
            self._live.remove(tiers.prefix)

    def drop_all(self) -> None:
        """Delete whatever namespaces are still alive (end of run, or after an error)."""
        for prefix in list(self._live):
            delete_prefix(self.client, prefix)
        self._live.clear()

    def searchable(self, tiers: TierTable) -> int:
        """Refresh the namespace and return how many documents a search sees."""
        pattern = tiers.read_pattern
        self.client.options(ignore_status=404).indices.refresh(index=pattern, allow_no_indices=True,
                                                                 expand_wildcards="open")
        return int(self.client.count(index=pattern, allow_no_indices=True)["count"])

    def indexed(self, tiers: TierTable) -> int:
        """Return how many documents the namespace's primaries have indexed, without a search or a refresh.

        Reading index statistics forces no refresh, so the shards refresh on their own schedule only (the
        templates' explicit ``refresh_interval`` of 1 s), as while the ceiling posts. A ``_refresh`` at every
        poll added refreshes, small segments and their merges to the node's work in a shipper's run only.

        Args:
            tiers: the namespace.

        Returns:
            The primaries' ``indexing.index_total`` (0 when no index matches).
        """
        stats = self.client.options(ignore_status=404).indices.stats(
            index=tiers.read_pattern, metric="indexing", expand_wildcards="open")
        return int(stats.get("_all", {}).get("primaries", {}).get("indexing", {}).get("index_total", 0))

    def cpu_millis(self) -> int:
        """Return the node process's total CPU time so far (from node stats)."""
        stats = self.client.nodes.stats(node_id="_local", metric="process")
        node = next(iter(stats["nodes"].values()))
        return int(node["process"]["cpu"]["total_in_millis"])

    def local_pid(self) -> int | None:
        """Return the node's process id when it runs on this machine (a node elsewhere: ``None``)."""
        nodes = self.client.nodes.info(node_id="_local", metric="process")["nodes"]
        pid = int(next(iter(nodes.values()))["process"]["id"])
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return None
        return pid if b"elasticsearch" in cmdline else None

    def version(self) -> str:
        """Return the node's Elasticsearch version."""
        nodes = self.client.nodes.info(node_id="_local")["nodes"]
        return str(next(iter(nodes.values()))["version"])


def delete_prefix(client: Elasticsearch, prefix: str) -> None:
    """Delete the indices and templates of one prefix by explicit name (no wildcard deletes needed)."""
    quiet = client.options(ignore_status=404)
    names = list(quiet.indices.get(index=f"{prefix}-*", expand_wildcards="all", allow_no_indices=True).body or {})
    for start in range(0, len(names), 50):
        quiet.indices.delete(index=",".join(names[start:start + 50]))
    templates = quiet.indices.get_index_template(name=f"{prefix}*").body or {}
    for item in templates.get("index_templates", []):
        quiet.indices.delete_index_template(name=item["name"])
    components = quiet.cluster.get_component_template(name=f"{prefix}*").body or {}
    for item in components.get("component_templates", []):
        quiet.cluster.delete_component_template(name=item["name"])


@contextmanager
def open_cluster(heap: str = "2g") -> Iterator[Cluster]:
    """Yield the benchmark cluster: ``AUDITLOG_BENCH_ES_URL`` or a dedicated node started here.

    Args:
        heap: JVM heap of a node started here.

    Raises:
        RuntimeError: when no URL is given and the product cannot start a node.
    """
    run_id = uuid.uuid4().hex[:6]
    url = os.environ.get(BENCH_URL_ENV)
    node_info: Any = None
    state_dir: Path | None = None
    if not url:
        try:
            from auditlog.indexer.es_node import LocalNode, NodeConfig
        except ImportError as exc:
            raise RuntimeError(f"set {BENCH_URL_ENV} (indexer.es_node is not available: {exc})") from exc
        state_dir = Path(tempfile.mkdtemp(prefix="auditlog-bench-es-", dir="/var/tmp"))
        state_dir.chmod(0o755)
        node_info = LocalNode(NodeConfig(state_dir=state_dir, port=0, heap=heap), log=lambda _m: None).start()
        url = node_info.url
    client = Elasticsearch(url, request_timeout=120)
    cluster = Cluster(url=url, client=client, run_id=run_id, started_here=node_info is not None)
    try:
        _wait_ready(client)
        yield cluster
    finally:
        try:
            cluster.drop_all()
        finally:
            client.close()
            if node_info is not None and state_dir is not None:
                from auditlog.indexer.es_node import LocalNode, NodeConfig

                LocalNode(NodeConfig(state_dir=state_dir, port=node_info.port), log=lambda _m: None).stop()
                shutil.rmtree(state_dir, ignore_errors=True)


def _wait_ready(client: Elasticsearch, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.cluster.health(wait_for_status="yellow", timeout="5s")
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
