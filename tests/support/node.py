"""Start and stop real Elasticsearch nodes for the test session with the product's own code."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from auditlog.indexer.es_node import NodeInfo


@dataclass(frozen=True)
class SecureNodeInfo:
    """Where a security-enabled node listens and how to authenticate to it."""

    url: str
    ca_certs: str
    username: str
    password: str
    #: the node's configuration folder (its ``roles.yml``), when the tests may write there
    config_dir: str | None = None

    @classmethod
    def from_node(cls, node: NodeInfo) -> SecureNodeInfo:
        """Build from the info ``LocalNode.start`` returned."""
        assert node.ca_path is not None and node.password is not None
        return cls(url=node.url, ca_certs=str(node.ca_path), username="elastic", password=node.password,
                   config_dir=str(node.state_dir / "config"))


def secure_node_info() -> SecureNodeInfo | None:
    """Return the secure node named by ``AUDITLOG_TEST_ES_SECURE_*`` variables, if any."""
    url = os.environ.get("AUDITLOG_TEST_ES_SECURE_URL")
    if not url:
        return None
    return SecureNodeInfo(
        url=url,
        ca_certs=os.environ["AUDITLOG_TEST_ES_SECURE_CA"],
        username="elastic",
        password=os.environ["AUDITLOG_TEST_ES_SECURE_PASSWORD"],
        config_dir=os.environ.get("AUDITLOG_TEST_ES_SECURE_CONFIG"),
    )


def node_state_dir(tmp: Path) -> Path:
    """Return a state folder the node user can enter (pytest temp folders are 0700)."""
    # As root the node runs as an unprivileged user that cannot enter pytest's 0700 temp folders.
    if os.geteuid() == 0:
        path = Path(tempfile.mkdtemp(prefix="auditlog-test-es-", dir="/var/tmp"))
        path.chmod(0o755)
        return path
    return tmp


def start_test_node(tmp: Path, *, secure: bool) -> NodeInfo:
    """Start a node on a free port; fail the test with the node's log tail when it cannot start."""
    from auditlog.indexer.es_node import LocalNode, NodeConfig, NodeStartError

    config = NodeConfig(state_dir=node_state_dir(tmp), port=0, secure=secure, heap="768m")
    try:
        return LocalNode(config).start()
    except NodeStartError as exc:
        raise AssertionError(f"Elasticsearch test node did not start: {exc}") from exc


def stop_test_node(node: NodeInfo) -> None:
    """Stop a node started by ``start_test_node`` and remove its files."""
    from auditlog.indexer.es_node import LocalNode, NodeConfig

    LocalNode(NodeConfig(state_dir=node.state_dir, port=node.port)).stop()
    if str(node.state_dir).startswith("/var/tmp/auditlog-test-es-"):
        shutil.rmtree(node.state_dir, ignore_errors=True)
