"""The ECS fields a shipper adds to every event: ``ecs.version``, ``event.ingested``, ``agent.*``, ``host.name``.

Filebeat and Elastic Agent add these; so does ``auditlog agent``, on both of its paths with the same
result: the full path (:class:`agent.enrich.Enricher`) sets them on the event dict; the pass-through
(:mod:`agent.fastpath`) splices the same values into the line's bytes (``event.ingested`` right after
``event.id``, the other objects before the closing brace), so the document Elasticsearch gets is the
same either way (tests/agent/test_shipper.py proves it for generated events).

An object the event already carries is kept as it is (a producer's own ``host`` or ``agent`` wins),
and so is an ``event.ingested`` it set; the pass-through only takes lines without them (their fields
are not the contract's). ``event.ingested`` is when the agent read the line (millisecond precision,
UTC), which precedes Elasticsearch's own arrival time by the batching delay only; the lines the
pass-through takes in one run (:meth:`agent.fastpath.PassThrough.run`, at most a batch) share the
reading at the run's start.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson


def _joined(head: bytes, id_json: bytes, line: bytes, end: int, ingested: bytes, suffix: bytes) -> bytes:
    """The bulk entry of :meth:`ShipperFields.entry_at` (where the C line check's copy of it is not built)."""
    return b"".join((head, id_json, b"}}\n", line[:end], ingested, line[end:-1], suffix))


try:  # the same in one copy, beside the C line check (agent/linescan.py): about 0.4 us less per event
    from auditlog.agent._linescan import entry as _entry
except ImportError:
    _entry = _joined

#: The ECS version the mapping follows (its field types are compared with this release's table).
ECS_VERSION = "9.4.0"
AGENT_TYPE = "auditlog"


def second_text(second: int) -> str:
    """The part of ``event.ingested`` that changes once a second: ``YYYY-MM-DDTHH:MM:SS.`` (UTC)."""
    return datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S.")


def ingest_text(ms: int) -> str:
    """Format milliseconds since the epoch as ``event.ingested``: UTC, RFC 3339 with milliseconds."""
    return f"{second_text(ms // 1000)}{ms % 1000:03d}Z"


class ShipperFields:
    """The shipper's fields for one agent process: constant objects plus the ingest time per event."""

    __slots__ = ("_clock", "_constant", "_ingested", "_ms", "_second", "_second_text", "_suffix", "_text")

    def __init__(self, *, host_name: str, agent_version: str, ephemeral_id: str,
                 clock: Callable[[], int] = time.time_ns) -> None:
        """Fix the values once (the hot path only reads them).

        Args:
            host_name: ``host.name`` and ``agent.name`` (ECS: the agent's name defaults to the host's).
            agent_version: ``agent.version``.
            ephemeral_id: ``agent.ephemeral_id``, new per process.
            clock: ``event.ingested`` source, nanoseconds since the epoch (default :func:`time.time_ns`).
        """
        self._clock = clock
        # the millisecond last formatted, its text and its ',"ingested":"..."' bytes: the hot path reads the
        # clock per line (a C call, no Python frame) and formats once per millisecond
        self._ms = -1
        self._text = ""
        # the second last formatted and its text (datetime and strftime once a second, not once a millisecond:
        # at 15,000 events/s the millisecond changes every 15 events; formatting it was about 4 % of the agent's
        # GIL-holding samples in a py-spy profile)
        self._second = -1
        self._second_text = ""
        self._ingested = b""
        self._constant: dict[str, dict[str, str]] = {
            "ecs": {"version": ECS_VERSION},
            "agent": {"type": AGENT_TYPE, "name": host_name, "version": agent_version, "ephemeral_id": ephemeral_id},
            "host": {"name": host_name},
        }
        # ',"ecs":{...},"agent":{...},"host":{...}}' and the entry's last newline: what the pass-through
        # puts in place of a line's last brace
        self._suffix = b"," + orjson.dumps(self._constant)[1:] + b"\n"

    @classmethod
    def for_this_process(cls) -> ShipperFields:
        """The fields of this host and agent process."""
        from auditlog import __version__

        return cls(host_name=socket.gethostname(), agent_version=__version__, ephemeral_id=str(uuid.uuid4()))

    def add_to(self, event: dict[str, Any]) -> None:
        """Add the fields to a nested event in place (objects the event already has are kept)."""
        for name, value in self._constant.items():
            if name not in event:
                event[name] = dict(value)
        ms = self._clock() // 1_000_000
        if ms != self._ms:
            self._tick(ms)
        event["event"].setdefault("ingested", self._text)

    def _tick(self, ms: int) -> None:
        """Format a new millisecond (at most once per millisecond; the date and time once per second)."""
        second = ms // 1000
        if second != self._second:
            self._second, self._second_text = second, second_text(second)
        self._ms, self._text = ms, f"{self._second_text}{ms % 1000:03d}Z"
        self._ingested = b',"ingested":"' + self._text.encode() + b'"'

    def splice(self, line: bytes, event_id: str, *other_ids: str | None) -> bytes | None:
        """Return ``line`` with the fields spliced in, or None when the place of ``event.id`` is not certain.

        Args:
            line: a contract line whose fields are only the contract's (no ecs, agent, host,
                event.ingested), ending in ``}``.
            event_id: its ``event.id``.
            other_ids: the line's other ``id`` values (organization, user): if one equals the event's,
                the id alone does not say where the event object is.

        Returns:
            The document's bytes, or None (then the full path handles the line).
        """
        if event_id in other_ids:
            return None
        id_json = orjson.dumps(event_id)
        entry = self.entry(b"", line, id_json, event_id, None, None)
        return None if entry is None else entry[len(id_json) + 3:-1]  # the document alone: no action line, newline

    def entry(self, head: bytes, line: bytes, id_json: bytes, event_id: str, org_id: str | None,
              user_id: str | None) -> bytes | None:
        """Return ``head + id_json + "}}"``, a newline, the spliced document and a newline: a bulk entry in one copy.

        The pass-through builds its entry with this (``head`` the router's action-line prefix, ``id_json``
        the JSON of ``event_id``), so the line is copied once instead of once for the document and once
        more for the entry.

        Args:
            head: the action line up to its ``_id`` value.
            line: as for :meth:`splice`.
            id_json: ``event_id`` as JSON.
            event_id: the line's ``event.id``.
            org_id: its ``organization.id``.
            user_id: its ``user.id`` (``None`` when it has no user).

        Returns:
            The bytes, or None when the place of ``event.id`` is not certain (see :meth:`splice`).
        """
        if event_id in (org_id, user_id):
            return None
        # Only the event, organization and user objects have an "id" string member in a contract-only
        # line (a change is {"old", "new"}; strings elsewhere escape their quotes), so with the other ids
        # different, the first '"id":"<event id>"' is the event's.
        at = line.find(b'"id":' + id_json)
        if at < 0:  # spelled with other escapes or spaces: leave it to the full path
            return None
        return self.entry_at(head, line, id_json, at + 5 + len(id_json))

    def parts_now(self) -> tuple[bytes, bytes]:
        """Return what a bulk entry splices into a line now: ``,"ingested":"<now>"`` and the closing objects.

        The pass-through's run of lines (:meth:`agent.fastpath.PassThrough.run`) reads the clock once per run
        (at most a batch, a few milliseconds of lines), where :meth:`entry_at` reads it per line.

        Returns:
            The ``event.ingested`` member and the suffix that replaces the line's closing brace.
        """
        ms = self._clock() // 1_000_000
        if ms != self._ms:
            self._tick(ms)
        return self._ingested, self._suffix

    def entry_at(self, head: bytes, line: bytes, id_json: bytes, end: int) -> bytes:
        """Return the bulk entry of :meth:`entry` when the place of ``event.id`` is known.

        The pass-through's C line check (:mod:`agent.linescan`) knows where the event's id ends: it read it.

        Args:
            head: the action line up to its ``_id`` value.
            line: as for :meth:`splice`.
            id_json: the JSON of the line's ``event.id``.
            end: the offset in ``line`` right after that value's closing quote.

        Returns:
            The bytes.
        """
        ms = self._clock() // 1_000_000
        if ms != self._ms:
            self._tick(ms)
        return _entry(head, id_json, line, end, self._ingested, self._suffix)
