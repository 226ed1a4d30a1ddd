"""Watchers: watchdog wakes the pipeline on a change; polling just times out; the factory picks one."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from auditlog.agent.watcher import PollingWatcher, WatchdogWatcher, make_watcher
from auditlog.core.wakeup import Wakeup
from tests.agent.tailer_support import wait_for_moves


def test_watchdog_wakes_on_append(tmp_path: Path) -> None:
    """Appending to a file in a watched directory wakes the waiter well before the timeout."""
    w = make_watcher("watchdog", [str(tmp_path)])
    try:
        assert isinstance(w, WatchdogWatcher)
        threading.Timer(0.2, lambda: (tmp_path / "a.log").write_text("x\n")).start()
        started = time.monotonic()
        woke = w.wait(10.0)
        assert (woke, time.monotonic() - started < 5.0) == (True, True)
    finally:
        w.stop()


def test_a_fresh_watchdog_watcher_signals_nothing(tmp_path: Path) -> None:
    """Starting a watcher is not a change: its first wait without any event reports none."""
    w = make_watcher("watchdog", [str(tmp_path)])
    try:
        assert w.wait(0.05) is False
    finally:
        w.stop()


def test_polling_waits_for_the_timeout(tmp_path: Path) -> None:
    """The polling watcher reports no event and returns after its timeout."""
    w = make_watcher("polling", [str(tmp_path)])
    assert (isinstance(w, PollingWatcher), w.wait(0.05)) == (True, False)


def test_wake_interrupts_a_wait() -> None:
    """wake() (used by signal handlers) ends a wait at once."""
    w = PollingWatcher()
    threading.Timer(0.1, w.wake).start()
    assert w.wait(10.0) is True


def test_a_wake_just_after_a_timed_out_wait_is_kept_for_the_next() -> None:
    """A change signalled between a wait's timeout and its return wakes the next wait instead of being lost."""

    class LateWake(Wakeup):
        def wait(self, timeout: float | None = None) -> bool:
            woke = super().wait(0)
            self.set()  # the watcher's thread signals right after the waiter timed out
            return woke

    w = PollingWatcher()
    w._event = LateWake()
    assert (w.wait(0.01), w.wait(0.01)) == (False, True)


def test_unknown_kind_is_rejected() -> None:
    """An unknown watcher kind raises at construction."""
    with pytest.raises(ValueError, match="unknown watcher"):
        make_watcher("inotify2")


def test_watchdog_remembers_renames_until_taken(tmp_path: Path) -> None:
    """A file rename is reported once by take_moves() as (source, destination)."""
    w = make_watcher("watchdog", [str(tmp_path)])
    try:
        (tmp_path / "audit.log").write_text("x\n")
        os.rename(tmp_path / "audit.log", tmp_path / "audit.log.1")
        moves = wait_for_moves(w)
        assert (moves, w.take_moves()) == ([(str(tmp_path / "audit.log"), str(tmp_path / "audit.log.1"))], [])
    finally:
        w.stop()


def test_polling_reports_no_renames() -> None:
    """The polling watcher cannot see renames; the tailer's sibling search covers them."""
    assert PollingWatcher().take_moves() == []


def test_a_wake_at_any_bytecode_of_a_wait_ends_it() -> None:
    """wake() run before every bytecode of wait (as a signal handler may) never deadlocks the waiter."""
    from auditlog.agent import watcher
    from auditlog.core import wakeup
    from tests.support.reentry import survives_handler_everywhere

    w = PollingWatcher()
    assert survives_handler_everywhere(lambda: [w.wait(0.001) for _ in range(20)], w.wake,
                                       [threading, wakeup, watcher], timeout=30)
