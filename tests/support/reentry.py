"""Run code with a "signal handler" called before each of its bytecodes, in its own thread, as CPython may.

CPython runs a signal handler in the main thread between two bytecodes, whatever that thread holds at the
time (the lock of a ``threading.Event`` inside ``wait``, structlog's write lock inside a log call). A handler
that takes such a lock again waits for ever. Real signals hit those windows rarely (a CI run in many); this
calls the handler at every bytecode of the traced modules instead, so a handler that is not safe there
deadlocks on the first run, deterministically.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable
from types import FrameType, ModuleType
from typing import Any


def survives_handler_everywhere(body: Callable[[], object], handler: Callable[[], object],
                                modules: Iterable[ModuleType], *, timeout: float = 30.0) -> bool:
    """Run ``body`` in a daemon thread, calling ``handler`` in that thread before each bytecode of ``modules``.

    Args:
        body: the code a signal would interrupt (a wait, a log call).
        handler: what the signal handler does; it is not itself interrupted.
        modules: the modules whose code is interrupted (the ones that hold the locks in question).
        timeout: seconds to wait for ``body`` to end.

    Returns:
        True when ``body`` (with every handler call) ended within ``timeout``; False when it hangs (the thread
        is left behind: a daemon, blocked on the lock it holds).

    Raises:
        Exception: what ``body`` or ``handler`` raised.
    """
    files = {m.__file__ for m in modules}
    errors: list[BaseException] = []
    done = threading.Event()
    calls = [0]

    def local(frame: FrameType, event: str, arg: Any) -> Callable[..., Any] | None:
        if event == "opcode":  # a trace function runs untraced: the handler is not interrupted by itself
            calls[0] += 1
            handler()
        return local

    def trace(frame: FrameType, event: str, arg: Any) -> Callable[..., Any] | None:
        if frame.f_code.co_filename not in files:
            return None
        frame.f_trace_opcodes = True
        return local

    def run() -> None:
        sys.settrace(trace)
        try:
            body()
        except BaseException as exc:
            errors.append(exc)
        finally:
            sys.settrace(None)
            done.set()

    threading.Thread(target=run, name="interrupted", daemon=True).start()
    finished = done.wait(timeout)
    if errors:
        raise errors[0]
    assert not finished or calls[0] > 0, "the handler was never called: no bytecode of the modules ran"
    return finished
