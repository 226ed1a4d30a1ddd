"""The demo app: fabricated events written through the real emitter, as a history and as a live trickle.

``DemoGenerator`` takes events from :func:`auditlog.demo.data.fabricate` and hands each one to an
``EventWriter`` (normally :func:`emitter_writer`, the product's own emitter writing JSON lines to a
file), in two phases:

1. back-fill: ``backfill_count`` events spread over the last ``backfill_days`` days (office-hours
   profile), with their historic ``@timestamp`` and a reproducible ``event.id``, so retention and the
   histogram have something to show;
2. live: ``rate`` events per second for ``duration`` seconds (``0`` = until stopped). Live events
   leave ``@timestamp`` and ``event.id`` to the emitter, exactly like an application's calls.

The generator is paced against an injectable clock and stops cleanly on ``stop()`` (from a signal
handler or another thread); it never buffers more than one event.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from auditlog.agent.emitter import AppendWriter, AuditEmitter, LineWriter, build_processors
from auditlog.agent.redact import DEFAULT_SECRET_KEYS, Redactor
from auditlog.core.wakeup import Wakeup
from auditlog.demo.data import emitter_call, fabricate

#: Writes one nested contract event (the emitter adds what is missing: id, timestamp, changed fields).
EventWriter = Callable[[dict[str, Any]], None]

#: the longest history window: a century (more leaves the calendar)
MAX_BACKFILL_DAYS = 36_500.0

_LIVE_CHUNK = 1000  # live events are fabricated in chunks of this many (each chunk its own seed)


@dataclass(frozen=True)
class DemoPlan:
    """What the demo app writes: a back-filled history, then a live trickle."""

    backfill_days: float = 0.0
    backfill_count: int = 0
    rate: float = 0.0
    duration: float | None = None  # seconds of live events; None or 0 = until stopped
    seed: int = 0

    def __post_init__(self) -> None:
        numbers = (self.backfill_days, self.rate, 0.0 if self.duration is None else self.duration)
        if not all(math.isfinite(n) for n in numbers):  # nan passes "< 0", inf overflows the clock later
            raise ValueError("backfill days, rate and duration must be finite numbers")
        if self.backfill_days < 0 or self.backfill_count < 0:
            raise ValueError("backfill days and count must be >= 0")
        if self.backfill_days > MAX_BACKFILL_DAYS:
            raise ValueError(f"backfill days must be at most {MAX_BACKFILL_DAYS:g}, got {self.backfill_days:g}")
        if self.backfill_count and not self.backfill_days:
            raise ValueError("a back-fill count needs --backfill-days > 0")
        if self.rate < 0:
            raise ValueError(f"rate must be >= 0 events per second, got {self.rate}")
        if self.duration is not None and self.duration < 0:
            raise ValueError(f"duration must be >= 0 seconds, got {self.duration}")


@dataclass
class DemoStats:
    """How many events each phase wrote."""

    backfilled: int = 0
    live: int = 0


class DemoGenerator:
    """Writes the events of a ``DemoPlan`` through an ``EventWriter``."""

    def __init__(
        self,
        plan: DemoPlan,
        writer: EventWriter,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        wait: Callable[[float], bool] | None = None,
    ) -> None:
        """Prepare the generator (nothing is written yet).

        Args:
            plan: what to write.
            writer: where each event goes.
            clock: monotonic seconds, paces the live phase.
            wall_clock: now, the end of the back-fill window.
            wait: sleeps up to the given seconds, returns True when stopped (default: the stop event).
        """
        self.plan = plan
        self.writer = writer
        self.stats = DemoStats()
        self._clock = clock
        self._wall_clock = wall_clock
        self._stopped = Wakeup()  # stop() runs in a signal handler: threading.Event's lock could deadlock it
        self._wait = wait or self._stopped.wait

    def stop(self) -> None:
        """Ask the generator to finish after the current event (thread- and signal-safe)."""
        self._stopped.set()

    @property
    def stopped(self) -> bool:
        """Whether ``stop()`` was called."""
        return self._stopped.is_set()

    def run(self) -> DemoStats:
        """Write the back-fill, then the live trickle, until done or stopped.

        Returns:
            The counts written.
        """
        self.backfill()
        self.live()
        return self.stats

    def backfill(self) -> int:
        """Write the history phase; returns the number of events written."""
        plan = self.plan
        if not plan.backfill_count:
            return 0
        end = self._wall_clock()
        start = end - timedelta(days=plan.backfill_days)
        for event in fabricate(plan.backfill_count, seed=plan.seed, start=start, end=end):
            if self.stopped:
                break
            self.writer(event)
            self.stats.backfilled += 1
        return self.stats.backfilled

    def live(self) -> int:
        """Write ``rate`` events per second for ``duration`` seconds; returns the number written."""
        plan = self.plan
        if not plan.rate:
            return 0
        total = int(plan.duration * plan.rate) if plan.duration else None
        began = self._clock()
        events = self._live_events()
        while not self.stopped:
            due = int((self._clock() - began) * plan.rate) + 1  # the first event goes out at once
            if total is not None:
                if self.stats.live >= total:
                    break
                due = min(due, total)
            while self.stats.live < due and not self.stopped:
                self.writer(next(events))
                self.stats.live += 1
            # Sleep until the next event is due; naps of at most 0.5 s keep stop() responsive.
            pause = self.stats.live / plan.rate - (self._clock() - began)
            if self._wait(min(max(pause, 0.0), 0.5)):
                break
        return self.stats.live

    def _live_events(self) -> Iterator[dict[str, Any]]:
        chunk = 0
        while True:
            # The range only shapes the content; the emitter stamps the real time and id.
            now = self._wall_clock()
            for event in fabricate(_LIVE_CHUNK, seed=self.plan.seed + 1 + chunk, start=now - timedelta(hours=1),
                                   end=now):
                del event["@timestamp"]
                del event["event"]["id"]
                yield event
            chunk += 1


def emitter_writer(path: Path | LineWriter) -> tuple[EventWriter, Callable[[], None]]:
    """Return a writer that records events through the product's emitter into ``path``, and its closer.

    Each event becomes the call an application makes (``audit.update(message, changes=..., tenant=...)``,
    see :func:`auditlog.demo.data.emitter_call`), through the same processor chain as ``configure()`` builds
    (redaction of secrets in changes, ECS categorisation, changed fields, validation, one ``os.write`` per
    line). Strict: an event the contract refuses raises instead of being dropped silently. The emitter is
    private to the demo (``configure()``'s process-wide one is left alone).

    Args:
        path: the JSON-lines file to append to (its folder must exist), or a ready line writer (the
            benchmarks collect the lines in memory).

    Returns:
        ``(write, close)``.

    Raises:
        ValueError / OSError: when the file cannot be opened (the message names it).
    """
    writer = AppendWriter(path) if isinstance(path, Path) else path
    emitter = AuditEmitter(writer, build_processors(Redactor(DEFAULT_SECRET_KEYS)), strict=True)
    audit = emitter.logger()

    def write(event: dict[str, Any]) -> None:
        verb, message, kwargs = emitter_call(event)
        getattr(audit, verb)(message, **kwargs)

    return write, emitter.close
