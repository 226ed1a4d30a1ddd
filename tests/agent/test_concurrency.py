"""Adaptive in-flight limit: grows while the node has room, shrinks when requests queue or fail."""

from __future__ import annotations

import threading
import time

from auditlog.agent.concurrency import AdaptiveLimit, RequestSlots
from auditlog.agent.metrics import Gauge, Metrics


def test_saturated_answers_at_the_floor_latency_raise_the_limit_to_the_maximum() -> None:
    """With every slot busy and latency flat, the limit rises one per round until the configured maximum."""
    limit = AdaptiveLimit(maximum=5, initial=2)
    seen = [limit.observe(0.05, 1000, saturated=True, failed=False) for _ in range(30)]
    assert (5, [2, 3, 4, 5]) == (limit.limit, sorted(set(seen)))


def test_unsaturated_answers_never_raise_the_limit() -> None:
    """When the agent had nothing more to send, a flat latency is no reason for more slots."""
    limit = AdaptiveLimit(maximum=8, initial=2)
    for _ in range(50):
        limit.observe(0.05, 1000, saturated=False, failed=False)
    assert 2 == limit.limit


def test_latency_per_event_past_the_rise_lowers_the_limit() -> None:
    """Once answers take more than RISE times the floor per event, requests queue in the node: one slot less."""
    limit = AdaptiveLimit(maximum=8, initial=4)
    for _ in range(8):
        limit.observe(0.05, 1000, saturated=True, failed=False)
    top = limit.limit
    for _ in range(40):
        limit.observe(0.5, 1000, saturated=True, failed=False)
    assert (5, 1) == (top, limit.limit)


def test_small_batches_answered_fast_do_not_look_like_a_slow_node() -> None:
    """Latency is compared per event: a 100-event batch in a tenth of the time is the same speed."""
    limit = AdaptiveLimit(maximum=8, initial=3)
    for i in range(30):
        events = 100 if i % 2 else 1000
        limit.observe(0.05 * events / 1000, events, saturated=True, failed=False)
    assert 8 == limit.limit


def test_a_failed_request_halves_the_limit() -> None:
    """A 429/5xx or no answer halves the requests in flight, down to one."""
    limit = AdaptiveLimit(maximum=8, initial=6)
    got = [limit.observe(0.05, 1000, saturated=True, failed=True) for _ in range(3)]
    assert [3, 1, 1] == got


def test_slots_never_let_more_requests_through_than_the_limit() -> None:
    """Six threads through a gate of two: at most two hold a slot at any moment."""
    metrics = Metrics()
    slots = RequestSlots(AdaptiveLimit(maximum=2, initial=2), metrics)
    busy, peak, lock = [0], [0], threading.Lock()

    def request() -> None:
        saturated = slots.acquire()
        with lock:
            busy[0] += 1
            peak[0] = max(peak[0], busy[0])
        time.sleep(0.02)
        with lock:
            busy[0] -= 1
        slots.release(0.02, 10, saturated=saturated, failed=False)

    threads = [threading.Thread(target=request) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert (2, 0, 2) == (peak[0], metrics.value(Gauge.REQUESTS_IN_FLIGHT), metrics.value(Gauge.REQUEST_SLOTS))
