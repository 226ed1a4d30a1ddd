"""Watchers: wake the pipeline when watched directories change (watchdog), or on a timer (polling).

Both implement :class:`Watcher`; :func:`make_watcher` picks one (``auto`` = watchdog when an
observer can start, polling otherwise, e.g. on filesystems without inotify). Events only shorten
the wait: the pipeline also reads and rescans on a timer, so a lost event is never a lost line.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

import structlog

log = structlog.get_logger("auditlog.agent.watcher")


class Watcher(Protocol):
    """Something the pipeline waits on between reads."""

    def start(self, dirs: list[str]) -> None:
        """Begin watching ``dirs``."""

    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds; True when a change was signalled."""

    def wake(self) -> None:
        """Wake a waiter (used by signal handlers and shutdown)."""

    def stop(self) -> None:
        """Stop watching."""


class PollingWatcher:
    """No filesystem events: the pipeline just wakes up every poll interval."""

    name = "polling"

    def __init__(self) -> None:
        self._event = threading.Event()

    def start(self, dirs: list[str]) -> None:
        """Nothing to start."""

    def wait(self, timeout: float) -> bool:
        """Sleep up to ``timeout`` unless woken."""
        woke = self._event.wait(timeout)
        self._event.clear()
        return woke

    def wake(self) -> None:
        """Wake the waiter."""
        self._event.set()

    def stop(self) -> None:
        """Wake any waiter."""
        self._event.set()


class WatchdogWatcher(PollingWatcher):
    """watchdog's native observer (inotify on Linux) wakes the pipeline on any change."""

    name = "watchdog"

    def __init__(self) -> None:
        super().__init__()
        self._observer: Any = None

    def start(self, dirs: list[str]) -> None:
        """Schedule an observer on every directory (recursively)."""
        from watchdog.events import FileSystemEvent, FileSystemEventHandler
        from watchdog.observers import Observer

        watcher = self

        class _Handler(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                if event.event_type != "opened":
                    watcher.wake()

        self.stop()
        observer = Observer()
        for d in dirs:
            observer.schedule(_Handler(), d, recursive=True)
        observer.daemon = True
        observer.start()
        self._observer = observer

    def stop(self) -> None:
        """Stop the observer thread."""
        super().stop()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None


def make_watcher(kind: str = "auto", dirs: list[str] | None = None) -> Watcher:
    """Create and start a watcher.

    Args:
        kind: ``auto``, ``watchdog`` or ``polling``.
        dirs: directories to watch.

    Returns:
        A started watcher.

    Raises:
        ValueError: on an unknown ``kind``.
    """
    if kind not in ("auto", "watchdog", "polling"):
        raise ValueError(f"unknown watcher {kind!r} (auto, watchdog, polling)")
    if kind in ("auto", "watchdog"):
        w = WatchdogWatcher()
        try:
            w.start(dirs or [])
            return w
        except Exception as exc:  # no inotify, too many watches...: fall back, but say so
            if kind == "watchdog":
                raise
            log.warning("watchdog unavailable, polling instead", error=str(exc))
    p = PollingWatcher()
    p.start(dirs or [])
    return p
