"""The shipping pipeline: tailer -> parser -> enricher -> batcher -> bounded queue -> sink workers -> acks.

Threads: one reader (the caller of :meth:`Pipeline.run`) does discovery, reading, parsing,
enrichment and batching (a line the emitter wrote passes :mod:`agent.fastpath` and ships as written);
``batch.workers`` sink threads send batches and acknowledge them. The queue
between them holds at most ``batch.max_in_flight`` sealed batches: when Elasticsearch is down the
sink retries, the queue fills, the reader blocks on ``put`` and stops reading; the files are the
buffer and memory stays flat (bounded by batch size x in-flight batches).

Accounting: every line read is, at any moment, shipped (201/409), dead-lettered, or in flight; the
file checkpoint moves past a line only once its batch (and every earlier batch of that file) is
settled, with the dead-letter file fsynced first.

Shutdown (:meth:`request_stop`): stop reading, seal the open batch, let the workers drain the queue
within ``shutdown.timeout`` seconds, commit checkpoints, close. What was not acknowledged by then is
read again at the next start (and answered 409 if it had in fact arrived).
"""

from __future__ import annotations

import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator

import structlog
from elasticsearch import Elasticsearch

from auditlog.agent.acks import AckTracker
from auditlog.agent.batcher import Batch, Batcher, BatchSettings
from auditlog.agent.config import AgentConfig
from auditlog.agent.deadletter import DeadLetter, DeadLetterWriter
from auditlog.agent.digest import DigestFeed
from auditlog.agent.digest_writer import DigestSettings, DigestWriter
from auditlog.agent.discovery import watch_dirs
from auditlog.agent.fastpath import EntryMaker
from auditlog.agent.harvester import Block, Overlong
from auditlog.agent.metrics import Metrics
from auditlog.agent.parser import BLANK, Parser, Rejected
from auditlog.agent.registry import Registry
from auditlog.agent.shipper import ShipperFields
from auditlog.agent.signing import KeyFileError, load_key
from auditlog.agent.sink import Abandoned, RetrySettings, Settled, Sink
from auditlog.agent.tailer import Tailer, TailerSettings
from auditlog.agent.watcher import Watcher, make_watcher
from auditlog.core.errors import UsageError

log = structlog.get_logger("auditlog.agent.pipeline")

_MIN_SCAN_GAP = 0.5  # seconds: watchdog events trigger rescans at most this often


class Pipeline:
    """One running configuration of the agent."""

    def __init__(self, cfg: AgentConfig, client: Elasticsearch, metrics: Metrics | None = None) -> None:
        """Open the registry and dead-letter file and build every stage (no thread starts yet).

        Raises:
            auditlog.core.errors.UsageError: when the configuration cannot be turned into stages.
        """
        self.cfg = cfg
        self.metrics = metrics or Metrics()
        self.registry = Registry(cfg.state_dir)
        self.dlq = DeadLetterWriter(cfg.state_dir, cfg.dead_letter_redaction())
        self.ids = cfg.id_record()
        self.tailer = Tailer(
            TailerSettings(
                paths=tuple(cfg["inputs.paths"]),
                exclude=tuple(cfg["inputs.exclude"]),
                fingerprint_bytes=cfg["inputs.fingerprint_bytes"],
                chunk_bytes=cfg["inputs.read_chunk_bytes"],
                max_line_bytes=cfg["inputs.max_line_bytes"],
                close_inactive=float(cfg["inputs.close_inactive"]),
                follow_symlinks=cfg["inputs.follow_symlinks"],
                max_open_files=cfg["inputs.max_open_files"],
            ),
            self.registry,
        )
        self.tailer.on_lost = self._on_lost
        self.entries = EntryMaker(Parser(cfg["inputs.max_depth"]), cfg.enricher(ShipperFields.for_this_process()))
        self.batcher = Batcher(BatchSettings(cfg["batch.max_events"], cfg["batch.max_bytes"],
                                             float(cfg["batch.max_latency"])))
        self.acks = AckTracker()
        self.queue: queue.Queue[Batch | None] = queue.Queue(maxsize=cfg["batch.max_in_flight"])
        self.stopping = threading.Event()
        self._stop_requested = threading.Event()
        self._deadline: float | None = None
        self.sink = Sink(
            client,
            retry=RetrySettings(float(cfg["retry.initial_backoff"]), float(cfg["retry.max_backoff"])),
            metrics=self.metrics,
            dead_letter=self.dlq.write,
            stopping=self.stopping,
            deadline=lambda: self._deadline,
            ids=self.ids,
        )
        # tamper evidence: records of acknowledged events -> signed digests (agent/digest*.py)
        self.digest_feed: DigestFeed | None = None
        self.digests: DigestWriter | None = None
        if cfg["digest.enabled"]:
            self.digest_feed = DigestFeed()
            try:
                key = load_key(cfg.state_dir)
            except KeyFileError as exc:
                raise UsageError(f"state.dir: {exc}") from None
            self.digests = DigestWriter(self.registry, client, key, cfg.tiers(),
                                        DigestSettings(float(cfg["digest.interval"]), cfg["digest.max_events"]))
        self._digests_stop = threading.Event()
        self.committed: dict[str, int] = {}
        self._holding = False  # the reader caught up but kept its partial batch: every sink slot was taken
        self.watcher: Watcher | None = None
        self.tick: Callable[[], None] = lambda: None
        self._workers: list[threading.Thread] = []
        self.metrics.lag = self._lag

    # -- control -----------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Ask :meth:`run` to stop reading and shut down gracefully (signal-handler safe)."""
        self._stop_requested.set()
        if self.watcher is not None:
            self.watcher.wake()

    def run(self) -> None:
        """Ship until :meth:`request_stop`; return after the graceful shutdown."""
        cfg = self.cfg
        for i in range(cfg["batch.workers"]):
            t = threading.Thread(target=self._worker, name=f"sink-{i}", daemon=True)
            t.start()
            self._workers.append(t)
        if self.digests is not None:  # its first flush sends what a killed run sealed or left pending
            threading.Thread(target=self.digests.run, args=(self._digests_stop,), name="digests", daemon=True).start()
        self.tailer.recover()
        self.committed.update({row.key: row.offset for row in self.registry.all() if row.state == "active"})
        self.watcher = make_watcher(cfg["inputs.watcher"], watch_dirs(cfg["inputs.paths"]))
        log.info("agent started", paths=cfg["inputs.paths"], state_dir=str(cfg.state_dir),
                 max_open_files=self.tailer.max_open_files,
                 watcher=getattr(self.watcher, "name", "?"), es=cfg.connection().redacted())
        rescan = float(cfg["inputs.rescan_interval"])
        poll = float(cfg["inputs.poll_interval"])
        budget = max(cfg["inputs.read_chunk_bytes"], 1 << 20)
        next_scan = time.monotonic() + rescan
        last_scan = time.monotonic()
        woke = False
        try:
            while not self._stop_requested.is_set():
                blocks: list[Block] = []
                try:
                    now = time.monotonic()
                    # Files that found no free descriptor wait for the next scan: make it soon.
                    soon = woke or self.tailer.waiting > 0
                    if now >= next_scan or (soon and now - last_scan >= _MIN_SCAN_GAP):
                        self.tailer.scan(self.watcher.take_moves())
                        self.tailer.save_sizes()
                        last_scan, next_scan = now, now + rescan
                    blocks = self.tailer.poll(budget)
                    for block in blocks:
                        self._process(block)
                    self.metrics.open_files = self.tailer.open_files
                    if self.batcher.due() and not self.queue.full():
                        self._submit(self.batcher.flush())
                    self.tick()
                except Exception:  # e.g. a file became unreadable, the disk is full: keep going, say so
                    log.exception("reader loop error; retrying in a second")
                    self.watcher.wait(1.0)
                    continue
                if not blocks:
                    # Caught up with every file: send what is batched now rather than after max_latency,
                    # so the tail of a burst is searchable within a poll interval. But while every sink
                    # slot is taken, a partial batch could not leave sooner anyway, and waiting for a slot
                    # would stop reading: keep reading into the open batch instead (until it is full, which
                    # does wait). Under a slow node the agent keeps up with the files a whole batch longer,
                    # which is what copytruncate's loss window depends on, and sends fewer, fuller requests.
                    self._holding = self.queue.full()
                    if not self._holding:
                        self._submit(self.batcher.flush())
                    timeout = min(poll, next_scan - time.monotonic())
                    woke = self.watcher.wait(max(timeout, 0.0))
        finally:
            self._shutdown()

    # -- reading -----------------------------------------------------------------------------

    def _process(self, block: Block) -> None:
        key, path, block_end = block.key, block.path, block.end
        make, batcher, submit = self.entries, self.batcher, self._submit
        for off, line in block.lines:
            if type(line) is bytes:
                end = off + len(line) + 1
                if end > block_end:  # an unterminated last line of a closed file
                    end = block_end
                rej: Rejected | bytes
                try:
                    entry = make(line, key, off)
                    if type(entry) is bytes:
                        full = batcher.feed(entry, (key, path, off, line), end, make.stamp)
                        if full is not None:
                            submit(full)
                        continue
                    rej = entry
                except Exception as exc:  # a bug must cost one dead letter, not the agent
                    log.exception("unexpected error processing a line", path=path, offset=off)
                    rej = Rejected(f"internal error: {exc.__class__.__name__}: {exc}", "enrich")
                assert isinstance(rej, Rejected)
                if rej is not BLANK:
                    self._dead(DeadLetter(rej.reason, line, off, path, key, rej.stage))
                batcher.advance(key, end)
            else:
                assert isinstance(line, Overlong)
                limit = self.cfg["inputs.max_line_bytes"]
                self._dead(DeadLetter(f"line of {line.length} bytes exceeds inputs.max_line_bytes ({limit})",
                                      line.preview, off, path, key, "parse", line.length, truncated=True))
                batcher.advance(key, min(off + line.length + 1, block_end))
        batcher.advance(key, block_end, 0)
        self.metrics.lines_read += len(block.lines)

    def _dead(self, dl: DeadLetter) -> None:
        dl = self.dlq.prepare(dl)  # the logged reason is the redacted one
        self.dlq.append(dl)
        self.metrics.dead_lettered(dl.stage)
        log.warning("dead letter", reason=dl.reason, file=dl.file, offset=dl.offset, stage=dl.stage)

    def _on_lost(self, path: str, key: str, lost: int) -> None:
        self.metrics.lost_bytes += lost

    def _submit(self, batch: Batch | None) -> None:
        if batch is None:
            return
        self.acks.register(batch.seq, batch.ends)
        if self.digest_feed is not None:
            self.digest_feed.register(batch.seq, batch.ends)
        self.metrics.batches_in_flight += 1
        while True:
            try:
                self.queue.put(batch, timeout=0.25)
                return
            except queue.Full:  # backpressure: Elasticsearch is slow or down, reading waits
                if self._stop_requested.is_set():
                    self._begin_stop()
                if self._deadline is not None and time.monotonic() > self._deadline:
                    log.warning("shutdown deadline passed with batches unsent; they are re-read next start")
                    self.metrics.batches_in_flight -= 1
                    return

    # -- sending -----------------------------------------------------------------------------

    def _worker(self) -> None:
        while True:
            batch = self.queue.get()
            if batch is None:
                return
            if self._holding and self.watcher is not None:
                self._holding = False
                self.watcher.wake()  # a slot is free: the reader holding a partial batch may send it now
            settled = None
            try:
                if batch.entries:
                    settled = self._send(batch)
            except Abandoned:
                self.metrics.batches_in_flight -= 1
                continue
            if self.digest_feed is None:
                advanced, also = self.acks.ack(batch.seq, list(batch.ends)), None
            else:
                advanced, also = self.digest_feed.ack(self.acks, batch, settled.dead_items if settled else (),
                                                      settled.duplicate_items if settled else ())
            self._commit(advanced, also)
            self.committed.update(advanced)
            self.metrics.batches_in_flight -= 1

    def _commit(self, advanced: dict[str, int], also: Callable[[sqlite3.Connection], None] | None = None) -> None:
        """Make dead letters durable, then checkpoints (with ``also`` in their transaction); retried until it works."""
        attempt = 0
        while True:
            try:
                self.dlq.sync()
                self.registry.commit_offsets(advanced, also)
                return
            except Exception:
                log.exception("checkpoint commit failed; retrying")
                time.sleep(min(0.1 * 2 ** min(attempt, 8), 10.0))
                attempt += 1
                if self.stopping.is_set() and self._deadline is not None and time.monotonic() > self._deadline:
                    return

    def _send(self, batch: Batch) -> Settled:
        attempt = 0
        while True:
            try:
                return self.sink.send(batch)
            except Abandoned:
                raise
            except Exception:  # an unexpected failure must not drop the batch: retry it
                log.exception("bulk send failed unexpectedly; retrying the batch")
                self.sink._wait(attempt, "unexpected error", len(batch.entries), Settled())
                attempt += 1

    # -- shutdown / reporting ------------------------------------------------------------------

    def _begin_stop(self) -> None:
        """Start the shutdown clock once: from now on the sink gives up after ``shutdown.timeout``."""
        if self._deadline is None:
            timeout = float(self.cfg["shutdown.timeout"])
            self._deadline = time.monotonic() + timeout
            self.stopping.set()
            log.info("stopping: flushing in-flight batches", timeout=timeout)

    def _shutdown(self) -> None:
        self._begin_stop()
        deadline = self._deadline or time.monotonic()
        try:
            self._submit(self.batcher.flush())
            for _ in self._workers:
                while True:
                    try:
                        self.queue.put(None, timeout=0.25)
                        break
                    except queue.Full:
                        if time.monotonic() > deadline + 1:
                            break
            for t in self._workers:
                t.join(max(deadline + 2 - time.monotonic(), 0.1))
            self._digests_stop.set()
            if self.digests is not None:  # seal what was acknowledged; send it if the deadline allows
                self.digests.flush(timeout=max(deadline + 1 - time.monotonic(), 0.5))
        finally:
            if self.watcher is not None:
                self.watcher.stop()
            self.tailer.close()
            self.dlq.close()
            if self.ids is not None:
                self.ids.close()
            self.registry.close()
            log.info("stopped", in_flight=self.acks.in_flight(), shipped=self.metrics.events_shipped,
                     duplicates=self.metrics.events_duplicate, dead_letters=self.metrics.dead_lettered_total)

    def _lag(self) -> Iterator[tuple[str, str, int]]:
        for path, key, _pos, size in list(self.tailer.sizes()):
            yield path, key, max(size - self.committed.get(key, 0), 0)
