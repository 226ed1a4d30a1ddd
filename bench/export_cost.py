"""The xlsx writer's own cost, in-process and without Elasticsearch: rows built, rendered and zipped.

``python -m bench.export_cost --rows 100000 --repeat 3`` writes the same fabricated events with
:func:`tui.export.xlsx.export_xlsx` ``--repeat`` times and prints one JSON line with the CPU and wall
seconds (medians) and the peak RSS. ``--openpyxl-rows`` turns off the row renderer of
``tui/export/sheetrows.py`` so every row takes openpyxl's public write-only path (``ws.append`` of plain
values, lxml installed): the comparison that decides whether the renderer stays. CPU seconds are the
number to compare on a shared machine; the wall time also holds whatever else ran.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from auditlog.demo.data import fabricate
from auditlog.tui.export import sheetrows
from auditlog.tui.export.xlsx import export_xlsx


def measure(rows: int, repeats: int, *, openpyxl_rows: bool = False) -> dict[str, Any]:
    """Export ``rows`` fabricated events ``repeats`` times; return medians and every run.

    Args:
        rows: events per export.
        repeats: how many exports (medians reported).
        openpyxl_rows: every row through openpyxl's own ``append`` instead of the row renderer.

    Returns:
        ``cpu_s`` / ``wall_s`` medians, the runs, ``peak_rss_mb`` of this process and the file size.
    """
    end = datetime(2026, 11, 30, tzinfo=UTC)
    events = list(fabricate(rows, seed=3, start=end - timedelta(days=7), end=end))
    install = sheetrows.FastRows.install
    if openpyxl_rows:
        sheetrows.FastRows.install = staticmethod(lambda ws: None)  # type: ignore[method-assign]
    cpu, wall = [], []
    size = 0
    try:
        with tempfile.TemporaryDirectory() as folder:
            target = Path(folder) / "export.xlsx"
            for _ in range(repeats):
                started, used = time.perf_counter(), time.process_time()
                export_xlsx(events, target, zone="Europe/Berlin")
                wall.append(time.perf_counter() - started)
                cpu.append(time.process_time() - used)
                size = target.stat().st_size
    finally:
        sheetrows.FastRows.install = install  # type: ignore[method-assign]
    return {"rows": rows, "openpyxl_rows": openpyxl_rows, "cpu_s": statistics.median(cpu), "cpu_runs": cpu,
            "wall_s": statistics.median(wall), "wall_runs": wall, "bytes": size,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and print one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m bench.export_cost")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--openpyxl-rows", action="store_true", help="no row renderer: openpyxl's append only")
    args = parser.parse_args(argv)
    if args.rows < 1 or args.repeat < 1:
        parser.error("--rows and --repeat must be >= 1")
    print(json.dumps(measure(args.rows, args.repeat, openpyxl_rows=args.openpyxl_rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
