"""Cancel flags and daemon threads: work that is given up stops at its next step and never holds the exit."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from auditlog.core.background import Cancelled, DaemonExecutor, check, results


def test_check_raises_once_the_flag_is_set() -> None:
    """A set cancel flag makes check raise Cancelled."""
    flag = threading.Event()
    flag.set()
    with pytest.raises(Cancelled):
        check(flag)


def test_check_passes_without_a_flag() -> None:
    """No flag (None) means never cancelled: check returns and the work goes on."""
    steps = []
    check(None)
    steps.append("went on")
    assert steps == ["went on"]


def test_executor_runs_calls_in_daemon_threads() -> None:
    """A submitted call runs in a daemon thread and its future has the result."""
    future = DaemonExecutor().submit(lambda: threading.current_thread().daemon)
    assert future.result(timeout=5) is True


def test_a_hanging_call_does_not_delay_the_next() -> None:
    """Each call gets its own thread: one that hangs does not queue the next behind it."""
    executor, hang = DaemonExecutor(), threading.Event()
    executor.submit(hang.wait, 30)
    try:
        assert executor.submit(lambda: 7).result(timeout=2) == 7
    finally:
        hang.set()


def test_shutdown_returns_while_a_call_hangs() -> None:
    """shutdown(wait=True) returns at once although a call still runs."""
    executor, hang = DaemonExecutor(), threading.Event()
    executor.submit(hang.wait, 30)
    started = time.monotonic()
    executor.shutdown(wait=True)
    hang.set()
    assert time.monotonic() - started < 1.0


def test_submit_after_shutdown_is_refused() -> None:
    """A call submitted after shutdown raises RuntimeError."""
    executor = DaemonExecutor()
    executor.shutdown()
    with pytest.raises(RuntimeError):
        executor.submit(lambda: None)


def test_the_interpreter_exits_while_a_call_hangs() -> None:
    """A process whose default asyncio executor is a DaemonExecutor ends at once although a call in it hangs."""
    code = ("import asyncio, time\n"
            "from auditlog.core.background import DaemonExecutor\n"
            "async def main():\n"
            "    loop = asyncio.get_running_loop(); loop.set_default_executor(DaemonExecutor())\n"
            "    loop.run_in_executor(None, time.sleep, 60); await asyncio.sleep(0.1)\n"
            "asyncio.run(main())\n")
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)
    assert time.monotonic() - started < 10


def test_results_gives_up_when_cancelled() -> None:
    """Waiting for a hanging call ends with Cancelled soon after the flag is set."""
    hang, flag = threading.Event(), threading.Event()
    future = DaemonExecutor().submit(hang.wait, 30)
    threading.Timer(0.1, flag.set).start()
    started = time.monotonic()
    try:
        with pytest.raises(Cancelled):
            results([future], flag)
    finally:
        hang.set()
    assert time.monotonic() - started < 2


def test_results_are_in_the_order_of_the_futures() -> None:
    """The results come back in the order the futures were given, whichever finished first."""
    executor = DaemonExecutor()
    slow = executor.submit(lambda: "slow" if not threading.Event().wait(0.2) else "")
    fast = executor.submit(lambda: "fast")
    assert results([slow, fast], None) == ["slow", "fast"]


def test_results_raises_the_first_failure_without_waiting_for_the_rest() -> None:
    """A call that fails ends the wait with its exception while another still hangs."""
    executor, hang = DaemonExecutor(), threading.Event()
    hanging = executor.submit(hang.wait, 30)
    failing = executor.submit(lambda: 1 / 0)
    try:
        with pytest.raises(ZeroDivisionError):
            results([hanging, failing], None)
    finally:
        hang.set()
