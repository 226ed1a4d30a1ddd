"""A faster row path for openpyxl's write-only worksheets: rows of plain values written as text.

openpyxl's write-only ``append`` builds a ``Cell`` per value (type inference, string checks, a
coordinate) and streams it as four nested lxml elements. The exporter's values are already sanitised
(``tui.sanitize.cell_value``) and of a handful of types, so ``row_xml`` renders a whole ``<row>`` as
text and ``FastRows`` writes its bytes straight into the sheet's stream, between the parts openpyxl's
own writer streams (the sheet's top, rows it renders itself, ``</sheetData>`` and the tail). The bytes
are the ones openpyxl writes for those values (non-ASCII as decimal character references, like its
lxml stream; a test compares the two workbooks byte for byte); the workbook, styles, sheet properties
and zip remain openpyxl's. Well-formedness holds by construction: the values are of known types,
text is escaped by ``row_xml`` and ``tui.sanitize`` already removed what XML 1.0 forbids.

To write into the stream, ``FastRows.install`` gives the sheet its writer before the first ``append``,
streaming into a Python file object instead of a file libxml2 opens itself, and hooks ``close`` so the
writer names the finished file again when openpyxl zips it. A row holding anything else (styled
``WriteOnlyCell`` headers, dates without time, formulas, error codes, over-long text) takes openpyxl's
normal path, so the result never depends on which path a row took. When an openpyxl release no longer
has the hooks used here, ``install`` returns ``None`` and every row takes the normal path (slower, same
file).

Why this reaches into openpyxl's private ``_writer`` and ``_values_to_row`` instead of using its public
API only: docs/benchmarks.md (section 6 and "Export of 1M rows") keeps the measurements.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, BinaryIO

from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel

#: openpyxl's per-cell length limit (longer text takes its path, which truncates).
_MAX_TEXT = 32_767
_ERROR_CODES = frozenset(ERROR_CODES)
_BUFFER = 1 << 20


class _Letters(dict[int, str]):
    """Column index (from 0) -> column letter, computed on first use."""

    def __missing__(self, index: int) -> str:
        letter = self[index] = get_column_letter(index + 1)
        return letter


_LETTERS = _Letters()


def row_xml(values: Sequence[Any], row: int, date_style: Callable[[], str], epoch: datetime) -> str | None:
    """Render one worksheet row of plain values as openpyxl would write it.

    Args:
        values: the cells' values (``None`` = no cell): text, bool, int, finite float or naive datetime.
        row: the row number (from 1).
        date_style: returns the cell style id for datetimes (a date-time number format); asked only
            when the row has one, as registering the style changes the workbook.
        epoch: the workbook's date epoch (``Workbook.epoch``).

    Returns:
        The ``<row>`` element as text, or ``None`` when a value needs openpyxl's own handling.
    """
    r = str(row)
    parts = [f'<row r="{r}">']
    add = parts.append
    for index, value in enumerate(values):
        if value is None:
            continue
        kind = type(value)
        if kind is str:
            if not value or len(value) > _MAX_TEXT or value[0] == "=" or value in _ERROR_CODES:
                return None
            space = ' xml:space="preserve"' if value != value.strip() else ""
            # Escaped in line (a call per cell costs more than the scans): str.replace is a C scan that
            # returns the text itself when there is nothing to replace. CR becomes a character reference,
            # as openpyxl's lxml stream writes it (an XML reader would turn a literal one into LF).
            text = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
            add(f'<c r="{_LETTERS[index]}{r}" t="inlineStr"><is><t{space}>{text}</t></is></c>')
        elif kind is datetime:
            if value.tzinfo is not None:
                return None
            add(f'<c r="{_LETTERS[index]}{r}" s="{date_style()}" t="n"><v>{to_excel(value, epoch):.16g}</v></c>')
        elif kind is bool:
            add(f'<c r="{_LETTERS[index]}{r}" t="b"><v>{int(value)}</v></c>')
        elif kind is int or (kind is float and value - value == 0):  # finite floats only (nan/inf: not)
            add(f'<c r="{_LETTERS[index]}{r}" t="n"><v>{value:.16g}</v></c>')
        else:
            return None
    if len(parts) == 1:
        return None  # no cells: left to openpyxl, which writes an open and a close tag
    add("</row>")
    return "".join(parts)


class FastRows:
    """Writes plain-value rows of one write-only worksheet as ``row_xml`` text into its stream."""

    def __init__(self, ws: Any, out: BinaryIO, path: str) -> None:
        """Args:
            ws: an openpyxl write-only worksheet whose writer streams into ``out``.
            out: the open file the sheet's XML goes to.
            path: the name of that file (what openpyxl zips when the workbook is saved).
        """
        self.ws = ws
        self.rows_fast = 0
        self._out = out
        self._path = path
        self._date_style: str | None = None
        self._write_row = ws._writer.write_row
        self._values_to_row = ws._values_to_row
        self._close_sheet = ws.close
        # lxml's stream buffers what openpyxl writes: flushed before own bytes follow it.
        self._stream_dirty = True

    @staticmethod
    def install(ws: Any) -> FastRows | None:
        """Hook the fast path into ``ws`` before its first ``append``; ``None`` when openpyxl lacks the hooks.

        Args:
            ws: a write-only worksheet nothing was appended to yet.

        Returns:
            The installed path, or ``None`` (every row then takes openpyxl's own path).
        """
        if getattr(ws, "_writer", False) is not None or not callable(getattr(ws, "_values_to_row", None)) \
                or not callable(getattr(ws, "close", None)):
            return None
        try:
            from openpyxl.worksheet._writer import WorksheetWriter, create_temporary_file
        except ImportError:
            return None
        path = create_temporary_file()
        # a large buffer: the rows are about a kilobyte each, and every flush is a system call
        out = open(path, "wb", buffering=_BUFFER)  # noqa: SIM115 -- closed by the sheet's hooked close
        try:
            writer: Any = WorksheetWriter(ws, out=out)
            if not callable(getattr(writer, "write_row", None)) or not callable(getattr(writer, "write_top", None)):
                raise TypeError("openpyxl's worksheet writer has changed")
            ws._writer = writer
            writer.write_top()  # what openpyxl's own first append would do (``_get_writer``)
        except Exception:
            out.close()
            os.remove(path)
            ws._writer = None
            return None
        fast = FastRows(ws, out, path)
        # openpyxl's row loop calls self._values_to_row(values, n) then self._writer.write_row(xf, row, n):
        # values now reach write_row untouched and it picks the path per row.
        ws._values_to_row = fast._pass_values
        writer.write_row = fast._write
        ws.close = fast.close
        return fast

    def date_style(self) -> str:
        """The style id openpyxl gives a datetime cell (registered in the workbook on first use)."""
        if self._date_style is None:
            self._date_style = str(WriteOnlyCell(self.ws, value=datetime(2000, 1, 1)).style_id)
        return self._date_style

    def close(self) -> None:
        """Finish the sheet (openpyxl's ``close``), close its file and let the writer name the file again."""
        try:
            self._close_sheet()
        finally:
            self._out.close()
            self.ws._writer.out = self._path

    @staticmethod
    def _pass_values(values: Any, row: int) -> Any:
        return values

    def _write(self, xf: Any, values: Any, row: int) -> None:
        text = None
        if isinstance(values, list | tuple) and row not in self.ws.row_dimensions:
            text = row_xml(values, row, self.date_style, self.ws.parent.epoch)
        if text is None:
            self._write_row(xf, self._values_to_row(values, row), row)
            self._stream_dirty = True
            return
        if self._stream_dirty:
            xf.flush()
            self._stream_dirty = False
        # ASCII with character references: the bytes lxml's stream writes for the same text.
        self._out.write(text.encode("ascii", "xmlcharrefreplace"))
        self.rows_fast += 1
