"""Type aliases shared by the emitter and the agent (in the spirit of ``structlog.typing``).

``AuditEvent`` here is the nested JSON object of one event on its way through processors and the
agent; its fields are declared in :mod:`auditlog.core.contract`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeAlias

from structlog.typing import EventDict, WrappedLogger
from structlog.typing import Processor as _StructlogProcessor

__all__ = ["AuditEvent", "Changes", "ChangesInput", "EventDict", "ProblemReporter", "Processor", "WrappedLogger"]

#: One event as a nested JSON object (``{"@timestamp": ..., "event": {...}, "audit": {...}, ...}``).
AuditEvent: TypeAlias = dict[str, Any]

#: ``audit.changes`` in contract form: field name -> ``{"old": v, "new": v}``.
Changes: TypeAlias = dict[str, dict[str, Any]]

#: What apps may pass as ``changes=``: contract form, or field name -> ``(old, new)`` pair.
ChangesInput: TypeAlias = Mapping[str, "Mapping[str, Any] | tuple[Any, Any] | list[Any]"]

#: A structlog processor: ``(logger, method_name, event_dict) -> event_dict`` (the last one returns the rendered
#: line). The same type as ``structlog.typing.Processor``, so our processors fit any structlog chain.
Processor: TypeAlias = _StructlogProcessor

#: Called by lenient validation with the offending event and its problems (see ``agent.processors.ContractValidator``).
ProblemReporter: TypeAlias = Callable[[Mapping[str, Any], list[Any]], None]
