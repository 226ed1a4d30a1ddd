"""Polling a condition in tests that run something in a thread or a process."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Return True as soon as ``check()`` holds, else its last answer after ``timeout`` seconds (polls every 20 ms)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.02)
    return check()
