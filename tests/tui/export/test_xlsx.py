"""Tests for tui.export.xlsx: the Excel workbook written from events (no Elasticsearch needed)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from auditlog import __version__
from auditlog.demo.data import fabricate
from auditlog.tui.export.xlsx import ExportCancelled, export_xlsx

END = datetime(2026, 11, 20, tzinfo=UTC)


def _events(count: int) -> list[dict[str, Any]]:
    return list(reversed(list(fabricate(count, seed=7, start=END - timedelta(days=2), end=END))))


def _sheet(path: Path, name: str) -> list[tuple[Any, ...]]:
    wb = openpyxl.load_workbook(path, read_only=True)
    return [tuple(row) for row in wb[name].iter_rows(values_only=True)]


def test_one_row_per_event_after_a_header(tmp_path: Path) -> None:
    """The events sheet has a header naming the zone and one row per event, in the given order."""
    events = _events(25)
    result = export_xlsx(events, tmp_path / "out.xlsx", zone="Europe/Zurich")
    rows = _sheet(result.path, "Events")
    assert ("Time (Europe/Zurich)", 25, [e["event"]["id"] for e in events]) == (
        rows[0][0], result.rows, [r[-1] for r in rows[1:]])


def test_times_are_real_dates_in_the_zone(tmp_path: Path) -> None:
    """The time column holds Excel dates converted to the chosen zone, not strings."""
    event = _events(1)[0]
    event["@timestamp"] = "2026-07-01T10:00:00Z"
    export_xlsx([event], tmp_path / "t.xlsx", zone="Europe/Zurich")
    expected = datetime(2026, 7, 1, 12, 0, 0)
    assert expected == _sheet(tmp_path / "t.xlsx", "Events")[1][0]


def test_raw_changes_become_old_and_new_columns(tmp_path: Path) -> None:
    """Changed fields, old and new values are listed per field."""
    event = {"@timestamp": "2026-11-19T09:00:00Z", "event": {"id": "e1", "action": "update"},
             "audit": {"source": "appointments", "changes": {"start": {"old": "10:00", "new": "11:00"},
                                                             "note": {"new": "x"}}}}
    export_xlsx([event], tmp_path / "c.xlsx")
    header, row = _sheet(tmp_path / "c.xlsx", "Events")
    cells = dict(zip(header, row, strict=True))
    expected = ("note, start", "start: 10:00", "note: x\nstart: 11:00")
    assert expected == (cells["Changed fields"], cells["Old values"], cells["New values"])


def test_rows_continue_on_next_sheet(tmp_path: Path) -> None:
    """Past the per-sheet limit the export continues on Events (2), (3), losing no row."""
    result = export_xlsx(_events(7), tmp_path / "s.xlsx", max_rows_per_sheet=3)
    sizes = [len(_sheet(result.path, name)) - 1 for name in result.sheets]
    expected = (("Events", "Events (2)", "Events (3)"), [3, 3, 1])
    assert expected == (result.sheets, sizes)


def test_metadata_sheet(tmp_path: Path) -> None:
    """The metadata sheet records filters, zone, row count, generation time and version."""
    now = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
    export_xlsx(_events(4), tmp_path / "m.xlsx", zone="Europe/Berlin", now=now, filters=[("Tenant", "org-1001")])
    meta = dict(_sheet(tmp_path / "m.xlsx", "Metadata"))
    expected = ("org-1001", "Europe/Berlin", 4, datetime(2026, 11, 20, 9, 30), f"auditlog {__version__}")
    assert expected == (meta["Tenant"], meta["Time zone"], meta["Rows"], meta["Generated at"], meta["Version"])


def test_hostile_values_are_neutralised(tmp_path: Path) -> None:
    """A message that looks like a formula is stored as inert text, control characters escaped."""
    event = {"@timestamp": "2026-11-19T09:00:00Z", "event": {"id": "e1"}, "message": "=cmd|'/c calc'!A1\x07"}
    export_xlsx([event], tmp_path / "h.xlsx")
    header, row = _sheet(tmp_path / "h.xlsx", "Events")
    expected = "'=cmd|'/c calc'!A1\\x07"
    assert expected == dict(zip(header, row, strict=True))["Message"]


def test_cancel_leaves_no_file(tmp_path: Path) -> None:
    """A cancelled export raises and leaves neither the target nor a temporary file."""
    with pytest.raises(ExportCancelled):
        export_xlsx(_events(1200), tmp_path / "x.xlsx", cancelled=lambda: True)
    leftovers: list[Path] = []
    assert leftovers == list(tmp_path.iterdir())


def test_cancel_deletes_openpyxls_temporary_rows_at_once(tmp_path: Path) -> None:
    """A cancelled export deletes the temporary file openpyxl wrote its rows to (not only at process exit)."""
    from openpyxl.worksheet import _writer

    before = set(_writer.ALL_TEMP_FILES)
    with pytest.raises(ExportCancelled):
        export_xlsx(_events(1200), tmp_path / "x.xlsx", cancelled=lambda: True)
    left = [path for path in set(_writer.ALL_TEMP_FILES) - before if Path(path).exists()]
    assert left == []


def test_progress_reports_rows_and_total(tmp_path: Path) -> None:
    """Progress is reported while writing and once at the end with the final count."""
    seen: list[tuple[int, int | None]] = []
    export_xlsx(_events(1100), tmp_path / "p.xlsx", total=1100, progress=lambda n, t: seen.append((n, t)))
    expected = [(500, 1100), (1000, 1100), (1100, 1100)]
    assert expected == seen


def test_empty_export_has_header_and_zero_rows(tmp_path: Path) -> None:
    """No events still gives a valid workbook: the header and a metadata row count of 0."""
    result = export_xlsx([], tmp_path / "e.xlsx")
    expected = (1, 0)
    assert expected == (len(_sheet(result.path, "Events")), dict(_sheet(result.path, "Metadata"))["Rows"])


def test_unknown_zone_is_refused(tmp_path: Path) -> None:
    """An unknown zone is a ValueError naming it, before any file is written."""
    with pytest.raises(ValueError, match="Mars/Base"):
        export_xlsx([], tmp_path / "z.xlsx", zone="Mars/Base")


def test_undecodable_events_are_marked_rows_counted_in_metadata(tmp_path: Path) -> None:
    """A placeholder and an event at the calendar's end are exported as rows, and the placeholder is counted."""
    from auditlog.indexer.query.hits import undecodable_event

    edge = {"@timestamp": "9999-12-31T23:59:59Z", "event": {"id": "edge", "action": "create"}}
    events = [_events(1)[0], undecodable_event("bad-1", "_source is a list"), edge]
    result = export_xlsx(events, tmp_path / "u.xlsx", zone="Pacific/Kiritimati")
    header, *rows = _sheet(result.path, "Events")
    marked = dict(zip(header, rows[1], strict=True))
    meta = dict(_sheet(result.path, "Metadata"))
    expected = (3, 1, "undecodable event bad-1", "bad-1", 1, "9999-12-31T23:59:59Z")
    assert expected == (result.rows, result.undecodable, marked["Summary"], marked["Event ID"],
                        meta["Undecodable events"], rows[2][0])


def test_no_cell_of_a_hostile_export_is_a_formula(tmp_path: Path) -> None:
    """Read back with openpyxl, every hostile value is text starting with an apostrophe and no cell is a formula."""
    hostile = [" =1+1", "\n=cmd|' /C calc'!A0", "＝HYPERLINK(\"http://x\")", "\u200b@SUM(A1)", "\ufeff-2+3"]
    events = []
    for n, text in enumerate(hostile):
        event = _events(1)[0]
        event["event"]["id"] = f"h{n}"
        event["message"] = text
        event["user"] = {"id": text, "name": text}
        events.append(event)
    filters = [(" =label", "=value"), ("＠x", "\u200b+y")]
    result = export_xlsx(events, tmp_path / "h.xlsx", filters=filters)
    wb = openpyxl.load_workbook(result.path)
    cells = [cell for ws in wb.worksheets for row in ws.iter_rows() for cell in row if cell.value is not None]
    header = [c.value for c in wb["Events"][1]]
    messages = [row[header.index("Message")] for row in _sheet(result.path, "Events")[1:]]
    meta = _sheet(result.path, "Metadata")[:2]
    # the invisible characters in front of the formula are shown as their escapes
    neutralised = ["'" + t.replace("\u200b", "\\u200b").replace("\ufeff", "\\ufeff") for t in hostile]
    expected: tuple[list[str], list[str], list[tuple[Any, ...]]] = (
        [], neutralised, [("' =label", "'=value"), ("'＠x", "'\\u200b+y")])
    assert expected == ([c.coordinate for c in cells if c.data_type == "f"], messages, meta)


def test_a_link_planted_at_the_old_temporary_name_is_not_followed(tmp_path: Path) -> None:
    """In a shared folder, a link at '.<name>.<pid>.part' (the name the export once wrote through) is left alone:
    the victim file keeps its content, the workbook lands at its own name, and no temporary file remains."""
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tmp_path / f".out.xlsx.{os.getpid()}.part").symlink_to(victim)
    export_xlsx(_events(3), tmp_path / "out.xlsx")
    leftovers = sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".part") and not p.is_symlink())
    assert ("keep me", 4, []) == (victim.read_text(), openpyxl.load_workbook(tmp_path / "out.xlsx")["Events"].max_row,
                                  leftovers)


def test_an_export_that_fails_leaves_the_file_it_would_replace_as_it_was(tmp_path: Path) -> None:
    """`-o` replaces an existing file only once the new workbook is complete: a cancelled export keeps the old one."""
    target = tmp_path / "out.xlsx"
    target.write_bytes(b"the previous export")
    with pytest.raises(ExportCancelled):
        export_xlsx(_events(1200), target, cancelled=lambda: True)  # asked every PROGRESS_EVERY rows
    assert target.read_bytes() == b"the previous export"


def test_a_link_at_the_output_name_is_replaced_not_followed(tmp_path: Path) -> None:
    """A symbolic link named like the output is replaced by the workbook; the file it pointed to is untouched."""
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tmp_path / "out.xlsx").symlink_to(victim)
    export_xlsx(_events(2), tmp_path / "out.xlsx")
    assert (victim.read_text(), (tmp_path / "out.xlsx").is_symlink(),
            openpyxl.load_workbook(tmp_path / "out.xlsx")["Events"].max_row) == ("keep me", False, 3)
