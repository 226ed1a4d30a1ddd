"""docs/capacity.md's derived tables follow from its measured inputs by the arithmetic it states."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "capacity.md"
NODE_CPU_S_PER_EVENT = 34e-6
CEILING_EVENTS_PER_S = 55_000
KB_PER_COPY = 0.5
DAYS = {"enterprise": 30, "business": 7, "professional": 3}


def _table(heading: str) -> list[list[str]]:
    section = DOC.read_text().split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("|---")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[1:]]


def _number(text: str) -> float:
    value = float(re.sub(r"[^\d.]", "", text))
    return value * {"M": 1e6, "TB": 1000.0}.get(text.split()[-1], 1.0)


def test_ingest_table_follows_from_node_cpu_and_ceiling() -> None:
    """Average, 10x peak, node CPU at peak and share of the ceiling are recomputed from the measured inputs."""
    for per_day, average, peak, cores, share in _table("Ingest: one node goes far"):
        events = _number(per_day)
        assert round(events / 86_400) == _number(average)
        assert round(events / 86_400 * 10) == _number(peak)
        assert abs(events / 86_400 * 10 * NODE_CPU_S_PER_EVENT - _number(cores)) < 0.01
        assert abs(events / 86_400 * 10 / CEILING_EVENTS_PER_S * 100 - _number(share)) < 0.1


def test_disk_table_follows_from_retention_and_bytes_per_event() -> None:
    """Per class: a third of the events x days kept x 0.5 KB; the total doubles for one replica."""
    for per_day, *classes, total in _table("Disk per retention class"):
        events = _number(per_day)
        expected = [events / 3 * days * KB_PER_COPY / 1e6 for days in DAYS.values()]  # GB
        for cell, gb in zip(classes, expected, strict=True):
            assert abs(_number(cell) - gb) / gb < 0.05
        assert abs(_number(total) - 2 * sum(expected)) / (2 * sum(expected)) < 0.05
