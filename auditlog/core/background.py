"""Blocking work that can be given up: a cancel flag checked between steps, and threads that never hold the exit.

A network request cannot be interrupted from outside; what can be done is (1) not start the next one
once the result is no longer wanted (:func:`check` between requests or batches raises
:class:`Cancelled`), and (2) not wait for the one in flight when the program ends
(:class:`DaemonExecutor`: its threads are daemons and its ``shutdown`` returns at once, so neither
``asyncio.run`` nor the interpreter's exit waits up to a request timeout for them).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import Any, ParamSpec, TypeVar

__all__ = ["Cancelled", "DaemonExecutor", "check", "results"]

P = ParamSpec("P")
T = TypeVar("T")

#: Seconds between looks at the cancel flag while waiting for threads (bounds how late a cancel is noticed).
POLL = 0.1


class Cancelled(Exception):
    """The work stopped early because its cancel flag was set (nobody wants its result any more)."""


def check(cancel: threading.Event | None) -> None:
    """Stop here when ``cancel`` is set.

    Args:
        cancel: the flag the caller sets to give the work up; ``None``: never cancelled.

    Raises:
        Cancelled: when the flag is set.
    """
    if cancel is not None and cancel.is_set():
        raise Cancelled


class DaemonExecutor(ThreadPoolExecutor):
    """Runs every call in a new daemon thread; ``shutdown`` never waits (a blocked call must not hold the exit).

    A ``ThreadPoolExecutor`` only by type (``asyncio``'s ``set_default_executor`` insists on one): no pool,
    no queue, so a call never waits behind calls that hang on the network. The calls it is meant for
    are requests that end by their own timeout; at exit they are simply abandoned.
    """

    def __init__(self, thread_name_prefix: str = "auditlog-daemon") -> None:
        super().__init__(max_workers=1, thread_name_prefix=thread_name_prefix)
        self._prefix = thread_name_prefix
        self._count = 0
        self._closed = False
        self._guard = threading.Lock()

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Start ``fn(*args, **kwargs)`` in a daemon thread now.

        Returns:
            The call's future.

        Raises:
            RuntimeError: after ``shutdown``.
        """
        future: Future[T] = Future()
        with self._guard:
            if self._closed:
                raise RuntimeError("cannot schedule new futures after shutdown")
            self._count += 1
            name = f"{self._prefix}-{self._count}"

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:  # handed to whoever waits on the future
                future.set_exception(exc)
            else:
                future.set_result(result)

        threading.Thread(target=run, name=name, daemon=True).start()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Refuse new calls; return at once whatever ``wait`` says (running calls are abandoned, not awaited)."""
        with self._guard:
            self._closed = True


def results(futures: Iterable[Future[Any]], cancel: threading.Event | None) -> list[Any]:
    """Wait for every future's result, giving up as soon as ``cancel`` is set.

    Args:
        futures: calls running in other threads (e.g. on a :class:`DaemonExecutor`).
        cancel: the caller's cancel flag; ``None``: wait until all are done.

    Returns:
        The results, in the order of ``futures``.

    Raises:
        Cancelled: when ``cancel`` is set first (the calls go on in their threads; their results are dropped).
        BaseException: the first exception a call raised.
    """
    pending = list(futures)
    while True:
        check(cancel)
        done, not_done = wait(pending, timeout=POLL, return_when=FIRST_EXCEPTION)
        for future in done:
            error = future.exception()
            if error is not None:
                raise error
        if not not_done:
            return [f.result() for f in pending]
