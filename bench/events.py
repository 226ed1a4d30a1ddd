"""Realistic audit events for the benchmarks, written once per size and reused by every shipper.

The events come from the product's own fabricator (``agent.demo_data.fabricate``: tenants across all
tiers, workers, the seed's sources and types, Raw changes and Meta), so the benchmark ships what the demo
and the tests ship.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from agent.demo_data import fabricate

SOURCE = "agent.demo_data.fabricate"


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


def write_events(path: Path, count: int, *, seed: int = 7, window: tuple[datetime, datetime] | None = None,
                 drop_ids: bool = False) -> EventFile:
    """Write ``count`` events as JSON lines to ``path`` (replacing it).

    Args:
        path: the file to write.
        count: number of lines.
        seed: fabricator seed.
        window: ``(start, end)`` of the timestamps; default ``default_window()``.
        drop_ids: leave ``event.id`` out (the agent then derives ids from file identity + offset).

    Returns:
        What was written.
    """
    start, end = window or default_window()
    path.parent.mkdir(parents=True, exist_ok=True)
    size = 0
    with path.open("wb") as out:
        chunk: list[bytes] = []
        for event in fabricate(count, seed=seed, start=start, end=end):
            if drop_ids:
                event.get("event", {}).pop("id", None)
            chunk.append(orjson.dumps(event) + b"\n")
            if len(chunk) >= 5000:
                data = b"".join(chunk)
                size += len(data)
                out.write(data)
                chunk.clear()
        data = b"".join(chunk)
        size += len(data)
        out.write(data)
    return EventFile(path=path, count=count, size_bytes=size, source=SOURCE)


def event_lines(count: int, *, seed: int, window: tuple[datetime, datetime] | None = None) -> Iterator[bytes]:
    """Yield ``count`` serialised event lines (with newline) without touching the disk."""
    start, end = window or default_window()
    for event in fabricate(count, seed=seed, start=start, end=end):
        yield orjson.dumps(event) + b"\n"
