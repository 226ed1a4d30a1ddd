"""Checkpoints after acknowledgement: settled batches move their files' offsets, in seal order per file.

Runs on the pipeline's acknowledger thread, apart from the senders, so committing (an fsync of the
dead-letter file, one SQLite transaction) never delays the next bulk request. For each settled batch:
the :class:`agent.acks.AckTracker` says which files' checkpoints may advance (every earlier batch of
that file is settled too), the dead-letter file is fsynced, then the offsets (and the digest feed's
records of the batch, in the same transaction) are committed. A commit that fails is retried with the
agent's backoff until it works or a stopping agent's deadline passes (then the batch is read again at
the next start and answered 409).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable

import structlog

from auditlog.agent.acks import AckTracker
from auditlog.agent.backoff import EqualJitterBackoff
from auditlog.agent.batcher import Batch
from auditlog.agent.deadletter import DeadLetterWriter
from auditlog.agent.digest import DigestFeed
from auditlog.agent.metrics import Metrics, Part
from auditlog.agent.registry import Registry
from auditlog.agent.sink import Settled

log = structlog.get_logger("auditlog.agent.checkpoints")


class Checkpointer:
    """Turns settled batches into committed per-file offsets (one acknowledging thread calls :meth:`settle`)."""

    def __init__(self, registry: Registry, dead_letters: DeadLetterWriter, metrics: Metrics, *,
                 backoff: EqualJitterBackoff, stopping: threading.Event, deadline: Callable[[], float | None],
                 digest_feed: DigestFeed | None = None) -> None:
        """Wire the checkpointer.

        Args:
            registry: where offsets are committed.
            dead_letters: fsynced before a checkpoint covers its records.
            metrics: time spent acknowledging is added here.
            backoff: wait between failed commits.
            stopping: set when the agent shuts down.
            deadline: the monotonic time after which a stopping agent stops retrying a commit.
            digest_feed: records of acknowledged events, committed with the offsets (None: digests off).
        """
        self._registry = registry
        self._dead_letters = dead_letters
        self._metrics = metrics
        self._backoff = backoff
        self._stopping = stopping
        self._deadline = deadline
        self._feed = digest_feed
        self._acks = AckTracker()
        self._committed: dict[str, int] = {}

    def load(self) -> None:
        """Take the committed offsets of the registry's active files (after the tailer's recovery)."""
        self._committed.update({row.key: row.offset for row in self._registry.all() if row.state == "active"})

    def committed(self, key: str) -> int:
        """Return the committed offset of file identity ``key`` (0 when unknown)."""
        return self._committed.get(key, 0)

    def in_flight(self) -> int:
        """Number of (batch, file) ranges registered and not yet committed."""
        return self._acks.in_flight()

    def register(self, batch: Batch) -> None:
        """Record a sealed batch's file ranges, in seal order (before it can be sent)."""
        self._acks.register(batch.seq, batch.ends)
        if self._feed is not None:
            self._feed.register(batch.seq, batch.ends)

    def settle(self, batch: Batch, settled: Settled | None) -> None:
        """Acknowledge ``batch`` (``settled``: how its items ended; None for a batch without entries)."""
        started = time.monotonic()
        if self._feed is None:
            advanced, also = self._acks.ack(batch.seq, list(batch.ends)), None
        else:
            advanced, also = self._feed.ack(self._acks, batch, settled.dead_items if settled else (),
                                            settled.duplicate_items if settled else ())
        self._commit(advanced, also)
        self._committed.update(advanced)
        self._metrics.spent(Part.ACKNOWLEDGING, time.monotonic() - started)

    def _commit(self, advanced: dict[str, int], also: Callable[[sqlite3.Connection], None] | None) -> None:
        """Make dead letters durable, then checkpoints (with ``also`` in their transaction); retried until it works."""
        attempt = 0
        while True:
            try:
                self._dead_letters.sync()
                self._registry.commit_offsets(advanced, also)
                return
            except Exception:  # a full disk, a locked database: the checkpoint must still land, so keep trying
                log.exception("checkpoint commit failed; retrying")
                deadline = self._deadline()
                if self._stopping.is_set() and deadline is not None and time.monotonic() > deadline:
                    return
                pause = self._backoff.delay(attempt)
                if deadline is not None:  # stopping: a pause (up to 30 s) must not outlast the deadline
                    pause = min(pause, max(deadline - time.monotonic(), 0.0) + 0.01)
                time.sleep(pause)
                attempt += 1
