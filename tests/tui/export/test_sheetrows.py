"""Tests for tui.export.sheetrows: plain-value rows rendered as openpyxl would write them."""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from auditlog.tui.export.sheetrows import FastRows, row_xml
from auditlog.tui.sanitize import cell_value

EPOCH = Workbook().epoch
ROWS: list[list[Any]] = [
    [datetime(2026, 11, 20, 9, 30, 15, 250000), "Anna Keller", "org-1001", None, "delete"],
    ["  leading and trailing  ", "a & b <c> ]]> d", "line\nbreak\tand tab", "cr\rhere", "ümlaut ✓ 😀"],
    [True, False, 0, -17, 2**53, 3.25, 1e-300, None, "x"],
    ["=1+1", "#N/A", date(2026, 1, 2), "after fallbacks"],  # formula, error code, a date: openpyxl's path
    [None, None, None],
    ["x" * 40_000],  # over Excel's limit: openpyxl truncates it on its own path
]


def _write(path: Path, rows: Sequence[Sequence[Any]], *, fast: bool) -> FastRows | None:
    wb = Workbook(write_only=True)
    ws: Any = wb.create_sheet("Events")
    hooked = FastRows.install(ws) if fast else None
    ws.append(["header"])
    for row in rows:
        ws.append(list(row))
    wb.save(path)
    return hooked


def _parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist() if not name.startswith("docProps/")}


def test_fast_rows_write_the_same_file_as_openpyxl(tmp_path: Path) -> None:
    """Every part of the workbook is byte for byte what openpyxl writes on its own."""
    _write(tmp_path / "slow.xlsx", ROWS, fast=False)
    _write(tmp_path / "fast.xlsx", ROWS, fast=True)
    assert _parts(tmp_path / "slow.xlsx") == _parts(tmp_path / "fast.xlsx")


def test_plain_rows_take_the_fast_path(tmp_path: Path) -> None:
    """Rows of text, numbers, booleans and naive datetimes are rendered by row_xml, the rest by openpyxl."""
    hooked = _write(tmp_path / "fast.xlsx", ROWS, fast=True)
    assert hooked is not None
    # the plain header and three rows; formula/error/date, no cells at all, over-long text: openpyxl
    assert 4 == hooked.rows_fast


def test_rows_keep_their_order_across_both_paths(tmp_path: Path) -> None:
    """Rows alternating between openpyxl's path and the fast one land in the sheet in the order appended."""
    mixed: list[list[Any]] = [["=1+1"], ["plain"], [date(2026, 1, 2)], ["after"], ["#N/A"]]
    _write(tmp_path / "slow.xlsx", mixed, fast=False)
    _write(tmp_path / "fast.xlsx", mixed, fast=True)
    assert _parts(tmp_path / "slow.xlsx") == _parts(tmp_path / "fast.xlsx")


def test_dates_read_back_as_datetimes(tmp_path: Path) -> None:
    """A datetime written by the fast path is a real Excel date-time with a date number format."""
    _write(tmp_path / "fast.xlsx", ROWS[:1], fast=True)
    ws = openpyxl.load_workbook(tmp_path / "fast.xlsx")["Events"]
    assert datetime(2026, 11, 20, 9, 30, 15, 250000) == ws["A2"].value
    assert ws["A2"].is_date


@pytest.mark.parametrize("value", [float("nan"), float("inf"), datetime(2026, 1, 1).astimezone(), b"x", [1]])
def test_unusual_values_are_left_to_openpyxl(value: Any) -> None:
    """Values outside the plain types make row_xml decline the row."""
    assert row_xml(["text", value], 2, lambda: "1", EPOCH) is None


def test_text_is_escaped_and_cr_kept() -> None:
    """Markup characters are escaped; CR is a character reference so parsing keeps it; edges keep spaces."""
    xml = row_xml([" <a&b> \r"], 7, lambda: "1", EPOCH)
    cell = '<c r="A7" t="inlineStr"><is><t xml:space="preserve"> &lt;a&amp;b&gt; &#13;</t></is></c>'
    assert f'<row r="7">{cell}</row>' == xml


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=30), st.integers(), st.booleans(),
                          st.floats(allow_nan=False, allow_infinity=False),
                          st.datetimes(min_value=datetime(1900, 3, 1), max_value=datetime(9999, 1, 1))),
                max_size=8))
def test_sanitised_rows_match_openpyxl(values: list[Any]) -> None:
    """Any row of sanitised cells gives the same sheet XML on either path."""
    row = [cell_value(v) for v in values]
    with tempfile.TemporaryDirectory() as folder:
        slow, fast = Path(folder) / "slow.xlsx", Path(folder) / "fast.xlsx"
        _write(slow, [row], fast=False)
        _write(fast, [row], fast=True)
        assert _parts(slow) == _parts(fast)
