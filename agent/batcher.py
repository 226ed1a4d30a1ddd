"""Batcher: bulk entries -> batches bounded by event count, bytes and latency.

Shaped like elasticsearch-py's ``_ActionChunker`` (``feed()`` returns a full chunk, ``flush()``
returns the rest) plus a latency bound for files that keep trickling (the pipeline also flushes as
soon as it has caught up with every file). Besides entries, a batch records for every file identity the
offset just after the last line it covers, including lines that were dead-lettered or blank, so
acknowledging the batch can move that file's checkpoint (see :mod:`agent.acks`).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

#: Where an entry came from: (file identity, path, line offset, original line bytes).
Origin = tuple[str, str, int, bytes]
#: What tamper evidence needs of an entry that the pass-through knows anyway: (index, ``event.id``,
#: ``@timestamp``, ``audit.stream``, ``audit.seq``); ``None`` when the entry has none at hand.
Stamp = tuple[str, str, str, str | None, int | None]


@dataclass(slots=True)
class Batch:
    """Bulk entries ready to send, where they came from, and the file offsets they complete."""

    seq: int
    entries: list[bytes] = field(default_factory=list)
    origins: list[Origin] = field(default_factory=list)
    ends: dict[str, int] = field(default_factory=dict)
    nbytes: int = 0
    lines: int = 0  # lines covered, shipped or not (for metrics)
    started: float = 0.0
    stamps: list[Stamp | None] = field(default_factory=list)  # one per fed entry (agent.digest reads them)
    body: bytes = b""  # the bulk request body, built once at sealing (the entries joined)
    prepared: bool = False  # what must precede sending is done (agent.sink.Sink.prepare)
    conflicts: list[int] = field(default_factory=list)  # entries reusing an id with other content: never sent

    def __len__(self) -> int:
        return len(self.entries)


@dataclass(frozen=True)
class BatchSettings:
    """Bounds of one bulk request."""

    max_events: int = 2000
    max_bytes: int = 4 * 1024 * 1024
    max_latency: float = 1.0

    def __post_init__(self) -> None:
        if self.max_events < 1 or self.max_bytes < 1024 or self.max_latency <= 0:
            raise ValueError("batch bounds must be positive (max_bytes >= 1024)")


class Batcher:
    """Accumulates entries; hands out a sealed :class:`Batch` when a bound is reached."""

    def __init__(self, settings: BatchSettings, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.clock = clock
        self._max_events = settings.max_events
        self._max_bytes = settings.max_bytes
        self._seq = itertools.count(1)
        self._batch = self._new()
        self._sealed_ends: dict[str, int] = {}  # per file, the end the sealed batches cover (see handled)

    def _new(self) -> Batch:
        return Batch(next(self._seq))

    def feed(self, entry: bytes, origin: Origin, end: int, stamp: Stamp | None = None) -> Batch | None:
        """Add one entry covering its file up to ``end``; return the sealed batch if it is now full."""
        b = self._batch
        if not b.started:
            b.started = self.clock()
        entries = b.entries
        entries.append(entry)
        b.origins.append(origin)
        b.stamps.append(stamp)
        b.ends[origin[0]] = end
        b.nbytes += len(entry)
        b.lines += 1
        if len(entries) >= self._max_events or b.nbytes >= self._max_bytes:
            return self.flush()
        return None

    def room(self) -> tuple[list[bytes], list[Origin], list[Stamp | None], int, int]:
        """The open batch's entry, origin and stamp lists, and the entries and bytes it takes before it is full.

        For a caller that appends to the three lists itself (the pass-through's run of lines,
        :meth:`agent.fastpath.PassThrough.run`), then reports with :meth:`took`.
        """
        b = self._batch
        return b.entries, b.origins, b.stamps, self._max_events - len(b.entries), self._max_bytes - b.nbytes

    def took(self, key: str, added: int, nbytes: int, end: int) -> Batch | None:
        """Account for ``added`` entries of ``nbytes`` bytes appended to :meth:`room`'s lists, covering ``key`` up to
        ``end``; return the sealed batch if it is now full (as :meth:`feed` does per entry)."""
        b = self._batch
        if not b.started:
            b.started = self.clock()
        b.ends[key] = end
        b.nbytes += nbytes
        b.lines += added
        if len(b.entries) >= self._max_events or b.nbytes >= self._max_bytes:
            return self.flush()
        return None

    def advance(self, key: str, end: int, lines: int = 1) -> None:
        """Cover ``lines`` lines of ``key`` up to ``end`` that produce no entry (dead-lettered, blank)."""
        b = self._batch
        if not b.started:
            b.started = self.clock()
        b.ends[key] = end
        b.lines += lines

    def forget_sealed(self) -> None:
        """Forget what sealed batches covered (:meth:`handled` needs it only for the blocks being processed)."""
        self._sealed_ends.clear()

    def handled(self, key: str) -> int | None:
        """The offset up to which lines of ``key`` were handed to this batcher (fed or covered), if any.

        What the reader re-reads from when processing a block failed halfway (:meth:`agent.tailer.Tailer.unread`):
        every line before it is in a batch already, none after it.
        """
        end = self._batch.ends.get(key)
        return end if end is not None else self._sealed_ends.get(key)

    def due(self) -> bool:
        """True when the open batch holds something and is older than the latency bound."""
        b = self._batch
        return bool(b.ends) and self.clock() - b.started >= self.settings.max_latency

    def flush(self) -> Batch | None:
        """Seal and return the open batch (None when it covers nothing)."""
        b = self._batch
        if not b.ends:
            return None
        self._batch = self._new()
        self._sealed_ends.update(b.ends)
        # Built here, by the reader, so a sender that gets an answer finds the next body ready.
        b.body = b"".join(b.entries)
        return b
