"""`auditlog export` and `auditlog tui --tenant` against the real node."""

from __future__ import annotations

import functools
import os
import signal
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from elasticsearch import Elasticsearch

from auditlog.cli import main
from auditlog.indexer.query import EventStream, Filter
from auditlog.indexer.tiers import TierTable
from auditlog.tui.export.xlsx import export_xlsx
from tests.support.seed import SeedSummary, seeded_namespace
from tests.tui.support import seed_events


@pytest.fixture(scope="module")
def seeded(es: Elasticsearch) -> Iterator[tuple[TierTable, SeedSummary, list[dict[str, Any]]]]:
    """A namespace with the TUI tests' deterministic events."""
    events = seed_events()
    with seeded_namespace(es, events, label="export") as (tiers, summary):
        yield tiers, summary, events


def _rows(path: Path, sheet: str = "Events") -> list[tuple[Any, ...]]:
    return list(openpyxl.load_workbook(path, read_only=True)[sheet].iter_rows(values_only=True))


def test_export_writes_every_matching_event(es_url: str, seeded: Any, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """The command exports exactly the events the filter selects, newest first, and says where."""
    tiers, summary, events = seeded
    out = tmp_path / "deletes.xlsx"
    status = main(["export", "--es", es_url, "--prefix", tiers.prefix, "--action", "delete", "--tenant", "org-1001",
                   "--tz", "Europe/Zurich", "-o", str(out)])
    rows = _rows(out)
    wanted = sorted((e for e in events if e["event"]["action"] == "delete"
                     and e["organization"]["id"] == "org-1001"), key=lambda e: e["@timestamp"], reverse=True)
    selected = summary.expected(Filter(tenants=("org-1001",), actions=("delete",)))
    expected = (0, selected, [e["event"]["id"] for e in wanted])
    assert expected == (status, len(rows) - 1, [r[-1] for r in rows[1:]])
    assert f"to {out}" in capsys.readouterr().out


#: each repeatable filter flag -> (Filter field, the event's value for it)
REPEATABLE: dict[str, tuple[str, Any]] = {
    "--tenant": ("tenants", lambda e: e["organization"]["id"]),
    "--worker": ("workers", lambda e: (e.get("user") or {}).get("id")),
    "--action": ("actions", lambda e: e["event"]["action"]),
    "--source": ("sources", lambda e: e["audit"]["source"]),
}


@pytest.mark.parametrize("flag", sorted(REPEATABLE))
def test_export_repeated_flag_exports_both_values(flag: str, es_url: str, seeded: Any, tmp_path: Path) -> None:
    """A filter flag given twice exports the events of either value, more than either value alone."""
    tiers, summary, events = seeded
    field, value_of = REPEATABLE[flag]
    counts: dict[str, int] = {}
    for event in events:
        if value_of(event):
            counts[value_of(event)] = counts.get(value_of(event), 0) + 1
    first, second = sorted(counts, key=lambda v: (-counts[v], v))[:2]
    out = tmp_path / "both.xlsx"
    status = main(["export", "--es", es_url, "--prefix", tiers.prefix, flag, first, flag, second, "-o", str(out)])
    both = summary.expected(Filter().with_(**{field: (first, second)}))
    assert (0, both, True) == (status, len(_rows(out)) - 1, both == counts[first] + counts[second])


def test_export_metadata_names_filters_and_zone(es_url: str, seeded: Any, tmp_path: Path) -> None:
    """The metadata sheet records the filters, time zone and row count; times are real dates."""
    tiers, summary, _ = seeded
    out = tmp_path / "all.xlsx"
    status = main(["export", "--es", es_url, "--prefix", tiers.prefix, "--source", "login", "--tz", "Asia/Tokyo",
                   "-o", str(out)])
    assert 0 == status
    meta = dict(_rows(out, "Metadata"))
    rows = _rows(out)
    expected = ("login", "Asia/Tokyo", summary.expected(Filter(sources=("login",))), "Time (Asia/Tokyo)", True)
    assert expected == (meta["Sources"], meta["Time zone"], meta["Rows"], rows[0][0], isinstance(rows[1][0], datetime))


def test_export_continues_on_next_sheet_from_the_stream(es: Elasticsearch, seeded: Any, tmp_path: Path) -> None:
    """Streaming a real listing with a small sheet limit spreads it over several sheets, losing nothing."""
    tiers, summary, _ = seeded
    with EventStream(es, tiers, Filter(), batch_size=100) as stream:
        result = export_xlsx(stream, tmp_path / "split.xlsx", max_rows_per_sheet=250)
    sizes = [len(_rows(result.path, name)) - 1 for name in result.sheets]
    expected = (summary.count, summary.count, [250, 250, summary.count - 500])
    assert expected == (result.rows, sum(sizes), sizes)


def test_export_bad_zone_exits_2(es_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown time zone is a usage error naming --tz."""
    status = main(["export", "--es", es_url, "--tz", "Mars/Olympus", "-o", str(tmp_path / "x.xlsx")])
    expected = (2, True)
    assert expected == (status, "--tz" in capsys.readouterr().err)


def test_export_bad_output_name_exits_2(es_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An output that is not .xlsx is a usage error naming --output."""
    status = main(["export", "--es", es_url, "-o", str(tmp_path / "x.csv")])
    expected = (2, True)
    assert expected == (status, "--output" in capsys.readouterr().err)


def test_export_cluster_down_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unreachable cluster is a clear one-line error, exit 1, and no file."""
    out = tmp_path / "x.xlsx"
    status = main(["export", "--es", "http://127.0.0.1:9", "-o", str(out)])
    expected = (1, True, False)
    assert expected == (status, "cannot reach Elasticsearch" in capsys.readouterr().err, out.exists())


def test_tui_customer_view_refused_for_business_tier(es_url: str, seeded: Any,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """`auditlog tui --tenant` of a business tenant is refused with a message naming the tier, exit 1."""
    tiers, _, _ = seeded
    status = main(["tui", "--es", es_url, "--prefix", tiers.prefix, "--tenant", "org-2001"])
    err = capsys.readouterr().err
    expected = (1, True, True)
    assert expected == (status, "'business'" in err, "enterprise" in err)


def test_tui_customer_view_refused_for_unknown_tenant(es_url: str, seeded: Any,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """A tenant without events is refused too (nothing to decide its tier from)."""
    tiers, _, _ = seeded
    status = main(["tui", "--es", es_url, "--prefix", tiers.prefix, "--tenant", "org-nope"])
    expected = (1, True)
    assert expected == (status, "no audit events found" in capsys.readouterr().err)


def _at_row(monkeypatch: pytest.MonkeyPatch, row: int, then: Callable[[], object]) -> None:
    """Make the export call ``then`` as it writes its ``row``-th row (a signal, a loss on the node)."""
    import auditlog.tui.export.xlsx as xlsx

    rows = 0
    real_row = xlsx.checked_row

    def counted(*args: Any) -> Any:
        nonlocal rows
        rows += 1
        if rows == row:
            then()
        return real_row(*args)

    monkeypatch.setattr(xlsx, "checked_row", counted)


def _open_search_contexts(es: Elasticsearch) -> int:
    stats = es.nodes.stats(metric="indices", index_metric="search")["nodes"]
    return sum(node["indices"]["search"]["open_contexts"] for node in stats.values())


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_stop_signal_mid_export_exits_128_plus_it_and_leaves_nothing_behind(
    signum: int, es: Elasticsearch, es_url: str, seeded: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SIGTERM (or SIGHUP, a closed ssh session) while rows are written: exit 128 + signal, no half file, no
    hidden temporary file, no rows left in openpyxl's temporary folder, the snapshot closed."""
    from openpyxl.worksheet import _writer


    tiers, _summary, _events = seeded
    _at_row(monkeypatch, 50, lambda: os.kill(os.getpid(), signum))
    previous = signal.signal(signum, signal.SIG_DFL)  # a test run under nohup ignores SIGHUP; a shell would not
    contexts, temp_files = _open_search_contexts(es), set(_writer.ALL_TEMP_FILES)
    try:
        code = main(["export", "--es", es_url, "--prefix", tiers.prefix, "-o", str(tmp_path / "all.xlsx")])
    finally:
        signal.signal(signum, previous)
    rows_left = [p for p in set(_writer.ALL_TEMP_FILES) - temp_files if Path(p).exists()]
    assert (code, sorted(tmp_path.iterdir()), rows_left, _open_search_contexts(es)) == (
        128 + signum, [], [], contexts)


@pytest.mark.parametrize("lost", ["snapshot", "oldest-day"])
def test_reading_lost_on_the_node_mid_export_is_one_line_and_no_file(
    lost: str, es: Elasticsearch, es_url: str, seeded: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The export's point in time closed on the node between two batches (a restart, a long stall), or the
    oldest day's indices closed (their shards' hits gone, the others' still there): exit 1 with one line and no
    file, never a shorter workbook and exit 0 (what partial results gave: 31 of 600 events)."""
    import auditlog.commands.tui as tui_command
    import auditlog.indexer.query.stream as stream_module

    tiers, _summary, _events = seeded
    opened: list[Any] = []
    oldest = sorted(es.indices.get(index=tiers.read_pattern), key=lambda name: name.rsplit("-", 1)[-1])[:1]
    oldest_day = oldest[0].rsplit("-", 1)[-1]
    day_indices = [name for name in es.indices.get(index=tiers.read_pattern) if name.endswith(oldest_day)]

    class Recorded(stream_module.PointInTime):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            opened.append(self)

    def lose() -> None:
        if lost == "snapshot":
            es.close_point_in_time(id=opened[0].id)
        else:
            es.indices.close(index=",".join(day_indices))

    monkeypatch.setattr(stream_module, "PointInTime", Recorded)
    monkeypatch.setattr(tui_command, "EventStream", functools.partial(EventStream, batch_size=25))
    _at_row(monkeypatch, 10, lose)
    try:
        code = main(["export", "--es", es_url, "--prefix", tiers.prefix, "--since", "2000-01-01",
                     "-o", str(tmp_path / "all.xlsx")])
    finally:
        es.indices.open(index=",".join(day_indices))
    err = capsys.readouterr().err.strip().splitlines()
    assert (code, len(err), "Traceback" in "".join(err), sorted(tmp_path.iterdir())) == (1, 1, False, []), err


def test_a_stop_signal_while_the_next_batch_hangs_ends_the_export_at_once(
    es: Elasticsearch, es_url: str, seeded: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SIGTERM while the request for the next batch hangs on the node: the export ends at once (exit 143, no
    file, the snapshot closed), not when that request times out."""
    import threading
    import time

    import auditlog.commands.tui as tui_command
    import auditlog.indexer.query.stream as stream_module

    tiers, _summary, _events = seeded
    release, real_fetch = threading.Event(), stream_module.fetch_after

    def hanging(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("after") is not None:
            release.wait(60)  # a node that does not answer within the test's patience
        return real_fetch(*args, **kwargs)

    monkeypatch.setattr(stream_module, "fetch_after", hanging)
    monkeypatch.setattr(tui_command, "EventStream", functools.partial(EventStream, batch_size=25))
    _at_row(monkeypatch, 10, lambda: os.kill(os.getpid(), signal.SIGTERM))
    contexts = _open_search_contexts(es)
    previous = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    started = time.monotonic()
    try:
        code = main(["export", "--es", es_url, "--prefix", tiers.prefix, "--since", "2000-01-01",
                     "-o", str(tmp_path / "all.xlsx")])
        took = time.monotonic() - started
    finally:
        signal.signal(signal.SIGTERM, previous)
        release.set()
    assert (code, sorted(tmp_path.iterdir()), _open_search_contexts(es), took < 20) == (
        128 + signal.SIGTERM, [], contexts, True), took


def test_an_index_deleted_by_retention_mid_export_is_one_line_naming_it_and_no_file(
    es: Elasticsearch, es_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """Retention deletes one of the exported indices between two batches: exit 1 with one line naming the index and
    saying nothing was written, not "Elasticsearch refused (404): no such index"."""
    import auditlog.commands.tui as tui_command

    with seeded_namespace(es, seed_events()[:200], label="export-del") as (tiers, _summary):
        newest = max(es.indices.get(index=tiers.read_pattern), key=lambda name: name.rsplit("-", 1)[-1])
        monkeypatch.setattr(tui_command, "EventStream", functools.partial(EventStream, batch_size=25))
        _at_row(monkeypatch, 10, lambda: es.indices.delete(index=newest))
        code = main(["export", "--es", es_url, "--prefix", tiers.prefix, "--since", "2000-01-01",
                     "-o", str(tmp_path / "all.xlsx")])
    err = capsys.readouterr().err.strip().splitlines()
    assert (code, err, sorted(tmp_path.iterdir())) == (
        1, [f"auditlog export: index {newest} was deleted while the export read it (retention?); "
            f"{str(tmp_path / 'all.xlsx')!r} was not written, export again"], [])
