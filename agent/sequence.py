"""Stream ids and gap-free sequence numbers: the emitter's half of tamper evidence.

:class:`StreamSequencer` stamps every event with ``audit.stream`` (a new random id per writer
instance, renewed in a forked child, so two processes never share a stream) and ``audit.seq`` (1, 2,
3, ... within that stream). It runs after validation, right before the renderer, so an event the
contract refuses never consumes a number: a missing number means a line that was numbered but never
reached Elasticsearch (lost between the application and the agent, or dropped from the file), which
``auditlog verify`` reports as a sequence gap.
"""

from __future__ import annotations

import itertools
import os
import uuid
import weakref

from auditlog.agent.typing import EventDict, WrappedLogger

_LIVE: weakref.WeakSet[StreamSequencer] = weakref.WeakSet()


class StreamSequencer:
    """Set ``audit.stream`` and ``audit.seq`` (a structlog processor; thread-safe without a lock)."""

    __slots__ = ("__weakref__", "_next", "stream")

    def __init__(self) -> None:
        """Start a new stream at 1."""
        self.restart()
        _LIVE.add(self)

    def restart(self) -> None:
        """Begin a new stream (a fresh id, numbering from 1); called in a forked child."""
        self.stream = uuid.uuid4().hex
        # itertools.count's __next__ is one C call under the GIL: threads never get the same number
        self._next = itertools.count(1).__next__

    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
        audit = event_dict.get("audit")
        if type(audit) is not dict:
            audit = event_dict["audit"] = {}
        audit["stream"] = self.stream
        audit["seq"] = self._next()
        return event_dict


def _restart_all() -> None:
    for sequencer in list(_LIVE):
        sequencer.restart()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_restart_all)
