"""Argument handling of `auditlog es` (no node is started)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from auditlog.cli import main


@pytest.mark.parametrize("nodes", ["0", "10"])
def test_nodes_out_of_range_is_a_usage_error(nodes: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--nodes outside 1-9 exits 2 with one line naming the flag."""
    code = main(["es", "start", "--nodes", nodes, "--state-dir", str(tmp_path)])
    assert (2, True) == (code, "--nodes must be 1-9" in capsys.readouterr().err)


def test_other_size_than_the_recorded_cluster_is_a_usage_error(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """A state folder holding a three-node cluster refuses --nodes 2 instead of mixing layouts."""
    (tmp_path / "cluster.json").write_text(json.dumps({"nodes": 3, "port": 9200, "secure": False}))
    code = main(["es", "start", "--nodes", "2", "--state-dir", str(tmp_path)])
    assert (2, True) == (code, "holds a 3-node cluster" in capsys.readouterr().err)


def test_status_of_a_stopped_cluster_lists_every_node(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`es status` on a cluster folder with nothing running exits 3 and names each node's port."""
    (tmp_path / "cluster.json").write_text(json.dumps({"nodes": 3, "port": 9200, "secure": False}))
    code = main(["es", "status", "--port", "9200", "--state-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert (3, ["  port 9200: not running", "  port 9201: not running", "  port 9202: not running"]) == (
        code, [line for line in out.splitlines() if line.startswith("  port")])


def test_stop_of_a_stopped_cluster_is_a_no_op(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`es stop` on a cluster folder with nothing running exits 0 and says there was nothing to do."""
    (tmp_path / "cluster.json").write_text(json.dumps({"nodes": 3, "port": 9200, "secure": False}))
    code = main(["es", "stop", "--port", "9200", "--state-dir", str(tmp_path)])
    assert (0, True) == (code, "nothing to do" in capsys.readouterr().out)


@pytest.mark.parametrize("command", [["es", "start"], ["demo", "run", "--no-tui"]])
def test_a_bad_heap_exits_2_before_anything_starts(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """--heap abc is a usage error naming the option and the rule."""
    with pytest.raises(SystemExit) as exc:
        main([*command, "--heap", "abc"])
    assert (2, True) == (exc.value.code, "argument --heap: must be a size like 512m or 2g" in capsys.readouterr().err)


def test_stop_with_another_state_folder_says_what_listens_instead_of_nothing_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """`es stop` for a port something listens on, from a folder that started nothing there, exits 1 and says to pass
    the --state-dir the node was started with (before: "nothing to do", the node running on)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        code = main(["es", "stop", "--port", str(port), "--state-dir", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert (code, len(err)) == (1, 1)
    assert f"no node started from {tmp_path} runs on port {port}, but something listens there" in err[0]


def test_stop_of_a_free_port_is_a_no_op(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`es stop` where no node was started and nothing listens exits 0 and says there was nothing to do."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
    code = main(["es", "stop", "--port", str(port), "--state-dir", str(tmp_path)])
    assert (0, True) == (code, "nothing to do" in capsys.readouterr().out)


def test_stop_by_state_folder_alone_names_the_port_the_node_listened_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`es stop --state-dir DIR` of a node on port 9351 says port 9351 stopped, not the --port default 9200."""
    from auditlog.commands import es
    from auditlog.core.processes import Outcome, StopResult
    from auditlog.indexer.es_node import NodeInfo

    class Recorded:
        """A node.json of a node started on 9351 whose process stops when signalled."""

        def running_info(self) -> NodeInfo:
            return NodeInfo(url="http://127.0.0.1:9351", port=9351, pid=1, state_dir=tmp_path, secure=False,
                            version="9.5.4", log_path=tmp_path / "es.log")

        def stop_result(self) -> StopResult:
            return StopResult(Outcome.STOPPED)

    monkeypatch.setattr(es, "_node", lambda args: Recorded())
    code = main(["es", "stop", "--state-dir", str(tmp_path)])
    assert (0, "Elasticsearch on port 9351 stopped") == (code, capsys.readouterr().out.strip())
