"""Benchmark 4: what one audit call costs an application, against stdlib ``logging`` + ``json.dumps``.

Both sides get the same inputs per call (the bound tenant / tier / worker plus the call's action, source,
changes and meta, taken from the fabricator before the clock starts) and write the same kind of line
(timestamp, UUID, nested contract JSON) to a file. The baseline is what an application would write by
hand: build the nested dict, ``json.dumps`` it, ``logger.info(line)`` through a ``FileHandler``.
The emitter is the product's (``agent.emitter``, called as in ``bench.emitter_adapter``); the emitter also
validates, categorises and redacts, which the baseline does not.
"""

from __future__ import annotations

import json
import logging
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from auditlog.demo.data import fabricate
from bench.events import default_window

Log = Callable[[str], None]
Call = dict[str, Any]


def call_inputs(count: int) -> list[Call]:
    """Return ``count`` realistic per-call inputs (bound context + call fields) from the fabricator."""
    start, end = default_window()
    calls = []
    for event in fabricate(count, seed=5, start=start, end=end):
        audit = event.get("audit", {})
        calls.append({
            "tenant": event["organization"], "tier": audit.get("tier"), "user": event.get("user"),
            "action": event["event"]["action"], "source": audit.get("source"),
            "changes": audit.get("changes"), "message": event.get("message"),
            "meta": {k: event[k] for k in ("source", "url", "user_agent") if k in event},
            "login_type": audit.get("login_type"),
        })
    return calls


def baseline_writer(path: Path) -> tuple[Callable[[Call], None], Callable[[], None]]:
    """Return ``(write_one, close)`` for the stdlib baseline writing to ``path``."""
    logger = logging.getLogger(f"bench.baseline.{uuid.uuid4().hex}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)

    def write_one(call: Call) -> None:
        event: dict[str, Any] = {
            "@timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "event": {"id": str(uuid.uuid4()), "action": call["action"], "outcome": "success"},
            "audit": {"source": call["source"], "tier": call["tier"]},
            "organization": call["tenant"],
            "message": call["message"],
        }
        if call["user"]:
            event["user"] = call["user"]
        if call["changes"]:
            event["audit"]["changes"] = call["changes"]
            event["audit"]["changed_fields"] = sorted(call["changes"])
        if call.get("login_type"):
            event["audit"]["login_type"] = call["login_type"]
        event.update(call["meta"])
        logger.info(json.dumps(event))

    def close() -> None:
        logger.removeHandler(handler)
        handler.close()

    return write_one, close


def emitter_missing() -> str | None:
    """Return why the product emitter cannot be measured yet, or ``None``."""
    try:
        import auditlog.agent.emitter  # noqa: F401
    except ImportError as exc:
        return f"not available yet: emitter (agent.emitter: {exc})"
    return None


def emitter_writer(path: Path) -> tuple[Callable[[Call], None], Callable[[], None]]:
    """Return ``(write_one, close)`` for the product emitter writing to ``path``."""
    from bench.emitter_adapter import product_writer

    return product_writer(path)


def per_event_us(make: Callable[[Path], tuple[Callable[[Call], None], Callable[[], None]]], calls: list[Call],
                 path: Path) -> float:
    """Time ``len(calls)`` writes through a fresh writer; return microseconds per event."""
    path.unlink(missing_ok=True)
    write_one, close = make(path)
    try:
        for call in calls[:200]:  # warm caches and the file
            write_one(call)
        start = time.perf_counter()
        for call in calls:
            write_one(call)
        elapsed = time.perf_counter() - start
    finally:
        close()
    return elapsed / len(calls) * 1e6


def run(*, events: int, repeats: int, work_dir: Path, log: Log = print) -> dict[str, Any]:
    """Measure baseline and emitter, alternating, ``repeats`` times; return medians and the ratio."""
    calls = call_inputs(events)
    missing = emitter_missing()
    path = work_dir / "emitter.jsonl"
    base, emit = [], []
    for rep in range(repeats):
        base.append(per_event_us(baseline_writer, calls, path))
        if not missing:
            emit.append(per_event_us(emitter_writer, calls, path))
        log(f"emitter run {rep + 1}/{repeats}: baseline {base[-1]:.1f} us/event"
            + (f", emitter {emit[-1]:.1f} us/event" if emit else ""))
    path.unlink(missing_ok=True)
    result: dict[str, Any] = {"events": events, "repeats": repeats,
                              "baseline_us_per_event": statistics.median(base), "baseline_runs": base,
                              "baseline": "stdlib logging.FileHandler + json.dumps of the same nested event"}
    if missing:
        result["unavailable"] = missing
    else:
        result["emitter_us_per_event"] = statistics.median(emit)
        result["emitter_runs"] = emit
        result["ratio"] = result["emitter_us_per_event"] / result["baseline_us_per_event"]
    return result
