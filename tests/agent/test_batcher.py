"""Batcher: count, byte and latency bounds; per-file end offsets."""

from __future__ import annotations

from auditlog.agent.batcher import Batcher, BatchSettings
from tests.agent.tailer_support import FakeClock


def feed(b: Batcher, n: int, size: int = 10, key: str = "k") -> list:
    out = []
    for i in range(n):
        full = b.feed(b"x" * size, (key, "p", i * 10, b""), (i + 1) * 10)
        if full is not None:
            out.append(full)
    return out


def test_seals_at_max_events() -> None:
    """A batch is handed out as soon as it holds max_events entries."""
    batches = feed(Batcher(BatchSettings(max_events=3)), 7)
    assert [len(b) for b in batches] == [3, 3]


def test_seals_at_max_bytes() -> None:
    """A batch is handed out once its entries reach max_bytes."""
    batches = feed(Batcher(BatchSettings(max_events=1000, max_bytes=1024)), 5, size=600)
    assert [len(b) for b in batches] == [2, 2]


def test_due_after_max_latency() -> None:
    """A non-empty batch is due once it is older than max_latency."""
    clock = FakeClock()
    b = Batcher(BatchSettings(max_latency=0.5), clock=clock)
    feed(b, 1)
    clock.now += 0.6
    assert b.due()


def test_advance_covers_lines_without_entries() -> None:
    """Dead-lettered lines move the batch's end offset without adding an entry."""
    b = Batcher(BatchSettings())
    b.advance("k", 99)
    batch = b.flush()
    assert batch is not None
    assert (batch.ends, len(batch)) == ({"k": 99}, 0)


def test_flush_of_empty_batch_is_none() -> None:
    """Flushing with nothing fed returns None."""
    assert Batcher(BatchSettings()).flush() is None


def test_sequence_numbers_increase() -> None:
    """Each sealed batch has a larger sequence number than the previous one."""
    b = Batcher(BatchSettings(max_events=1))
    batches = feed(b, 3)
    assert [x.seq for x in batches] == [1, 2, 3]
