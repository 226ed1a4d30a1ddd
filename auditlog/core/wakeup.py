"""A flag that a signal handler may raise: ``Wakeup`` (set, wait, clear) on a pipe, with no lock.

Why not ``threading.Event``: its ``set`` takes the lock of a Condition that ``wait`` holds for a few bytecodes
on every call. A signal handler runs in the main thread between bytecodes; when the main thread was inside
``Event.wait`` holding that lock, the handler's ``set`` waits for a lock its own thread holds, for ever (seen:
an agent that logged "stop signal received" and never stopped). ``Wakeup.set`` is an ``os.write`` of one byte
to a non-blocking pipe: no Python lock, safe from a handler and from any thread. ``wait`` is a ``poll`` of the
pipe's read end (``poll``, not ``select``: the agent may hold thousands of descriptors, and ``select`` refuses
one numbered 1024 or more).

The descriptors are closed when the object is collected, never earlier: closed while a thread might still
``set``, a reused descriptor number would take the byte meant for the pipe.
"""

from __future__ import annotations

import contextlib
import os
import select
import time


class Wakeup:
    """A settable flag whose ``set`` is safe in a signal handler and from any thread."""

    def __init__(self) -> None:
        self._flag = False
        self._read, self._write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._poll = select.poll()
        self._poll.register(self._read, select.POLLIN)

    def set(self) -> None:
        """Raise the flag and wake a waiter (never blocks, takes no lock)."""
        if self._flag:  # raised, so its byte is written (a storm of sets costs no system call)
            return
        self._flag = True
        with contextlib.suppress(BlockingIOError):  # the pipe is full of earlier wakes: a waiter wakes anyway
            os.write(self._write, b"\0")

    def is_set(self) -> bool:
        """Return whether the flag is raised."""
        return self._flag

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the flag is raised or ``timeout`` seconds pass; return whether it is raised.

        Args:
            timeout: seconds; None waits without end.

        Returns:
            True when the flag is raised (it stays raised until :meth:`clear`).
        """
        deadline = None if timeout is None else time.monotonic() + max(timeout, 0.0)
        while not self._flag:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            # poll is restarted after a signal handler ran (PEP 475), with the time left; a handler that sets
            # this flag has written the byte poll wakes for
            if self._poll.poll(None if left is None else left * 1000.0) and not self._flag:
                self._drain()  # a byte whose flag a clear lowered (set raced it): drop it, or poll spins on it
        return True

    def clear(self) -> None:
        """Lower the flag and drop the wakes written so far."""
        self._flag = False
        self._drain()

    def _drain(self) -> None:
        # one read: a loop could go on for ever under a storm of sets; a byte left over is dropped by wait
        with contextlib.suppress(BlockingIOError):
            os.read(self._read, 1 << 16)

    def __del__(self) -> None:
        for fd in (getattr(self, "_read", -1), getattr(self, "_write", -1)):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
