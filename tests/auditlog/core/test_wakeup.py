"""Wakeup: a flag a signal handler may raise at any moment of a wait, from any thread, without a deadlock."""

from __future__ import annotations

import os
import resource
import select
import threading

from auditlog.core import wakeup
from auditlog.core.wakeup import Wakeup
from tests.support.reentry import survives_handler_everywhere


def _waits_and_clears(w: Wakeup, times: int = 50) -> None:
    for _ in range(times):
        w.wait(0.001)
        w.clear()


def test_set_from_another_thread_ends_a_wait() -> None:
    """A set from another thread ends a long wait, which returns True."""
    w = Wakeup()
    threading.Timer(0.05, w.set).start()
    assert w.wait(30.0) is True


def test_a_wait_with_nothing_set_returns_false() -> None:
    """A wait that nobody ends returns False after its timeout."""
    assert Wakeup().wait(0.01) is False


def test_the_flag_stays_raised_until_cleared() -> None:
    """After set, waits return True at once until clear; then they time out again."""
    w = Wakeup()
    w.set()
    raised = (w.is_set(), w.wait(0), w.wait(0))
    w.clear()
    assert (raised, w.is_set(), w.wait(0.01)) == ((True, True, True), False, False)


def test_a_handler_setting_it_at_any_bytecode_of_wait_and_clear_never_deadlocks() -> None:
    """The handler's set, run before every bytecode of wait and clear (as a signal may), lets them end."""
    w = Wakeup()
    assert survives_handler_everywhere(lambda: _waits_and_clears(w), w.set, [wakeup], timeout=30)


def test_the_harness_catches_what_threading_event_does_in_a_handler() -> None:
    """threading.Event.set in a handler that interrupts Event.wait deadlocks: why Wakeup exists (harness check)."""
    event = threading.Event()
    assert not survives_handler_everywhere(lambda: event.wait(0.01), event.set, [threading], timeout=2)


def test_a_byte_whose_flag_a_clear_lowered_is_dropped_not_spun_on() -> None:
    """A wake byte left with the flag lowered (a set overtaken by a clear) is read away by the next wait."""
    w = Wakeup()
    w.set()
    w._flag = False  # what a clear between set's flag and its write leaves behind
    poll = select.poll()
    poll.register(w._read, select.POLLIN)
    assert (w.wait(0.02), poll.poll(0)) == (False, [])


def test_a_wait_works_on_a_descriptor_numbered_above_1024() -> None:
    """Waiting works when the pipe's descriptors are numbered over 1024 (select would refuse them)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(2048, hard), hard))
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        w = Wakeup()
        threading.Timer(0.05, w.set).start()
        assert (w._read > 1024, w.wait(30.0)) == (True, True)
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
