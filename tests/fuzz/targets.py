"""Coverage-guided differential fuzz targets for the rules that two code paths must apply alike.

Each target takes raw bytes and raises ``AssertionError`` when the rule breaks:

* ``passthrough``: the agent's pass-through (:mod:`agent.fastpath`) ships a line only as the full path
  (parse, validate, enrich) ships it, its C line check (:mod:`agent.linescan`) answers as its Python path
  does, and the full path never raises, whatever the bytes. Checked with
  and without time bounds, the shipper's ECS fields and redaction, as tools and the agent build enrichers.
* ``redaction``: :meth:`Redactor.suspect_text` answering ``False`` guarantees that the value-shape rules
  change nothing; a whole event redacts the same whether the cheap question was asked or skipped; a
  raw line (a dead letter) is redacted without raising.

The hypothesis property tests (``tests/agent/test_fastpath.py``, ``tests/agent/test_redact.py``)
mutate structured events; these mutate bytes (escapes, broken UTF-8, numbers spelled out of range,
keys spliced together), which found two admission bugs the property tests had missed: an
``audit.stream`` the full path redacted and the pass-through shipped as written, and an ``audit.seq``
beyond 64 bits that the pass-through shipped. ``tests/fuzz/test_targets.py`` runs every target over
the seeds and those findings in CI; ``make fuzz`` runs them under atheris (libFuzzer, ``tests/fuzz/__main__.py``)
for a while:

    make fuzz FUZZ_SECONDS=600

Run one by hand: ``python -m tests.fuzz passthrough [libFuzzer options]``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import orjson

from auditlog.agent.enrich import Enricher
from auditlog.agent.parser import Rejected
from auditlog.agent.redact import Redactor
from auditlog.agent.shipper import ShipperFields
from auditlog.agent.timebounds import TimeBounds
from auditlog.indexer.tiers import TierTable
from bench.events import event_lines
from tests.support.admission import full_path, native_answer, same_shipment

_NOW = time.time()  # both paths read the clock (time bounds, event.ingested): one frozen moment for both
_BOUNDS = TimeBounds(TierTable(), clock=lambda: _NOW)
_SHIPPER = ShipperFields(host_name="fuzz", agent_version="0", ephemeral_id="fuzz", clock=lambda: int(_NOW * 1e9))
_ENRICHERS = (
    Enricher(TierTable(prefix="audit"), Redactor()),  # tools that index fixed data: no bounds, no ECS fields
    Enricher(TierTable(), Redactor(), _BOUNDS, _SHIPPER),  # as the agent builds it
    Enricher(TierTable(), None, _BOUNDS),  # an agent whose redaction is turned off
)
_REDACTOR = Redactor()


def passthrough(data: bytes) -> None:
    """Assert that the pass-through ships ``data`` only as the full path does, and that neither raises."""
    line = data.rstrip(b"\n")
    if b"\n" in line:  # the tailer splits at line feeds: such bytes are several lines
        return
    for enricher in _ENRICHERS:
        full = full_path(enricher, line)
        assert isinstance(full, bytes | Rejected), full
        fast = native_answer(enricher, line)  # the C line check's answer is the Python path's
        if isinstance(fast, Rejected):
            assert fast == full, (line, fast, full)
        elif fast is not None:
            same_shipment(fast, full)


def redaction(data: bytes) -> None:
    """Assert that ``suspect_text`` is a guarantee and that the cheap question changes no event's outcome."""
    text = data.decode("utf-8", "replace")
    if not _REDACTOR.suspect_text(text):
        assert _REDACTOR.scrub_text(text) == text, text
    try:
        event = orjson.loads(data)
    except orjson.JSONDecodeError:
        event = None
    if type(event) is dict:
        assert _REDACTOR.event(event) == _REDACTOR.event(event, text=True), data
    _REDACTOR.line(data)


TARGETS: dict[str, Callable[[bytes], None]] = {"passthrough": passthrough, "redaction": redaction}


def seeds(count: int = 60) -> list[bytes]:
    """Emitter lines of the six hours before the frozen moment (inside every time bound), secret-shaped texts."""
    now = datetime.fromtimestamp(_NOW, UTC)
    lines = [line.rstrip(b"\n") for line in event_lines(count, seed=5, window=(now - timedelta(hours=6), now))]
    return [*lines, b"Bearer abcdefghij", b"https://u:p@h/x?token=1", b"password=x", b'{"pwd": 1}',
            b"-----BEGIN A-----x-----END A-----", b"eyJab.eyJcd.ef"]


def findings() -> list[bytes]:
    """The inputs the fuzzer found rules broken with (kept so that they stay fixed)."""
    line = orjson.loads(seeds(1)[0])
    line["audit"]["stream"] = "bec2b770892d4744?token=abc7168f5"
    stream = orjson.dumps(line)
    line["audit"]["stream"], line["audit"]["seq"] = "bec4b770892d4744a67b3cf1637168f5", 7_777_777
    seq = orjson.dumps(line).replace(b"7777777", b"1" * 114 + b"43")
    return [stream, seq]
