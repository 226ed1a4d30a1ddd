"""Checkpointer: offsets move past settled batches only, in seal order per file."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from auditlog.agent.backoff import EqualJitterBackoff
from auditlog.agent.batcher import Batch
from auditlog.agent.checkpoints import Checkpointer
from auditlog.agent.deadletter import DeadLetterWriter
from auditlog.agent.identity import FileIdentity
from auditlog.agent.metrics import Metrics, Part
from auditlog.agent.registry import FileState, Registry


def _setup(tmp_path: Path) -> tuple[Checkpointer, Registry, str, Metrics]:
    registry = Registry(tmp_path)
    state = FileState(FileIdentity(1, 2, 16, "ab" * 8, 0), "/var/log/a.jsonl")
    registry.add(state)
    metrics = Metrics()
    cp = Checkpointer(registry, DeadLetterWriter(tmp_path), metrics, backoff=EqualJitterBackoff(0.001, 0.002),
                      stopping=threading.Event(), deadline=lambda: None)
    cp.load()
    return cp, registry, state.key, metrics


def _offset(registry: Registry, key: str) -> int:
    row = registry.get(key)
    assert row is not None
    return row.offset


def test_a_later_batch_settled_first_waits_for_the_earlier_one(tmp_path: Path) -> None:
    """Batch 2 settled before batch 1 leaves the checkpoint at 0; once batch 1 settles it moves to batch 2's end."""
    cp, registry, key, _ = _setup(tmp_path)
    first, second = Batch(1, ends={key: 100}), Batch(2, ends={key: 250})
    cp.register(first)
    cp.register(second)
    cp.settle(second, None)
    early = (_offset(registry, key), cp.committed(key))
    cp.settle(first, None)
    assert ((0, 0), (250, 250)) == (early, (_offset(registry, key), cp.committed(key)))


def test_acknowledging_time_is_counted(tmp_path: Path) -> None:
    """Each settle adds its duration to the acknowledging part of the time split."""
    cp, _registry, key, metrics = _setup(tmp_path)
    batch = Batch(1, ends={key: 10})
    cp.register(batch)
    cp.settle(batch, None)
    assert 0 < metrics.time_spent()[Part.ACKNOWLEDGING]


def test_a_commit_failing_while_stopping_gives_up_at_the_deadline_not_after_its_backoff(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A checkpoint commit that keeps failing during a stop returns at the shutdown deadline, however long the
    backoff's pause (30 s here); its lines are read again at the next start."""
    registry = Registry(tmp_path)
    state = FileState(FileIdentity(1, 2, 16, "ab" * 8, 0), "/var/log/a.jsonl")
    registry.add(state)
    stopping = threading.Event()
    stopping.set()
    deadline = time.monotonic() + 0.3
    cp = Checkpointer(registry, DeadLetterWriter(tmp_path), Metrics(), backoff=EqualJitterBackoff(30.0, 30.0),
                      stopping=stopping, deadline=lambda: deadline)
    cp.load()

    def full_disk(*args: object) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(registry, "commit_offsets", full_disk)
    batch = Batch(1, ends={state.key: 100})
    cp.register(batch)
    started = time.monotonic()
    cp.settle(batch, None)
    assert (time.monotonic() - started < 5, _offset(registry, state.key)) == (True, 0)
