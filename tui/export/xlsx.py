"""Write audit events to an ``.xlsx`` workbook: streaming, typed, safe, any number of rows.

openpyxl's write-only mode streams rows to disk, so memory stays flat however many events are
exported. The workbook has:

- ``Events`` (then ``Events (2)``, ``Events (3)``...): a header row, then one row per event (see
  ``tui.export.rows``). Excel holds 1,048,576 rows per sheet; after 1,048,575 events (plus the
  header) the export continues on the next sheet. Times are real Excel dates in the chosen zone,
  which the header names; the header row is frozen and carries an auto-filter.
- ``Metadata``: the filters, time zone, row count, undecodable events, sheets, generation time and
  auditlog version.

An event that cannot be read (a placeholder from the query layer, or one whose row cannot be built)
becomes a marked row ``undecodable event <id>`` and is counted in ``Undecodable events``: one odd
document never aborts an export, and the row count still equals the number of events.

The file appears atomically: rows go to a hidden temporary file next to the target, renamed into
place only when complete. A cancelled or failed export leaves no partial file behind.

The row loop runs with relaxed GC thresholds (``auditlog.core.gc_tuning``): each 2,000-hit response
stays alive while its rows are written, and every default gen-2 pass would walk it. Plain-value rows
are rendered by ``tui.export.sheetrows`` (the same XML as openpyxl's own path, about half the export's
CPU saved). Speed and memory: docs/benchmarks.md ("Measurements behind code choices").
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zipfile import ZIP_DEFLATED, ZipFile
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.writer.excel import ExcelWriter

from auditlog import __version__
from auditlog.core.gc_tuning import relaxed
from auditlog.tui.export.rows import COLUMNS, TIME_WIDTH, checked_row, time_header
from auditlog.tui.export.sheetrows import FastRows
from auditlog.tui.sanitize import cell_value, sanitize_text, sheet_title
from auditlog.tui.summaries import Summarizer

#: Data rows per sheet: Excel's 1,048,576 rows minus the header.
MAX_DATA_ROWS = 1_048_575
DATE_FORMAT = "yyyy-mm-dd hh:mm:ss"
#: zlib level of the workbook's parts: the event sheets' XML is most of an export's bytes, and level 1
#: deflates it several times faster than zlib's default for a somewhat larger file (docs/benchmarks.md).
DEFLATE_LEVEL = 1
#: How often (in rows) progress is reported and cancellation checked.
PROGRESS_EVERY = 500

Progress = Callable[[int, int | None], None]


class ExportCancelled(Exception):
    """The user cancelled the export; no file was written."""


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote: the file, its event rows, the event sheets' names and the undecodable rows."""

    path: Path
    rows: int
    sheets: tuple[str, ...]
    undecodable: int = 0


class _EventSheets:
    """Appends event rows, starting a new sheet when one is full."""

    def __init__(self, wb: Workbook, zone_name: str, max_rows: int) -> None:
        self.wb = wb
        self.max_rows = max_rows
        self.header = [time_header(zone_name), *(name for name, _ in COLUMNS)]
        # openpyxl's stubs lack the write-only sheet's column_dimensions/auto_filter, hence Any.
        self.sheets: list[Any] = []
        self.rows_in_sheet = 0
        self._bold = Font(bold=True)

    def _new_sheet(self) -> Any:
        self._finish_sheet()
        title = "Events" if not self.sheets else f"Events ({len(self.sheets) + 1})"
        ws: Any = self.wb.create_sheet(sheet_title(title))
        ws.column_dimensions["A"].width = TIME_WIDTH
        for index, (_, width) in enumerate(COLUMNS, start=2):
            ws.column_dimensions[get_column_letter(index)].width = width
        ws.freeze_panes = "A2"
        # Event rows are plain values: written as text (tui.export.sheetrows), same XML; before the
        # first append, as it gives the sheet the stream the rows go to.
        FastRows.install(ws)
        header = []
        for name in self.header:
            cell = WriteOnlyCell(ws, value=sanitize_text(name))
            cell.font = self._bold
            header.append(cell)
        ws.append(header)
        self.sheets.append(ws)
        self.rows_in_sheet = 0
        return ws

    def _finish_sheet(self) -> None:
        if self.sheets:
            ws = self.sheets[-1]
            ws.auto_filter.ref = f"A1:{get_column_letter(len(self.header))}{self.rows_in_sheet + 1}"

    def append(self, cells: list[Any]) -> None:
        if not self.sheets or self.rows_in_sheet >= self.max_rows:
            self._new_sheet()
        # openpyxl gives datetime cells a date number format itself ("yyyy-mm-dd h:mm:ss"), so plain
        # values suffice (FastRows uses the same style).
        self.sheets[-1].append(cells)
        self.rows_in_sheet += 1

    def discard(self) -> None:
        """Close the sheets' streams after a failure and delete openpyxl's temporary file of each sheet's rows.

        openpyxl removes those files only when the workbook is saved or the process exits: a cancelled export in
        the TUI left its rows (about 12 MB per 50,000) in the temporary folder until the TUI quit.
        """
        for ws in self.sheets:
            with contextlib.suppress(Exception):  # already broken; its rows are deleted below anyway
                if not ws.closed:
                    ws.close()
            writer = getattr(ws, "_writer", None)  # openpyxl's WorksheetWriter, which owns the temporary file
            if writer is not None:
                with contextlib.suppress(Exception):
                    writer.cleanup()

    def close(self) -> tuple[str, ...]:
        if not self.sheets:
            self._new_sheet()
        self._finish_sheet()
        return tuple(ws.title for ws in self.sheets)


def _metadata_sheet(wb: Workbook, pairs: list[tuple[str, Any]]) -> None:
    ws: Any = wb.create_sheet(sheet_title("Metadata"))
    ws.column_dimensions["A"].width = 18
    ws.column_dimensions["B"].width = 60
    bold = Font(bold=True)
    for key, value in pairs:
        # Every cell is sanitised, labels too: a filter's label may one day carry user text.
        label = WriteOnlyCell(ws, value=sanitize_text(str(key)))
        label.font = bold
        cell = WriteOnlyCell(ws, value=cell_value(value))  # type: ignore[arg-type]
        if isinstance(value, datetime):
            cell.number_format = DATE_FORMAT
        ws.append([label, cell])


def _save(wb: Workbook, path: Path) -> None:
    """Save ``wb`` as ``Workbook.save`` does, with the deflate level ``DEFLATE_LEVEL``."""
    wb.properties.modified = datetime.now(UTC).replace(tzinfo=None)
    with ZipFile(path, "w", ZIP_DEFLATED, allowZip64=True, compresslevel=DEFLATE_LEVEL) as archive:
        ExcelWriter(wb, archive).save()


def export_xlsx(
    events: Iterable[Mapping[str, Any]],
    path: str | os.PathLike[str],
    *,
    zone: str = "UTC",
    summarizer: Summarizer | None = None,
    filters: list[tuple[str, str]] | None = None,
    total: int | None = None,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
    max_rows_per_sheet: int = MAX_DATA_ROWS,
    now: datetime | None = None,
) -> ExportResult:
    """Write ``events`` to an Excel workbook at ``path``.

    Args:
        events: nested contract-v1 events in the order they should appear (newest first).
        path: the ``.xlsx`` file to write (replaced if it exists).
        zone: IANA time zone for the time column and the generation time.
        summarizer: renders the summary column (English by default).
        filters: (label, value) pairs describing what was exported (``tui.filters.describe_filter``).
        total: the expected number of events, passed on to ``progress``.
        progress: called with (rows written, total) every ``PROGRESS_EVERY`` rows and at the end.
        cancelled: polled every ``PROGRESS_EVERY`` rows; when it returns true the export stops.
        max_rows_per_sheet: event rows per sheet before continuing on the next (Excel's limit by default).
        now: the generation time to record (defaults to the current time).

    Returns:
        The file, its number of event rows and the event sheets.

    Raises:
        ExportCancelled: when ``cancelled`` returned true (no file is left behind).
        ValueError: on an unknown time zone or a non-positive sheet size.
        OSError: when the file cannot be written.
    """
    if max_rows_per_sheet < 1:
        raise ValueError(f"max_rows_per_sheet must be >= 1: {max_rows_per_sheet}")
    try:
        tz = ZoneInfo(zone)
    except (ValueError, KeyError) as exc:  # ZoneInfoNotFoundError is a KeyError
        raise ValueError(f"unknown time zone {zone!r}") from exc
    summarizer = summarizer or Summarizer("en")
    target = Path(path)
    wb = Workbook(write_only=True)
    sheets = _EventSheets(wb, zone, max_rows_per_sheet)
    rows = undecodable = 0
    # a name nobody can guess, created exclusively: in a shared folder (/tmp) a link planted at a predictable
    # temporary name would have sent the workbook into whatever file the link names
    fd, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    temp = Path(temp_name)
    try:
        with relaxed():  # dozens of short-lived acyclic objects per row (auditlog.core.gc_tuning)
            for event in events:
                cells, readable = checked_row(event, tz, summarizer)
                sheets.append(cells)
                rows += 1
                if not readable:
                    undecodable += 1
                if rows % PROGRESS_EVERY == 0:
                    if cancelled is not None and cancelled():
                        raise ExportCancelled(f"export cancelled after {rows} rows")
                    if progress is not None:
                        progress(rows, total)
        names = sheets.close()
        generated = (now or datetime.now(UTC)).astimezone(tz)
        _metadata_sheet(wb, [
            *(filters or []),
            ("Time zone", zone),
            ("Rows", rows),
            ("Undecodable events", undecodable),
            ("Sheets", ", ".join(names)),
            ("Generated at", generated.replace(tzinfo=None)),
            ("Version", f"auditlog {__version__}"),
        ])
        _save(wb, temp)
        os.replace(temp, target)
    except BaseException:
        sheets.discard()
        temp.unlink(missing_ok=True)
        raise
    if progress is not None:
        progress(rows, total)
    return ExportResult(path=target, rows=rows, sheets=names, undecodable=undecodable)
