"""Small valid contract events and lines for agent tests."""

from __future__ import annotations

from typing import Any

import orjson


def event(i: int = 0, *, tier: str = "enterprise", with_id: bool = True, **extra: Any) -> dict[str, Any]:
    """A valid nested event; ``event.id`` is ``ev-<i>`` unless ``with_id`` is False."""
    ev: dict[str, Any] = {
        "@timestamp": "2026-01-02T03:04:05.000Z",
        "event": {"action": "update"},
        "audit": {"source": "appointments", "tier": tier,
                  "changes": {"start": {"old": "10:00", "new": "11:00"}}},
        "organization": {"id": "org-1", "name": "Org One"},
        "message": f"event {i}",
    }
    if with_id:
        ev["event"]["id"] = f"ev-{i:08d}"
    ev.update(extra)
    return ev


def line(i: int = 0, **kw: Any) -> bytes:
    """The event as one JSON line without the newline."""
    return orjson.dumps(event(i, **kw))
