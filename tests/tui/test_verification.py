"""Which verification runs when: one at a time, and only the newest filter's after a burst of changes."""

from __future__ import annotations

from auditlog.indexer.query import Filter
from auditlog.tui.verification import VerificationQueue

A, B, C = Filter(text="a"), Filter(text="b"), Filter(text="c")


def test_the_first_filter_starts_at_once() -> None:
    """With nothing running, asking returns an unset cancel flag to start with."""
    cancel = VerificationQueue().ask(A)
    assert cancel is not None and not cancel.is_set()


def test_a_new_filter_cancels_the_running_one_and_waits() -> None:
    """Asking for another filter while one runs sets the running one's flag and starts nothing yet."""
    queue = VerificationQueue()
    running = queue.ask(A)
    assert (None, True) == (queue.ask(B), running is not None and running.is_set())


def test_only_the_newest_waiting_filter_starts_next() -> None:
    """After a burst of filters, the end of the running verification starts only the last filter's."""
    queue = VerificationQueue()
    queue.ask(A)
    queue.ask(B)
    queue.ask(C)
    nxt = queue.finished()
    assert (C, False) == (nxt[0] if nxt else None, nxt[1].is_set() if nxt else True)


def test_nothing_starts_when_nothing_waits() -> None:
    """A verification that ends with no filter waiting starts no other."""
    queue = VerificationQueue()
    queue.ask(A)
    assert queue.finished() is None


def test_asking_for_the_running_filter_keeps_it() -> None:
    """Asking again for the filter that runs neither cancels it nor queues a second run."""
    queue = VerificationQueue()
    running = queue.ask(A)
    queue.ask(A)
    assert (False, None) == (running is not None and running.is_set(), queue.finished())


def test_coming_back_to_a_cancelled_filter_runs_it_again() -> None:
    """A filter whose run was cancelled by another, asked for again, waits and runs anew."""
    queue = VerificationQueue()
    queue.ask(A)
    queue.ask(B)
    queue.ask(A)
    nxt = queue.finished()
    assert A == (nxt[0] if nxt else None)


def test_stop_cancels_the_running_one_and_forgets_the_waiting() -> None:
    """stop sets the running flag, and its end starts nothing."""
    queue = VerificationQueue()
    running = queue.ask(A)
    queue.ask(B)
    queue.stop()
    assert (True, None) == (running is not None and running.is_set(), queue.finished())
