"""Watchers: wake the pipeline when watched directories change (watchdog), or on a timer (polling).

Both implement :class:`Watcher`; :func:`make_watcher` picks one (``auto`` = watchdog when an
observer can start, polling otherwise, e.g. on filesystems without inotify). Events only shorten
the wait: the pipeline also reads and rescans on a timer, so a lost event is never a lost line.
The watchdog watcher also remembers file renames (:meth:`Watcher.take_moves`): a file renamed away
from a watched name before any scan saw it is found where it went.
"""

from __future__ import annotations

import collections
import os
from typing import Any, Protocol

import structlog

from auditlog.core.wakeup import Wakeup

log = structlog.get_logger("auditlog.agent.watcher")

#: renames remembered between two scans at most.
MAX_MOVES = 10_000


class Watcher(Protocol):
    """Something the pipeline waits on between reads."""

    def start(self, dirs: list[str]) -> None:
        """Begin watching ``dirs``."""

    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds; True when a change was signalled."""

    def wake(self) -> None:
        """Wake a waiter (used by signal handlers and shutdown)."""

    def take_moves(self) -> list[tuple[str, str]]:
        """Return and forget the (source, destination) file renames seen since the last call."""

    def stop(self) -> None:
        """Stop watching."""


class PollingWatcher:
    """No filesystem events: the pipeline just wakes up every poll interval."""

    name = "polling"

    def __init__(self) -> None:
        self._event = Wakeup()  # woken from a signal handler too (threading.Event is not safe there)

    def start(self, dirs: list[str]) -> None:
        """Nothing to start."""

    def take_moves(self) -> list[tuple[str, str]]:
        """Polling sees no renames."""
        return []

    def wait(self, timeout: float) -> bool:
        """Sleep up to ``timeout`` unless woken."""
        woke = self._event.wait(timeout)
        if woke:  # after a timeout, a wake that came since is kept for the next wait rather than cleared unseen
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
        # bounded: if the reader is stalled for long, old renames fall out and the sibling search covers them
        self._moves: collections.deque[tuple[str, str]] = collections.deque(maxlen=MAX_MOVES)

    def start(self, dirs: list[str]) -> None:
        """Schedule an observer on every directory (recursively)."""
        from watchdog.events import FileSystemEvent, FileSystemEventHandler
        from watchdog.observers import Observer

        watcher = self

        class _Handler(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                if event.event_type == "moved" and not event.is_directory:
                    watcher._moves.append((os.fsdecode(event.src_path), os.fsdecode(event.dest_path)))
                if event.event_type != "opened":
                    watcher.wake()

        # Not self.stop(): that also wakes any waiter, which left a fresh watcher signalled; the pipeline took
        # the signal for a change, scanned half a second after start, and held a file arriving just after
        # that scan until the scan gap had passed (up to 0.75 s before its first line was read).
        self._stop_observer()
        observer = Observer()
        for d in dirs:
            observer.schedule(_Handler(), d, recursive=True)
        observer.daemon = True
        observer.start()
        self._observer = observer

    def take_moves(self) -> list[tuple[str, str]]:
        """Return and forget the file renames seen since the last call (oldest first)."""
        out: list[tuple[str, str]] = []
        while True:
            try:
                out.append(self._moves.popleft())
            except IndexError:
                return out

    def stop(self) -> None:
        """Stop the observer thread and wake any waiter."""
        super().stop()
        self._stop_observer()

    def _stop_observer(self) -> None:
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
