"""How many bulk requests the agent keeps in flight: adapted to the latency it measures, within a bound.

One request in flight leaves the node idle while the answer travels back and the next request goes out;
too many only queue inside the node (each waits longer, nothing arrives sooner) and hold memory. The
right number depends on the node's cores and speed, so it is learnt: :class:`AdaptiveLimit` raises the
limit by one each round-trip in which every slot was busy and the latency per event stayed close to the
lowest seen (the node had room), lowers it by one when the latency per event climbs past
``RISE`` times that floor (requests are queueing in the node), and halves it when a request fails
(429, 5xx, no answer). Latency is taken per event so that small batches (the tail of a burst) do not
look like an idle node. The floor drifts up slowly so that a node that became slower for good is
re-learnt. :class:`RequestSlots` is the thread-safe gate the sink's senders pass through.
"""

from __future__ import annotations

import threading

from auditlog.agent.metrics import Gauge, Metrics

#: latency per event above this multiple of the floor means requests queue inside the node.
RISE = 2.0
#: the floor rises by this factor per answer, so it follows a node that slowed down for good.
FLOOR_DRIFT = 1.002
_SMOOTHING = 0.3  # weight of a new answer in the smoothed latency


class AdaptiveLimit:
    """The in-flight limit and the latency statistics it is decided from (pure logic, one caller at a time)."""

    def __init__(self, maximum: int, initial: int = 2) -> None:
        """Start at ``initial`` (at most ``maximum``) requests in flight.

        Raises:
            ValueError: when ``maximum`` is below 1.
        """
        if maximum < 1:
            raise ValueError("the in-flight maximum must be >= 1")
        self.maximum = maximum
        self.limit = max(1, min(initial, maximum))
        self._smooth: float | None = None
        self._floor: float | None = None
        self._answers = 0  # since the last change: one decision per round of `limit` answers

    def observe(self, seconds: float, events: int, *, saturated: bool, failed: bool) -> int:
        """Take one request's outcome into account and return the new limit.

        Args:
            seconds: from sending the request to its answer (or failure).
            events: how many events it carried.
            saturated: every slot was busy when it was sent (the agent had more to send).
            failed: it got no answer or a whole-request 429/5xx.

        Returns:
            The limit from now on, within ``1 .. maximum``.
        """
        if failed:
            self._change(max(1, self.limit // 2))
            return self.limit
        per_event = seconds / max(events, 1)
        smooth = per_event if self._smooth is None else self._smooth + _SMOOTHING * (per_event - self._smooth)
        self._smooth = smooth
        self._floor = smooth if self._floor is None else min(smooth, self._floor * FLOOR_DRIFT)
        self._answers += 1
        if self._answers < self.limit:
            return self.limit
        if smooth > self._floor * RISE and self.limit > 1:
            self._change(self.limit - 1)
        elif saturated and self.limit < self.maximum and smooth <= self._floor * RISE:
            self._change(self.limit + 1)
        return self.limit

    def _change(self, limit: int) -> None:
        self.limit = limit
        self._answers = 0


class RequestSlots:
    """The gate each bulk request passes: at most :attr:`AdaptiveLimit.limit` are in flight at once."""

    def __init__(self, limit: AdaptiveLimit, metrics: Metrics) -> None:
        """Gate requests by ``limit``, publishing the limit and the requests in flight to ``metrics``."""
        self._limit = limit
        self._metrics = metrics
        self._cond = threading.Condition()
        self._busy = 0
        metrics.set(Gauge.REQUEST_SLOTS, limit.limit)

    @property
    def limit(self) -> int:
        """Requests allowed in flight now."""
        return self._limit.limit

    def acquire(self) -> bool:
        """Wait for a free slot and take it; return True when that made every slot busy."""
        with self._cond:
            while self._busy >= self._limit.limit:
                self._cond.wait()
            self._busy += 1
            busy = self._busy
        self._metrics.set(Gauge.REQUESTS_IN_FLIGHT, busy)
        return busy >= self._limit.limit

    def release(self, seconds: float, events: int, *, saturated: bool, failed: bool) -> None:
        """Give the slot back with what its request measured (see :meth:`AdaptiveLimit.observe`)."""
        with self._cond:
            self._busy -= 1
            before = self._limit.limit
            limit = self._limit.observe(seconds, events, saturated=saturated, failed=failed)
            busy = self._busy
            if limit > before or self._busy < limit:
                self._cond.notify(max(limit - self._busy, 1))
        self._metrics.set(Gauge.REQUESTS_IN_FLIGHT, busy)
        if limit != before:
            self._metrics.set(Gauge.REQUEST_SLOTS, limit)


def unlimited(metrics: Metrics) -> RequestSlots:
    """A gate that never makes a request wait (for one-shot senders such as ``dlq replay``)."""
    return RequestSlots(AdaptiveLimit(1 << 16, 1 << 16), metrics)
