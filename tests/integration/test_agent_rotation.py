"""Rotation under load against the real node: rename+create loses nothing; copytruncate's loss is measured."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import threading
import time
from pathlib import Path

from elasticsearch import Elasticsearch

from auditlog.agent.deadletter import read_records
from auditlog.indexer.setup import install_templates
from auditlog.indexer.tiers import TierTable
from bench.proxy import CuttableProxy
from tests.integration.agent_support import (
    AgentProcess,
    append_lines,
    event_line,
    ids,
    wait_count,
    wait_stable,
    write_config,
)

LINES = int(os.environ.get("AUDITLOG_ROTATION_LINES", "20000"))


def write_paced(log: Path, seconds: float, rotate_every: int = 0, lock: threading.Lock | None = None) -> None:
    """Append LINES lines in bursts of 100 over about ``seconds`` (each burst under ``lock`` when given)."""
    burst = 100
    pause = seconds / (LINES / burst)
    n = 0
    for start in range(0, LINES, burst):
        if rotate_every and start and start % rotate_every == 0:
            n += 1
            os.rename(log, log.with_name(f"{log.name}.{n}"))
        with lock or contextlib.nullcontext():
            append_lines(log, (event_line(i) for i in range(start, min(start + burst, LINES))))
        time.sleep(pause)


def run_agent(es: Elasticsearch, es_url: str, tiers: TierTable, tmp: Path, pattern: str,
              load: threading.Thread, expected: int) -> tuple[int, list[tuple[str, str | None]]]:
    install_templates(es, tiers)
    cfg = write_config(tmp / "agent.toml", paths=[pattern], state=tmp / "state", es_url=es_url, prefix=tiers.prefix)
    agent = AgentProcess(cfg, tmp / "agent.log")
    agent.start()
    try:
        load.start()
        load.join()
        if wait_count(es, tiers, expected, timeout=60 if expected else 0) < expected or not expected:
            wait_stable(es, tiers, quiet=2.0)  # some lines may be lost: wait until nothing more arrives
        time.sleep(1.5)  # anything extra (a duplicate) would show up now
        status = agent.stop()
    finally:
        agent.ensure_stopped()
    return status, ids(es, tiers)


def test_rename_create_under_load_delivers_every_line(
    es: Elasticsearch, es_url: str, namespace: TierTable, tmp_path: Path
) -> None:
    """Rename+create every 2,000 lines while writing: every line arrives exactly once."""
    log = tmp_path / "audit.log"
    load = threading.Thread(target=write_paced, args=(log, 6.0, 2000))
    status, docs = run_agent(es, es_url, namespace, tmp_path, str(log), load, LINES)
    assert (len(docs), len({d for d, _e in docs}), status) == (LINES, LINES, 0)


def copytruncate_run(es: Elasticsearch, es_url: str, tiers: TierTable, tmp: Path,
                     pattern: str) -> tuple[int, int, int]:
    """Write LINES lines while a rotator copies and truncates the file; return (delivered, duplicates, raced).

    ``raced`` counts the lines written between a copy and its truncation: in neither file, so no shipper can
    read them unless it read the live file first. The writer appends under a lock the rotator takes between its
    copy and its truncation, to count them exactly (their number grows with the machine's load).
    """
    log = tmp / "audit.log"
    stop = threading.Event()
    lock = threading.Lock()
    raced = [0]

    def rotate() -> None:
        n = 0
        while not stop.wait(0.5):
            if log.exists():
                n += 1
                copy = log.with_name(f"audit.log.{n}")
                shutil.copyfile(log, copy)
                with lock:  # no line is written from here to the truncation: what the copy lacks is counted
                    raced[0] += log.read_bytes()[copy.stat().st_size:].count(b"\n")
                    os.truncate(log, 0)

    def load() -> None:
        rot = threading.Thread(target=rotate)
        rot.start()
        write_paced(log, 6.0, lock=lock)
        stop.set()
        rot.join()

    # both ways every line may arrive (the live file's unread rest is read from its copy); the copy/truncate
    # race may lose some: run_agent then waits until nothing more arrives
    status, docs = run_agent(es, es_url, tiers, tmp, pattern, threading.Thread(target=load), LINES)
    assert status == 0
    unique = {d for d, _e in docs}
    assert unique <= {f"ev-{i:08d}" for i in range(LINES)}
    return len(unique), len(docs) - len(unique), raced[0]


def test_copytruncate_with_copies_in_glob_loses_at_most_the_race(
    es: Elasticsearch, es_url: str, namespace: TierTable, tmp_path: Path
) -> None:
    """Copytruncate with the copies matched (audit.log*): no duplicates; the only lines lost are lines written
    between a copy and its truncation."""
    delivered, dups, raced = copytruncate_run(es, es_url, namespace, tmp_path, str(tmp_path / "audit.log*"))
    print(f"copytruncate, copies in glob: lost {LINES - delivered} of {LINES} lines, {raced} written in the race")
    assert (dups, LINES - delivered <= raced) == (0, True)


def test_copytruncate_without_copies_in_glob_loses_at_most_the_race(
    es: Elasticsearch, es_url: str, namespace: TierTable, tmp_path: Path
) -> None:
    """Copytruncate with only the live file matched: unread lines come from the copies; no duplicates; the only
    lines lost are lines written between a copy and its truncation, and a loss is reported."""
    delivered, dups, raced = copytruncate_run(es, es_url, namespace, tmp_path, str(tmp_path / "audit.log"))
    print(f"copytruncate, live file only: lost {LINES - delivered} of {LINES} lines, {raced} written in the race")
    log = (tmp_path / "agent.log").read_text()
    assert (dups, LINES - delivered <= raced) == (0, True)
    assert delivered == LINES or "copytruncate" in log, "a loss must be reported in the agent's log"


def _wait_for_log(path: Path, text: str, timeout: float = 60.0) -> None:
    """Wait until the agent's log at ``path`` holds ``text``."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if text in path.read_text(errors="replace"):
            return
        time.sleep(0.1)
    raise AssertionError(f"agent never logged {text!r}; log tail: {path.read_text(errors='replace')[-2000:]}")


def outage_copytruncate(es: Elasticsearch, es_url: str, tiers: TierTable, tmp: Path, pattern: str,
                        copy: Path | None = None) -> tuple[int, str]:
    """Copytruncate while the node is unreachable (reading paused); return (delivered, agent log).

    Args:
        copy: where logrotate's copy goes (default ``audit.log.1`` next to the file).
    """
    install_templates(es, tiers)
    proxy = CuttableProxy(es_url)
    log = tmp / "audit.log"
    append_lines(log, (event_line(i) for i in range(6000)))
    cfg = write_config(tmp / "agent.toml", paths=[pattern], state=tmp / "state", es_url=proxy.url,
                       prefix=tiers.prefix, batch={"max_events": 500, "max_in_flight": 1, "workers": 1})
    agent = AgentProcess(cfg, tmp / "agent.log")
    agent.start()
    try:
        # The agent reads ~1,000 lines, then backpressure stops it: wait for its first failed send (a fixed
        # sleep raced a slow start on a loaded machine: nothing read before the truncation, nothing to report).
        agent.wait_started()
        _wait_for_log(tmp / "agent.log", "bulk retry")
        time.sleep(1.0)  # the reader fills what the queue holds
        shutil.copyfile(log, copy or tmp / "audit.log.1")
        os.truncate(log, 0)
        append_lines(log, (event_line(i) for i in range(6000, 7000)))
        time.sleep(1.0)
        proxy.start()
        wait_stable(es, tiers)
        status = agent.stop()
    finally:
        agent.ensure_stopped()
        proxy.cut()
    docs = ids(es, tiers)
    conflicts = [r for r in read_records(tmp / "state") if r["reason"].startswith("id_conflict")]
    assert (status, len(docs), conflicts) == (0, len({d for d, _e in docs}), [])
    return len(docs), (tmp / "agent.log").read_text()


def test_copytruncate_during_outage_is_recovered_from_the_copy(
    es: Elasticsearch, es_url: str, namespace: TierTable, tmp_path: Path
) -> None:
    """With copies in the glob, lines unread when the file was truncated are shipped from the copy, once."""
    delivered, _log = outage_copytruncate(es, es_url, namespace, tmp_path, str(tmp_path / "audit.log*"))
    assert delivered == 7000


def test_copytruncate_during_outage_without_copies_in_the_glob_reads_the_backlog_from_the_copy(
    es: Elasticsearch, es_url: str, namespace: TierTable, tmp_path: Path
) -> None:
    """With only the live file matched, the unread backlog is read from logrotate's copy next to it, once."""
    delivered, log = outage_copytruncate(es, es_url, namespace, tmp_path, str(tmp_path / "audit.log"))
    assert (delivered, "reading the rest from its copy" in log) == (7000, True)


def test_copytruncate_during_outage_with_the_copy_elsewhere_loses_the_backlog_and_says_so(
    es: Elasticsearch, es_url: str, namespace: TierTable, tmp_path: Path
) -> None:
    """A copy the agent cannot find (another folder): the unread backlog is lost, and the agent reports it."""
    (tmp_path / "archive").mkdir()
    delivered, log = outage_copytruncate(es, es_url, namespace, tmp_path, str(tmp_path / "audit.log"),
                                         copy=tmp_path / "archive" / "audit.log.1")
    print(f"copytruncate during outage, copy elsewhere: lost {7000 - delivered} of 7000 lines")
    assert (delivered < 7000, "file truncated before it was fully read" in log) == (True, True)


def test_files_rotated_away_between_two_scans_are_shipped(
    es: Elasticsearch, es_url: str, namespace: TierTable, tmp_path: Path
) -> None:
    """Whole files created, filled and renamed out of the glob before any scan saw them arrive, once each."""
    install_templates(es, namespace)
    log = tmp_path / "audit.log"
    # Polling (no rename events) and a rescan far longer than the writing below: no scan runs in between,
    # like an agent starved of CPU or stuck behind backpressure on a loaded machine.
    cfg = write_config(tmp_path / "agent.toml", paths=[str(log)], state=tmp_path / "state", es_url=es_url,
                       prefix=namespace.prefix, inputs={"watcher": "polling", "rescan_interval": 4.0})
    agent = AgentProcess(cfg, tmp_path / "agent.log")
    agent.start()
    try:
        agent.wait_started()
        for gen in range(3):
            append_lines(log, (event_line(i) for i in range(gen * 300, (gen + 1) * 300)))
            os.rename(log, log.with_name(f"audit.log.{gen + 1}"))
        append_lines(log, (event_line(i) for i in range(900, 1000)))
        wait_count(es, namespace, 1000, timeout=30)
        time.sleep(1.5)  # anything extra (a duplicate) would show up now
        status = agent.stop()
    finally:
        agent.ensure_stopped()
    docs = ids(es, namespace)
    assert (len(docs), len({d for d, _e in docs}), status) == (1000, 1000, 0)


def rotate_generations(log: Path, generations: int, per_file: int) -> int:
    """Write and rename away ``generations`` files of ``per_file`` lines, then a live one; return the lines written."""
    for gen in range(generations):
        append_lines(log, (event_line(i) for i in range(gen * per_file, (gen + 1) * per_file)))
        os.rename(log, log.with_name(f"{log.name}.{gen + 1}"))
    end = generations * per_file
    append_lines(log, (event_line(i) for i in range(end, end + per_file)))
    return end + per_file


def paused_rotation_run(es: Elasticsearch, es_url: str, tiers: TierTable, tmp: Path, *, before_first_scan: bool,
                        ) -> tuple[int, int, int]:
    """Stop the agent (SIGSTOP), rotate several whole files, resume it; return (documents, unique ids, status)."""
    install_templates(es, tiers)
    log = tmp / "audit.log"
    cfg = write_config(tmp / "agent.toml", paths=[str(log)], state=tmp / "state", es_url=es_url, prefix=tiers.prefix)
    agent = AgentProcess(cfg, tmp / "agent.log")
    agent.start()
    try:
        if before_first_scan:
            agent.signal(signal.SIGSTOP)  # just spawned: its first scan is far away (imports, pre-flight)
            written = rotate_generations(log, 5, 400)
        else:
            agent.wait_started()
            append_lines(log, (event_line(i) for i in range(100_000, 100_400)))  # seen, tracked and read
            wait_count(es, tiers, 400, timeout=30)
            agent.signal(signal.SIGSTOP)
            written = 400 + rotate_generations(log, 5, 400)
        time.sleep(0.5)
        agent.signal(signal.SIGCONT)
        wait_count(es, tiers, written, timeout=60)
        time.sleep(1.5)  # anything extra (a duplicate) would show up now
        status = agent.stop()
    finally:
        agent.ensure_stopped()
    docs = ids(es, tiers)
    assert written == 2400 + (0 if before_first_scan else 400)
    return len(docs), len({d for d, _e in docs}), status


def test_files_rotated_while_the_agent_is_paused_before_its_first_scan_are_shipped(
    es: Elasticsearch, es_url: str, namespace: TierTable, tmp_path: Path
) -> None:
    """Five whole files rotated away between the agent's start and its first scan arrive, once each."""
    assert paused_rotation_run(es, es_url, namespace, tmp_path, before_first_scan=True) == (2400, 2400, 0)


def test_files_rotated_while_the_running_agent_is_paused_are_shipped(
    es: Elasticsearch, es_url: str, namespace: TierTable, tmp_path: Path
) -> None:
    """A running agent stopped (SIGSTOP) while five whole files are rotated away ships every line once after SIGCONT."""
    assert paused_rotation_run(es, es_url, namespace, tmp_path, before_first_scan=False) == (2800, 2800, 0)
