"""The agent as operations.md installs it: the wheel with its ``[agent]`` extra in a fresh virtualenv, shipping to
the real node (nothing of this checkout's virtualenv or sources on its path)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from auditlog.indexer.setup import install_templates
from auditlog.indexer.tiers import TierTable
from tests.integration.agent_support import AgentProcess, event_line, wait_count, write_config
from tests.support.wheel import Venv, build_wheel, installed


@pytest.fixture(scope="module")
def agent_venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Venv]:
    """`pip install 'WHEEL[agent]'` into a new virtualenv, the wheel built from a copy of the sources."""
    tmp = tmp_path_factory.mktemp("agent-extra")
    yield installed(tmp, f"{build_wheel(tmp)}[agent]")


def test_the_installed_agent_has_its_compiled_line_check(agent_venv: Venv, tmp_path: Path) -> None:
    """The wheel's build compiled the C line check, the per-batch work and the seal's layouts (the agent's speed)."""
    done = agent_venv.run("python", "-c", "import auditlog.agent._linescan, auditlog.agent._entries, "
                          "auditlog.indexer._layout", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (0, "")


def test_the_installed_agent_ships_a_file_to_the_node(agent_venv: Venv, es: Elasticsearch, es_url: str,
                                                      namespace: TierTable, tmp_path: Path) -> None:
    """`auditlog agent --config FILE` of the `[agent]` install ships every line of a file once, then stops with 0."""
    install_templates(es, namespace)
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "audit.jsonl").write_bytes(b"".join(event_line(i) for i in range(40)))
    config = write_config(tmp_path / "agent.toml", paths=[str(logs / "*.jsonl")], state=tmp_path / "state",
                          es_url=es_url, prefix=namespace.prefix)
    agent = AgentProcess(config, tmp_path / "agent.log", command=(agent_venv.program("auditlog"),),
                         env={"PYTHONNOUSERSITE": "1"}, unset=("PYTHONPATH", "VIRTUAL_ENV"))
    agent.start()
    try:
        shipped = wait_count(es, namespace, 40)
        code = agent.stop()
    finally:
        agent.ensure_stopped()
    assert (shipped, code) == (40, 0), (tmp_path / "agent.log").read_text(errors="replace")[-2000:]
