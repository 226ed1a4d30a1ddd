"""The shipping pipeline: tailer -> parser -> enricher -> batcher -> senders -> acknowledger.

Threads:

- one **reader** (the caller of :meth:`Pipeline.run`) does discovery, reading, parsing, enrichment
  and batching (a line the emitter wrote passes :mod:`agent.fastpath` and ships as written). When it
  seals a batch it also builds the batch's request body and records its ids (:meth:`Sink.prepare`), so
  bodies are ready before a request slot frees up. Sealed batches wait in a queue of at most
  ``batch.max_in_flight`` (the memory bound: batch size x (queued + sending + acknowledging) batches).
- ``batch.workers`` **senders** take prepared batches and send them; the sink's
  :class:`agent.concurrency.RequestSlots` lets at most its adaptive limit (``1 .. batch.workers``) of
  them be in flight. A sender that gets its answer settles the items and takes the next prepared batch
  at once: nothing between an answer and the next request waits on another thread.
- one **acknowledger** commits checkpoints for settled batches (:class:`agent.checkpoints.Checkpointer`):
  dead letters fsynced, offsets and digest records in one SQLite transaction, off the senders' path.

When Elasticsearch is down the sink retries, the queue fills, the reader blocks and stops reading:
the files are the buffer and memory stays flat.

Accounting: every line read is, at any moment, shipped (201/409), dead-lettered, or in flight; the
file checkpoint moves past a line only once its batch (and every earlier batch of that file) is
settled, with the dead-letter file fsynced first.

Time split (``auditlog_agent_time_seconds_total{part}``, :class:`agent.metrics.Part`): the reader's
time reading, building and waiting for a slot is measured per block and per batch, the requests'
time in flight by the sink, the acknowledger's time by the checkpointer.

Shutdown (:meth:`request_stop`): stop reading, seal the open batch, let the senders drain the queue
within ``shutdown.timeout`` seconds, commit checkpoints, close. What was not acknowledged by then is
read again at the next start (and answered 409 if it had in fact arrived).
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import structlog
from elasticsearch import Elasticsearch

from auditlog.agent.batcher import Batch, Batcher, BatchSettings
from auditlog.agent.checkpoints import Checkpointer
from auditlog.agent.concurrency import AdaptiveLimit, RequestSlots
from auditlog.agent.config import AgentConfig
from auditlog.agent.deadletter import DeadLetter, DeadLetterWriter, record_limit
from auditlog.agent.digest import DigestFeed, PendingMirror
from auditlog.agent.digest_writer import DigestSettings, DigestWriter
from auditlog.agent.discovery import watch_dirs
from auditlog.agent.fastpath import EntryMaker
from auditlog.agent.harvester import Block, Line, Overlong
from auditlog.agent.metrics import Counter, Gauge, Metrics, Part
from auditlog.agent.parser import BLANK, Parser, Rejected
from auditlog.agent.registry import Registry
from auditlog.agent.shipper import ShipperFields
from auditlog.agent.signing import KeyFileError, load_key
from auditlog.agent.sink import Abandoned, Settled, Sink
from auditlog.agent.tailer import Tailer, TailerSettings
from auditlog.agent.watcher import Watcher, make_watcher
from auditlog.core.errors import CommandError, UsageError
from auditlog.core.wakeup import Wakeup

log = structlog.get_logger("auditlog.agent.pipeline")

_MIN_SCAN_GAP = 0.5  # seconds: watchdog events trigger rescans at most this often
#: requests in flight when the agent starts, before it has measured anything (within 1 .. batch.workers)
INITIAL_IN_FLIGHT = 2


def _put_by(q: queue.Queue[Any], item: Any, until: float) -> bool:
    """Put ``item`` on ``q`` if there is room before the monotonic time ``until``; return whether it went in."""
    while True:
        left = until - time.monotonic()
        try:
            if left > 0:
                q.put(item, timeout=min(left, 0.25))
            else:
                q.put_nowait(item)
            return True
        except queue.Full:
            if left <= 0:
                return False


def reader_wait(now: float, *, poll: float, next_scan: float, scan_due: float | None) -> float:
    """Return how long the reader may sleep once it has caught up with every file.

    Args:
        now: the monotonic clock.
        poll: ``inputs.poll_interval``: the longest sleep between reads.
        next_scan: when the periodic rescan is due.
        scan_due: when a scan held back by the scan gap may run (a change was signalled, or files wait for a
            descriptor), else None. The sleep ends then rather than at the next poll tick: a file renamed into
            the folder just after a scan was otherwise read up to a poll interval after the gap had passed.

    Returns:
        Seconds, at least 0.
    """
    until = next_scan if scan_due is None else min(next_scan, scan_due)
    return max(0.0, min(poll, until - now))


class _StoppedHolding(Exception):
    """The agent stops while reading is held on a dead letter that cannot be written (not a reader error)."""


def _folders(dirs: list[str]) -> list[tuple[str, int, int]]:
    """Each folder of ``dirs`` with the device and inode it has now (links followed): what a watch is on."""
    out = []
    for d in dirs:
        try:
            st = os.stat(d)
        except OSError:
            continue
        out.append((d, st.st_dev, st.st_ino))
    return out


def _lost_state(state_dir: object) -> str:
    """The one line that stops an agent whose state directory was removed or replaced under it."""
    return (f"state directory {state_dir} was removed or replaced while the agent ran: stopping (started again, "
            "the agent begins with a new state; what it sends again is answered 409, nothing is lost)")


def _folder_id(path: object) -> tuple[int, int] | None:
    """A folder's device and inode (links followed), or None when it cannot be looked at."""
    try:
        st = os.stat(path)  # type: ignore[arg-type]
    except OSError:
        return None
    return st.st_dev, st.st_ino


class Pipeline:
    """One running configuration of the agent."""

    def __init__(self, cfg: AgentConfig, client: Elasticsearch, metrics: Metrics | None = None, *,
                 tick: Callable[[], None] = lambda: None, state_id: tuple[int, int] | None = None) -> None:
        """Open the registry and dead-letter file and build every stage (no thread starts yet).

        Args:
            cfg: the configuration.
            client: an Elasticsearch client with :func:`agent.sink.client_options`.
            metrics: the counters to update (shared across reloads by the daemon).
            tick: called once per reader loop (the daemon applies a pending reload there).
            state_id: the device and inode of the state directory the daemon's lock guards
                (:func:`agent.statelock.hold_state_dir`); ``None``: the one found now.

        Raises:
            auditlog.core.errors.UsageError: when the configuration cannot be turned into stages.
            auditlog.core.errors.CommandError: when ``state_id`` is given and the state directory is no longer
                that folder (removed or replaced since the lock was taken: nothing is made in the new one).
        """
        if state_id is not None and _folder_id(cfg.state_dir) != state_id:
            raise CommandError(_lost_state(cfg.state_dir))
        self.cfg = cfg
        self.metrics = metrics or Metrics()
        self.tick = tick
        self.registry = Registry(cfg.state_dir)
        # what _check_state_dir compares with at each scan: the folder the lock guards, else the one opened here
        self._state_id = state_id if state_id is not None else _folder_id(cfg.state_dir)
        try:
            self.dlq = DeadLetterWriter(cfg.state_dir, cfg.dead_letter_redaction(),
                                        record_limit(cfg["inputs.max_line_bytes"]))  # what dlq reads back
        except BaseException:  # a link or a FIFO in its place: a reload refused this way must not leak the registry
            self.registry.close()
            raise
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
                own_dir=str(cfg.state_dir),
            ),
            self.registry,
            on_lost=self._on_lost,
            on_refused=lambda path, why: self.metrics.add(Counter.FILES_REFUSED),
        )
        self.entries = EntryMaker(Parser(cfg["inputs.max_depth"]), cfg.enricher(ShipperFields.for_this_process()))
        # the pass-through's runs of lines (None once one failed unexpectedly: the per-line path does it all)
        self._run: Callable[[list[Line], int, str, str, int, Batcher], tuple[int, Batch | None]] | None = (
            self.entries.passthrough.run)
        self.batcher = Batcher(BatchSettings(cfg["batch.max_events"], cfg["batch.max_bytes"],
                                             float(cfg["batch.max_latency"])))
        workers = cfg["batch.workers"]
        self.queue: queue.Queue[Batch | None] = queue.Queue(maxsize=cfg["batch.max_in_flight"])
        # settled batches for the acknowledger; bounded by the batches that can be past the queue at once
        self._settled: queue.Queue[tuple[Batch, Settled | None] | None] = queue.Queue(maxsize=workers + 1)
        self.stopping = threading.Event()
        self._stop_requested = Wakeup()  # set by a signal handler: threading.Event's lock could deadlock it
        self.failed = False  # stopped on its own after an internal error (the daemon starts a new one)
        # set when the state directory was removed or replaced while this ran: the daemon stops with it (a new
        # pipeline would write a fresh registry without the lock the daemon holds on the old folder's file)
        self.lost_state: str | None = None
        self._unsent = 0  # batches left unsent at the shutdown deadline (said once)
        self._closed = False  # the shutdown is over: threads that outlived it end instead of waiting for ever
        self._deadline: float | None = None
        backoff = cfg.backoff()
        self.sink = Sink(
            client,
            backoff=backoff,
            metrics=self.metrics,
            dead_letter=self.dlq.write,
            stopping=self.stopping,
            deadline=self._deadline_at,
            ids=self.ids,
            slots=RequestSlots(AdaptiveLimit(workers, INITIAL_IN_FLIGHT), self.metrics),
        )
        # tamper evidence: records of acknowledged events -> signed digests (agent/digest*.py)
        self.digest_feed: DigestFeed | None = None
        self.digests: DigestWriter | None = None
        if cfg["digest.enabled"]:
            settings = DigestSettings(float(cfg["digest.interval"]), cfg["digest.max_events"])
            # the seal takes the rows this process stored from memory instead of unpacking them; one seal
            # step's worth at most, so the memory stays bounded when sealing falls behind
            mirror = PendingMirror(settings.seal_events)
            self.digest_feed = DigestFeed(mirror)
            try:
                key = load_key(cfg.state_dir)
            except KeyFileError as exc:
                raise UsageError(f"state.dir: {exc}") from None
            self.digests = DigestWriter(self.registry, client, key, cfg.tiers(), settings, mirror, self.metrics)
        self.checkpoints = Checkpointer(self.registry, self.dlq, self.metrics, backoff=backoff,
                                        stopping=self.stopping, deadline=self._deadline_at,
                                        digest_feed=self.digest_feed)
        self._digests_stop = threading.Event()
        self._holding = False  # the reader caught up but kept its partial batch: every sink slot was taken
        self._scan_failing: type[BaseException] | None = None  # the error the last scan raised (said once)
        self._watching: list[tuple[str, int, int]] = []  # the folders the watcher observes: path, device, inode
        self._watch_failing: type[BaseException] | None = None  # the error the last new watch raised (said once)
        self.watcher: Watcher | None = None
        self._senders: list[threading.Thread] = []
        self._acknowledger: threading.Thread | None = None
        self._slot_wait = 0.0  # the reader's seconds blocked on a full queue (kept apart from building time)

    def _deadline_at(self) -> float | None:
        return self._deadline

    # -- control -----------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Ask :meth:`run` to stop reading and shut down gracefully (signal-handler safe)."""
        self._stop_requested.set()
        if self.watcher is not None:
            self.watcher.wake()

    def lag(self) -> Iterator[tuple[str, str, int]]:
        """Yield (path, identity, bytes written but not yet acknowledged) per harvested file."""
        for path, key, _pos, size in list(self.tailer.sizes()):
            yield path, key, max(size - self.checkpoints.committed(key), 0)

    def run(self) -> None:
        """Ship until :meth:`request_stop`; return after the graceful shutdown."""
        cfg = self.cfg
        for i in range(cfg["batch.workers"]):
            t = threading.Thread(target=self._sender, name=f"sink-{i}", daemon=True)
            t.start()
            self._senders.append(t)
        self._acknowledger = threading.Thread(target=self._acknowledge, name="acks", daemon=True)
        self._acknowledger.start()
        if self.digests is not None:  # its first flush sends what a killed run sealed or left pending
            threading.Thread(target=self.digests.run, args=(self._digests_stop,), name="digests", daemon=True).start()
        # Watch before the recovering scan: a file created or renamed in while it runs is then signalled, and
        # a scan follows within the scan gap, rather than at the periodic rescan.
        dirs = watch_dirs(cfg["inputs.paths"])
        self._watching = _folders(dirs)
        self.watcher = make_watcher(cfg["inputs.watcher"], dirs)
        try:
            self.tailer.recover()
            self.checkpoints.load()
        except BaseException:  # a start that fails leaves no thread or open file behind (a reload builds a new one)
            self._shutdown()
            raise
        log.info("agent started", paths=cfg["inputs.paths"], state_dir=str(cfg.state_dir),
                 max_open_files=self.tailer.max_open_files,
                 watcher=getattr(self.watcher, "name", "?"), es=cfg.connection().redacted())
        rescan = float(cfg["inputs.rescan_interval"])
        poll = float(cfg["inputs.poll_interval"])
        budget = max(cfg["inputs.read_chunk_bytes"], 1 << 20)
        next_scan = time.monotonic() + rescan
        last_scan = time.monotonic()
        woke = False
        metrics, clock = self.metrics, time.perf_counter
        try:
            while not self._stop_requested.is_set():
                blocks: list[Block] = []
                handled = 0  # blocks of ``blocks`` whose every line is in a batch
                try:
                    started = clock()
                    now = time.monotonic()
                    # Files that found no free descriptor wait for the next scan: make it soon.
                    soon = woke or self.tailer.waiting > 0
                    if now >= next_scan or (soon and now - last_scan >= _MIN_SCAN_GAP):
                        # a scan that fails (a full disk, a tree it cannot walk) is tried at the next rescan, and
                        # the files already read go on being read meanwhile
                        last_scan, next_scan = now, now + rescan
                        woke = False
                        self._scan()
                    blocks = self.tailer.poll(budget)
                    read = clock()
                    metrics.spent(Part.READING, read - started)
                    waited = self._slot_wait
                    for block in blocks:
                        self._process(block)
                        handled += 1
                    self.batcher.forget_sealed()  # every block handled: nothing to give back (keeps it small)
                    metrics.set(Gauge.OPEN_FILES, self.tailer.open_files)
                    if self.batcher.due() and not self.queue.full():
                        self._submit(self.batcher.flush())
                    metrics.spent(Part.BUILDING, clock() - read - (self._slot_wait - waited))
                    self.tick()
                except _StoppedHolding:  # said when the hold began: the lines not handled are read at the next start
                    self._unread(blocks[handled:])
                    break
                except Exception:  # a bug, or a resource gone: keep going, say so, and lose no line
                    log.exception("reader loop error; retrying in a second")
                    self._unread(blocks[handled:])
                    woke = self.watcher.wait(1.0) or woke  # a change signalled meanwhile still gets its scan
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
                    soon = woke or self.tailer.waiting > 0  # as at the loop's top: a scan is wanted after the gap
                    timeout = reader_wait(time.monotonic(), poll=poll, next_scan=next_scan,
                                          scan_due=last_scan + _MIN_SCAN_GAP if soon else None)
                    # a change signalled within the scan gap is kept until a scan has seen it: dropping it
                    # left a file renamed into the folder unread until the next periodic rescan
                    woke = self.watcher.wait(timeout) or woke
        finally:
            self._shutdown()

    # -- reading -----------------------------------------------------------------------------

    def _scan(self) -> None:
        """Scan the globs; a failure is logged (once per kind of error in a row) and does not stop the reading."""
        try:
            self.tailer.scan(self.watcher.take_moves() if self.watcher is not None else ())
            self.tailer.save_sizes()
        except Exception as exc:
            if self._scan_failing is not type(exc):
                log.exception("scan failed; the files already found are still read, the scan is tried again at "
                              "the next rescan")
            self._scan_failing = type(exc)
        else:
            self._scan_failing = None
        self._watch_again()
        self._check_state_dir()

    def _check_state_dir(self) -> None:
        """Stop when the state directory is no longer the one this pipeline opened (removed, or replaced).

        Its registry, id record and lock file would be written on in a folder no one can open again, unnoticed:
        the next start would find none of them and send everything again (answered 409, nothing lost), and a
        second agent could take the new folder meanwhile. One stat per scan.
        """
        seen = _folder_id(self.cfg.state_dir)
        if seen == self._state_id or self.lost_state is not None:
            return
        self.lost_state = _lost_state(self.cfg.state_dir)
        log.error("state directory removed or replaced; stopping", state_dir=str(self.cfg.state_dir))
        self.request_stop()

    def _watch_again(self) -> None:
        """Watch the folders anew when they changed since the watch began: one appeared, or was removed, renamed
        or replaced (a link swapped) and made again. The watch stayed on the folder it began on (or on none), and
        files made in the new one waited for the periodic rescan. One stat per watched folder per scan."""
        dirs = watch_dirs(self.cfg["inputs.paths"])
        folders = _folders(dirs)
        if folders == self._watching or self.watcher is None:
            return
        self._watching = folders
        try:
            self.watcher.start(dirs)
        except Exception as exc:  # no inotify watch left...: the periodic rescan still finds every change
            if self._watch_failing is not type(exc):
                log.warning("cannot watch the folders again; files are found at the periodic rescan", dirs=dirs,
                            error=f"{exc.__class__.__name__}: {exc}"[:300])
            self._watch_failing = type(exc)
            return
        self._watch_failing = None
        log.info("watching the folders again (one appeared, or was renamed or replaced)", dirs=dirs)

    def _unread(self, blocks: list[Block]) -> None:
        """Hand blocks read but not (wholly) handled back to their files: their lines are read again, none lost.

        The first may be handled in part: the batcher says up to where (every line before that is in a batch); the
        others were not touched.
        """
        for n, block in enumerate(blocks):
            start = block.lines[0][0] if block.lines else block.end
            if n == 0:
                done = self.batcher.handled(block.key)
                if done is not None and start <= done <= block.end:
                    start = done
            self.tailer.unread(block, start)

    def _process(self, block: Block) -> None:
        key, path, block_end = block.key, block.path, block.end
        make, batcher, submit = self.entries, self.batcher, self._submit
        run = self._run
        lines = block.lines
        count, i = len(lines), 0
        # Runs are only a faster way to the same answers (the per-line path below is the reference), so they are
        # tried where they pay: again after the per-line pass-through took a line, not after a line it left to
        # the full path (another producer's file then costs no attempt per line).
        try_run = True
        while i < count:
            # the lines the C check takes whole go into the batch in one call; the first it does not take goes
            # line by line below, which decides it as before
            if try_run and run is not None:
                start = i
                try:
                    i, full = run(lines, i, key, path, block_end, batcher)
                except Exception:  # a run the C side cannot report it takes back off the batch: go line by line
                    log.exception("unexpected error in the pass-through's run of lines; runs are off from now on",
                                  path=path)
                    self._run = run = None
                    full = None
                if full is not None:
                    submit(full)
                    continue
                if i == start:
                    try_run = False
            if i >= count:
                break
            off, line = lines[i]
            i += 1
            if type(line) is bytes:
                end = off + len(line) + 1
                if end > block_end:  # an unterminated last line of a closed file
                    end = block_end
                rej: Rejected | bytes
                try:
                    entry = make(line, key, off)
                    if type(entry) is bytes:
                        stamp = make.stamp
                        full = batcher.feed(entry, (key, path, off, line), end, stamp)
                        if full is not None:
                            submit(full)
                        try_run = stamp is not None  # the pass-through took it
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
        self.metrics.add(Counter.LINES_READ, len(block.lines))

    def _dead(self, dl: DeadLetter) -> None:
        dl = self.dlq.prepare(dl)  # the logged reason is the redacted one
        held = False
        while True:
            try:
                self.dlq.append(dl)
                break
            except OSError as exc:
                # A line neither shipped nor durably dead-lettered must hold the reader (never be passed by a
                # checkpoint): a full or failing state disk is backpressure, said once, tried every second.
                if not held:
                    held = True
                    log.error("dead-letter file cannot be written; reading is held until it can",
                              path=str(self.dlq.path), error=str(exc), file=dl.file, offset=dl.offset)
                if self._stop_requested.wait(1.0):
                    # stopping: the line stays behind the checkpoint and is read again at the next start
                    raise _StoppedHolding from exc
        if held:
            log.warning("dead-letter file writable again; reading goes on", path=str(self.dlq.path))
        self.metrics.dead_lettered(dl.stage)
        log.warning("dead letter", reason=dl.reason, file=dl.file, offset=dl.offset, stage=dl.stage)

    def _on_lost(self, path: str, key: str, lost: int) -> None:
        self.metrics.add(Counter.LOST_BYTES, lost)

    def _submit(self, batch: Batch | None) -> None:
        if batch is None:
            return
        self.checkpoints.register(batch)
        try:
            self.sink.prepare(batch)
        except Exception as exc:  # e.g. the id record on a full disk: the batch must not be dropped (its lines
            # would be passed by nothing and hold their file's checkpoint for the run); the sender prepares it
            # before sending, retrying with backoff until it can
            log.warning("recording a batch's ids failed; its sender tries again before sending it",
                        error=f"{exc.__class__.__name__}: {exc}"[:300])
        self.metrics.shift(Gauge.BATCHES_IN_FLIGHT, 1)
        try:
            self.queue.put_nowait(batch)
            return
        except queue.Full:
            pass
        started = time.perf_counter()
        try:
            while True:
                # past the deadline first: each further batch of the block being read would wait a turn otherwise
                if self._deadline is not None and time.monotonic() > self._deadline:
                    if not self._unsent:
                        log.warning("shutdown deadline passed with batches unsent; they are re-read next start")
                    self._unsent += 1
                    self.metrics.shift(Gauge.BATCHES_IN_FLIGHT, -1)
                    return
                try:
                    self.queue.put(batch, timeout=0.25)
                    return
                except queue.Full:  # backpressure: Elasticsearch is slow or down, reading waits
                    if self._stop_requested.is_set():
                        self._begin_stop()
        finally:
            waited = time.perf_counter() - started
            self._slot_wait += waited
            self.metrics.spent(Part.SLOT_WAIT, waited)

    # -- sending and acknowledging -------------------------------------------------------------

    def _sender(self) -> None:
        while True:
            try:
                batch = self.queue.get(timeout=0.5)
            except queue.Empty:  # a sender that outlived the stop (a request past the deadline) ends here
                if self._closed:
                    return
                continue
            if batch is None:
                return
            if self._holding and self.watcher is not None:
                self._holding = False
                self.watcher.wake()  # a slot is free: the reader holding a partial batch may send it now
            try:
                settled = self.sink.send(batch) if batch.entries else None
            except Abandoned:
                self.metrics.shift(Gauge.BATCHES_IN_FLIGHT, -1)
                continue
            while not self._closed:  # nobody acknowledges once the pipeline closed: the batch is re-read
                try:
                    self._settled.put((batch, settled), timeout=0.5)
                    break
                except queue.Full:
                    continue

    def _acknowledge(self) -> None:
        while True:
            done = self._settled.get()
            if done is None:
                return
            if self.failed:  # drain only: a later batch's commit would move a checkpoint past the failed one
                self.metrics.shift(Gauge.BATCHES_IN_FLIGHT, -1)
                continue
            try:
                self.checkpoints.settle(*done)
            except Exception:  # a bug: this thread must live on (the senders hand it every batch) and say so
                log.exception("acknowledging a batch failed; the pipeline starts again from its last checkpoint "
                              "(nothing is lost: what is sent again is answered 409)")
                self.failed = True
                self.request_stop()
            finally:
                self.metrics.shift(Gauge.BATCHES_IN_FLIGHT, -1)

    # -- shutdown ------------------------------------------------------------------------------

    def _begin_stop(self) -> None:
        """Start the shutdown clock once: from now on the sink gives up after ``shutdown.timeout``."""
        if self._deadline is None:
            timeout = float(self.cfg["shutdown.timeout"])
            self._deadline = time.monotonic() + timeout
            self.stopping.set()
            log.info("stopping: flushing in-flight batches", timeout=timeout)

    def _shutdown(self) -> None:
        try:
            self.tick()  # the daemon logs the signal that stopped it there (its handler may not log)
        except Exception:
            log.exception("error in the loop's tick at shutdown; shutting down anyway")
        self._begin_stop()
        deadline = self._deadline or time.monotonic()
        try:
            self._submit(self.batcher.flush())
            # One clock for every wait below: senders stuck in a request that does not answer must not add a
            # wait each (64 workers added 20 s, past systemd's stop timeout, which kills: no final seal then).
            # The whole stop takes shutdown.timeout plus 2 s at most (the daemon's promise).
            for _ in self._senders:
                if not _put_by(self.queue, None, deadline + 0.5):
                    break
            for t in self._senders:
                t.join(max(deadline + 1 - time.monotonic(), 0.0))
            if self._acknowledger is not None:
                _put_by(self._settled, None, deadline + 1)  # a stuck commit: the join gives up at the deadline
                self._acknowledger.join(max(deadline + 1.5 - time.monotonic(), 0.0))
            self._digests_stop.set()
            if self.digests is not None:  # seal what was acknowledged; send it if the deadline allows
                self.digests.flush(timeout=max(deadline + 2 - time.monotonic(), 0.5))
        finally:
            self._closed = True
            if self.watcher is not None:
                self.watcher.stop()
            self.tailer.close()
            self.dlq.close()
            if self.ids is not None:
                self.ids.close()
            self.registry.close()
            log.info("stopped", in_flight=self.checkpoints.in_flight(), shipped=self.metrics.events_shipped,
                     duplicates=self.metrics.events_duplicate, dead_letters=self.metrics.dead_lettered_total)
