"""Configuration reload: SIGHUP applies a valid new config in place; an invalid one is refused and logged."""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from elasticsearch import Elasticsearch

from auditlog.indexer.setup import install_templates
from auditlog.indexer.tiers import TierTable
from tests.integration.agent_support import (
    AgentProcess,
    NodeProxy,
    Reply,
    append_lines,
    event_line,
    wait_count,
    write_config,
)


def test_sighup_picks_up_new_paths(es: Elasticsearch, es_url: str, namespace: TierTable, tmp_path: Path) -> None:
    """After adding a glob and sending SIGHUP, files matching the new glob are shipped by the same process."""
    install_templates(es, namespace)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    append_lines(tmp_path / "a" / "x.log", (event_line(i) for i in range(100)))
    append_lines(tmp_path / "b" / "y.log", (event_line(i) for i in range(100, 150)))
    kw = {"state": tmp_path / "state", "es_url": es_url, "prefix": namespace.prefix}
    cfg = write_config(tmp_path / "agent.toml", paths=[f"{tmp_path}/a/*.log"], **kw)  # type: ignore[arg-type]
    agent = AgentProcess(cfg, tmp_path / "agent.log")
    agent.start()
    try:
        first = wait_count(es, namespace, 100)
        time.sleep(1.0)
        write_config(cfg, paths=[f"{tmp_path}/a/*.log", f"{tmp_path}/b/*.log"], **kw)  # type: ignore[arg-type]
        agent.signal(signal.SIGHUP)
        second = wait_count(es, namespace, 150, timeout=30)
        pid_alive = agent.alive()
        status = agent.stop()
    finally:
        agent.ensure_stopped()
    assert (first, second, pid_alive, status) == (100, 150, True, 0)


def test_invalid_config_on_reload_keeps_running(
    es: Elasticsearch, es_url: str, namespace: TierTable, tmp_path: Path
) -> None:
    """A broken config on SIGHUP is logged with the key named and the agent keeps shipping with the old one."""
    install_templates(es, namespace)
    log = tmp_path / "audit.log"
    append_lines(log, (event_line(i) for i in range(50)))
    cfg = write_config(tmp_path / "agent.toml", paths=[str(log)], state=tmp_path / "state", es_url=es_url,
                       prefix=namespace.prefix)
    agent = AgentProcess(cfg, tmp_path / "agent.log")
    agent.start()
    try:
        assert wait_count(es, namespace, 50) == 50
        cfg.write_text(cfg.read_text() + "\n[batch]\nmax_events = 0\n")
        agent.signal(signal.SIGHUP)
        time.sleep(1.0)
        append_lines(log, (event_line(i) for i in range(50, 80)))
        arrived = wait_count(es, namespace, 80, timeout=30)
        status = agent.stop()
    finally:
        agent.ensure_stopped()
    logged = (tmp_path / "agent.log").read_text()
    assert (arrived, status, "configuration reload failed" in logged) == (80, 0, True)


@dataclass
class _HeldFirstAnswer(NodeProxy):
    """Forwards everything, but holds the first request's answer until released (a pre-flight taking its time)."""

    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        """Hold the first request until :attr:`release` is set (at most 30 s); forward every request."""
        if not self.arrived.is_set():
            self.arrived.set()
            self.release.wait(30)
        return self.forward(method, path, headers, body)


def test_sighup_during_the_pre_flight_reloads_instead_of_killing_the_agent(
    es: Elasticsearch, es_url: str, namespace: TierTable, tmp_path: Path
) -> None:
    """A SIGHUP that arrives while the pre-flight waits for the node (systemctl reload right after a start) is a
    reload once the agent runs, not the end of the process (status 129 before)."""
    install_templates(es, namespace)
    log = tmp_path / "audit.log"
    append_lines(log, (event_line(i) for i in range(30)))
    proxy = _HeldFirstAnswer(es_url)
    cfg = write_config(tmp_path / "agent.toml", paths=[str(log)], state=tmp_path / "state", es_url=proxy.start(),
                       prefix=namespace.prefix)
    agent = AgentProcess(cfg, tmp_path / "agent.log")
    agent.start()
    try:
        assert proxy.arrived.wait(30)  # the pre-flight's first request: the agent's own SIGHUP handling is not up
        agent.signal(signal.SIGHUP)
        time.sleep(0.5)
        proxy.release.set()
        arrived = wait_count(es, namespace, 30, timeout=60)
        alive = agent.alive()
        status = agent.stop()
    finally:
        proxy.release.set()
        agent.ensure_stopped()
        proxy.stop()
    assert (arrived, alive, status) == (30, True, 0)
    assert "SIGHUP: reloading configuration" in (tmp_path / "agent.log").read_text()
