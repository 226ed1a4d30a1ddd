"""Enrich and route: ECS categories, redaction, changed fields, the event id and the target index.

Per event (mutated in place, the parser hands over a fresh dict; the redactor returns a copy when it
changes something):

- ``event.kind`` / ``event.category`` / ``event.type`` from ``event.action`` via
  :func:`agent.categorize.categorize` when the event does not carry them (the emitter already does):
  the contract's enrichment rules, applied by :mod:`agent.enrichment` as in the emitter;
- secrets redacted with :meth:`agent.redact.Redactor.event` (names in ``audit.changes`` and unknown
  fields; value shapes in ``audit.changes``, ``url.full``, ``message`` and unknown fields),
  ``audit.changed_fields`` = the sorted keys of ``audit.changes`` (when absent);
- ``event.id`` = :func:`agent.ids.deterministic_id` of (file identity, line offset) when absent, so
  a re-read after a crash produces the same ``_id``;
- index = :meth:`indexer.tiers.TierTable.index_for_day` (tier's class, UTC day of ``@timestamp``); an unknown
  tier is rejected (dead-lettered: replay after fixing the tier table), and so is a timestamp outside
  the agent's time bounds (:mod:`agent.timebounds`, reason ``timestamp_out_of_range``);
- with :class:`agent.shipper.ShipperFields`: ``ecs.version``, ``event.ingested``, ``agent.*``, ``host.name``.

Routing is deterministic (same line -> same index), which the exactly-once promise relies on: a
re-sent event must hit the index that already holds it to be answered 409. Changing the tier table
while events are in flight can therefore duplicate those few events; docs/agent.md says so.

The output is one bulk ``create`` entry as bytes (action line + document), built with orjson.
"""

from __future__ import annotations

from datetime import UTC, date
from typing import Any

import orjson

from auditlog.agent.contract import parse_timestamp
from auditlog.agent.enrichment import ActionCategories, changed_fields_of
from auditlog.agent.ids import deterministic_id
from auditlog.agent.parser import NUMBER_OUT_OF_RANGE, Rejected
from auditlog.agent.redact import Redactor
from auditlog.agent.shipper import ShipperFields
from auditlog.agent.timebounds import TIMESTAMP_OUT_OF_RANGE, TimeBounds
from auditlog.core.cache import BoundedCache
from auditlog.indexer.tiers import TierTable, UnknownTierError

_CACHE_LIMIT = 4096  # distinct (tier, day) pairs remembered


class Enricher:
    """Callable: (event, file identity, offset) -> bulk ``create`` entry bytes, or :class:`Rejected`."""

    __slots__ = ("_categories", "_indices", "bounds", "bounds_window", "redactor", "shipper", "tiers")

    def __init__(self, tiers: TierTable, redactor: Redactor | None = None, bounds: TimeBounds | None = None,
                 shipper: ShipperFields | None = None) -> None:
        """Fix the routing table, the redaction rules (``None``: off), the time bounds (``None``: any date)
        and the shipper's ECS fields (``None``: none).

        The agent always routes within bounds; ``None`` is for tools that index fixed historic data.
        """
        self.tiers = tiers
        self.redactor = redactor
        self.bounds = bounds
        self.shipper = shipper
        self._categories = ActionCategories(fresh_lists=False)  # the event is serialised right away
        # (tier, UTC day) -> action-line prefix
        self._indices: BoundedCache[tuple[str, str], bytes] = BoundedCache(_CACHE_LIMIT)
        #: the bounds' window :meth:`route` last compared with (:meth:`TimeBounds.window`): until the bounds'
        #: clock reads ``until``, a "...Z" second from ``earliest`` to ``latest`` is routed from the cache
        #: alone. Replaced, never changed in place: the C line check's route memo (agent/linescan.py) answers
        #: only while this is still the very tuple it learnt.
        self.bounds_window: tuple[str, str, float] = ("", "", float("-inf"))

    def __call__(self, event: dict[str, Any], key: str, offset: int) -> bytes | Rejected:
        """Enrich ``event`` (in place where the redactor does not copy) and return its bulk entry.

        Args:
            event: a valid nested contract event.
            key: the identity of the file the line came from.
            offset: the line's byte offset in that file.

        Returns:
            ``{"create":{"_index":...,"_id":...}}\\n<document>\\n``, or why it cannot be shipped: it cannot
            be routed (tier, time) or holds an integer beyond 64 bits.
        """
        redactor = self.redactor
        if redactor is not None:
            event = redactor.event(event)
        ev = event["event"]
        self._categories.fill(ev)  # the contract's enrichment rules (agent.enrichment); given values win
        audit = event["audit"]
        changes = audit.get("changes")
        if changes and "changed_fields" not in audit:
            audit["changed_fields"] = changed_fields_of(changes)
        event_id = ev.get("id")
        if not event_id:
            ev["id"] = event_id = deterministic_id(key, offset)
        prefix = self.route(audit["tier"], event["@timestamp"])
        if type(prefix) is Rejected:
            return prefix
        if self.shipper is not None:
            self.shipper.add_to(event)
        try:
            doc = orjson.dumps(event)
        except orjson.JSONEncodeError as exc:  # the parser keeps integers exact; orjson stops at 64 bits
            if "Recursion limit" in str(exc):  # arrays and objects nested deeper than orjson writes (254)
                return Rejected(f"nesting too deep to encode: {exc} (at most 254 nested arrays and objects)",
                                "enrich")
            return Rejected(f"{NUMBER_OUT_OF_RANGE}: {exc} (readers decode 64-bit integers only)", "enrich")
        return b"".join((prefix, orjson.dumps(event_id), b"}}\n", doc, b"\n"))  # type: ignore[arg-type]

    def route(self, tier: str, ts: str) -> bytes | Rejected:
        """Return the action-line prefix ``{"create":{"_index":"<index>","_id":`` for a tier and a valid timestamp.

        Args:
            tier: ``audit.tier``.
            ts: a contract ``@timestamp``.

        Returns:
            The prefix (cached per tier and UTC day), or why the tier or the time cannot be routed.
        """
        # "...Z" already names the UTC second; other offsets need the real conversion
        if ts[-1] == "Z":
            second = ts[:19]
        else:
            try:
                second = parse_timestamp(ts).astimezone(UTC).isoformat()[:19]
            except OverflowError:  # e.g. 0001-01-01T00:30:00+01:00 is in year 0 in UTC
                return Rejected(f"{TIMESTAMP_OUT_OF_RANGE}: {ts} is outside the years 0001-9999 in UTC", "route")
        bounds = self.bounds
        if bounds is not None:
            earliest, latest, until = self.bounds_window
            if not earliest <= second <= latest or bounds.clock() >= until:
                reason = bounds(second)
                if reason is not None:
                    return Rejected(reason, "route")
                self.bounds_window = bounds.window()
        day = second[:10]
        prefix = self._indices.get((tier, day))
        if prefix is None:
            try:
                index = self.tiers.index_for_day(self.tiers.class_of(tier), date.fromisoformat(day))
            except UnknownTierError as exc:
                return Rejected(str(exc), "route")
            prefix = self._indices.put((tier, day), b'{"create":{"_index":' + orjson.dumps(index) + b',"_id":')
        return prefix
