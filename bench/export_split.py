"""Where an export's time goes, stage by stage, in one process against a node that holds the events.

``python -m bench.export_split --es URL --prefix P [--tenant ORG]`` reads the events with the export's
``EventStream``, then runs each later stage of ``auditlog export`` on its own over all of them and prints
one JSON object: CPU and wall seconds per stage and CPU microseconds per row. Stages: the scan (requests,
waiting and decoding; the next batch is fetched while the current one is read), the summaries alone,
row building (``checked_row``: fields, Raw diff, summary, sanitiser), the row XML text (``row_xml``), the
former lxml parse and re-serialisation of that text, encoding and writing it to a file, and deflating the
sheet at zlib's default level and at the level the export uses. The events are held in memory (about
3 KB each): use a slice of about 100,000 events. The garbage collector is off, as the export relaxes it.
"""

from __future__ import annotations

import gc
import io
import json
import os
import sys
import tempfile
import time
import zlib
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from lxml import etree
from openpyxl import Workbook

from auditlog.indexer.client import ConnectionSettings, make_client
from auditlog.indexer.query import EventStream, Filter
from auditlog.indexer.tiers import TierTable
from auditlog.tui.diff import diff_changes
from auditlog.tui.eventview import field
from auditlog.tui.export.rows import checked_row
from auditlog.tui.export.sheetrows import row_xml
from auditlog.tui.export.xlsx import DEFLATE_LEVEL
from auditlog.tui.summaries import Summarizer
from bench.export_probe import target_args


class _Clock:
    """CPU and wall seconds of one stage, added to a report as it ends."""

    def __init__(self, report: dict[str, Any], name: str, rows: int) -> None:
        self.report, self.name, self.rows = report, name, rows

    def __enter__(self) -> _Clock:
        self.cpu, self.wall = time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        cpu = time.process_time() - self.cpu
        self.report[self.name] = {"cpu_s": round(cpu, 2), "wall_s": round(time.perf_counter() - self.wall, 2),
                                  "cpu_us_per_row": round(cpu / max(self.rows, 1) * 1e6, 1)}


def split(url: str, prefix: str, tenant: str | None) -> dict[str, Any]:
    """Measure every stage once over the events of ``prefix`` (or one tenant's); return the report."""
    report: dict[str, Any] = {"load1_start": os.getloadavg()[0]}
    flt = Filter(tenants=(tenant,)) if tenant else Filter()
    client = make_client(ConnectionSettings(url=url))
    with _Clock(report, "scan", 1) as scan, EventStream(client, TierTable(prefix=prefix), flt) as stream:
        events = list(stream)
    rows = report["rows"] = len(events)
    report["scan"]["cpu_us_per_row"] = round((time.process_time() - scan.cpu) / max(rows, 1) * 1e6, 1)
    zone, summarizer = ZoneInfo("Europe/Zurich"), Summarizer("en")
    with _Clock(report, "summaries alone (with the Raw diff)", rows):
        for event in events:
            summarizer.summarize(event, diff_changes(field(event, "audit.changes")))
    with _Clock(report, "row building (checked_row)", rows):
        cells = [checked_row(event, zone, summarizer)[0] for event in events]
    epoch = Workbook().epoch
    with _Clock(report, "row XML text (row_xml)", rows):
        texts = [row_xml(row, number, lambda: "1", epoch) or "" for number, row in enumerate(cells, start=2)]
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    with _Clock(report, "before: lxml parse and re-serialise", rows), etree.xmlfile(io.BytesIO()) as xf, \
            xf.element("sheetData"):
        for text in texts:
            xf.write(etree.fromstring(text, parser))
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "sheet.xml")
        with _Clock(report, "now: encode and write the text", rows), open(path, "wb", buffering=1 << 20) as out:
            for text in texts:
                out.write(text.encode("ascii", "xmlcharrefreplace"))
        with open(path, "rb") as sheet:
            data = sheet.read()
    report["xml_bytes_per_row"] = round(len(data) / max(rows, 1))
    for level in sorted({6, DEFLATE_LEVEL}, reverse=True):
        name = f"deflate level {level}"
        with _Clock(report, name, rows):
            deflate = zlib.compressobj(level, zlib.DEFLATED, -15)
            size = len(deflate.compress(data)) + len(deflate.flush())
        report[name]["ratio"] = round(size / max(len(data), 1), 3)
    report["load1_end"] = os.getloadavg()[0]
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and print the report as JSON."""
    args = target_args("python -m bench.export_split", argv)
    gc.disable()
    print(json.dumps(split(args.es, args.prefix, args.tenant), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
