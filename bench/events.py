"""Realistic audit events for the benchmarks, written once per size and reused by every shipper.

The events come from the product's own fabricator (``auditlog.demo.data.fabricate``: tenants across all
tiers, workers, the seed's sources and types, Raw changes and Meta) and are written through the product's
emitter exactly as an application writes them (``auditlog.demo.generator.emitter_writer``: validated, redacted, ECS
categories and ``audit.changed_fields`` added), so the benchmark ships what production files hold and what
the demo ships. Lines from producers other than the emitter lack the categories and changed fields and
take the agent's full path (see ``agent/fastpath.py``); ``bench/stage_cost.py`` measures both paths.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from auditlog.demo.data import fabricate
from auditlog.demo.generator import emitter_writer

SOURCE = "auditlog.demo.data.fabricate through auditlog.demo.generator.emitter_writer"


@dataclass(frozen=True)
class EventFile:
    """A file of JSON lines written for one benchmark size."""

    path: Path
    count: int
    size_bytes: int
    source: str

    @property
    def mean_line_bytes(self) -> float:
        """Average line length including the newline."""
        return self.size_bytes / self.count if self.count else 0.0


def default_window(now: datetime | None = None) -> tuple[datetime, datetime]:
    """Return the benchmark's event time window: the last two days up to the current hour (UTC)."""
    end = (now or datetime.now(UTC)).replace(minute=0, second=0, microsecond=0)
    return end - timedelta(days=2), end


class _Collected:
    """Line writer that keeps what the emitter writes in memory."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []

    def write(self, line: bytes) -> None:
        self.lines.append(line)

    def close(self) -> None:
        self.lines.clear()


def event_lines(count: int, *, seed: int, window: tuple[datetime, datetime] | None = None) -> Iterator[bytes]:
    """Yield ``count`` event lines (with newline) as the emitter writes them, without touching the disk."""
    start, end = window or default_window()
    collected = _Collected()
    write, close = emitter_writer(collected)
    for event in fabricate(count, seed=seed, start=start, end=end):
        write(event)
        yield from collected.lines
        collected.lines.clear()
    close()


def write_events(path: Path, count: int, *, seed: int = 7,
                 window: tuple[datetime, datetime] | None = None) -> EventFile:
    """Write ``count`` events as JSON lines to ``path`` (replacing it).

    Args:
        path: the file to write.
        count: number of lines.
        seed: fabricator seed.
        window: ``(start, end)`` of the timestamps; default ``default_window()``.

    Returns:
        What was written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    size = 0
    with path.open("wb") as out:
        chunk: list[bytes] = []
        for line in event_lines(count, seed=seed, window=window):
            chunk.append(line)
            if len(chunk) >= 5000:
                data = b"".join(chunk)
                size += len(data)
                out.write(data)
                chunk.clear()
        data = b"".join(chunk)
        size += len(data)
        out.write(data)
    return EventFile(path=path, count=count, size_bytes=size, source=SOURCE)
