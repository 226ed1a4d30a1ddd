"""Test helpers for apps that emit audit events: record events as dicts instead of writing a file.

Like ``structlog.testing.capture_logs``::

    from auditlog.agent.testing import capture_audit_events

    with capture_audit_events() as events:
        move_appointment(4711, "11:00")
    assert events[0]["audit"]["changes"]["start"] == {"old": "10:00", "new": "11:00"}

Each recorded event is exactly the JSON object the emitter would have written (decoded), after the
whole processor chain: id, timestamp, ECS categories, redaction and contract checks included. Every
audit logger of the process records into the list while the block runs, also module-level ones from
``get_audit_logger()``; the emitter configured before (if any) is back afterwards, untouched. With pytest,
the ``audit_events`` fixture (``auditlog.agent.pytest_plugin``, loaded automatically) does the same.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import orjson

from auditlog.agent.emitter import AuditEmitter, _swap_emitter, build_processors, current_emitter
from auditlog.agent.redact import DEFAULT_SECRET_KEYS, Redactor

__all__ = ["EventRecorder", "capture_audit_events"]


class EventRecorder:
    """A ``LineWriter`` that decodes every line into a dict and keeps it in ``events``."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def write(self, line: bytes) -> None:
        """Decode one rendered line and record it."""
        self.events.append(orjson.loads(line))

    def close(self) -> None:
        """Nothing to close: the events stay readable."""


@contextlib.contextmanager
def capture_audit_events(*, strict: bool = True) -> Iterator[list[dict[str, Any]]]:
    """Record every audit event of the block as a dict, without a file.

    The processors are those of the emitter configured before (so its redaction settings apply),
    else the default chain.

    Args:
        strict: a bad audit call raises ``ContractError`` (default, what a test wants) or is dropped.

    Yields:
        The list the events are appended to, in call order.
    """
    configured = current_emitter()
    processors = (list(configured.processors) if configured is not None
                  else build_processors(Redactor(DEFAULT_SECRET_KEYS)))
    recorder = EventRecorder()
    previous = _swap_emitter(AuditEmitter(recorder, processors, strict=strict))
    try:
        yield recorder.events
    finally:
        _swap_emitter(previous)
