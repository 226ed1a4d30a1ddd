"""CLI of the TUI: --tenant is the customer view of exactly one tenant; export ends in one line on bad answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from auditlog.cli import main
from tests.indexer.query.fakes import FakeClient


def test_tui_with_two_tenants_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """A second --tenant is a usage error, not a silent replacement of the first."""
    code = main(["tui", "--tenant", "org-1", "--tenant", "org-2", "--es", "http://127.0.0.1:1"])
    err = capsys.readouterr().err.splitlines()
    assert (2, 1, True) == (code, len(err), "--tenant: the customer view shows one tenant" in err[0])


def test_export_to_a_bare_xlsx_suffix_says_a_name_is_missing(capsys: pytest.CaptureFixture[str]) -> None:
    """export -o .xlsx exits 2 saying the file needs a name, not that '.xlsx' must end in .xlsx."""
    code = main(["export", "-o", ".xlsx", "--es", "http://127.0.0.1:9"])
    err = capsys.readouterr().err.splitlines()
    assert (2, 1, True) == (code, len(err), "needs a name before .xlsx" in err[0])


def test_export_of_an_unreachable_node_names_its_url(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`export` against a node nobody listens on exits 1 saying it cannot reach Elasticsearch at that URL."""
    code = main(["export", "-o", str(tmp_path / "out.xlsx"), "--es", "http://127.0.0.1:9"])
    err = capsys.readouterr().err.splitlines()
    assert (1, 1, True) == (code, len(err), "cannot reach Elasticsearch at http://127.0.0.1:9: " in err[0])


def test_tui_of_an_unreachable_node_names_its_url(capsys: pytest.CaptureFixture[str]) -> None:
    """`tui --tenant T` against a node nobody listens on exits 1 saying it cannot reach Elasticsearch at that URL."""
    code = main(["tui", "--tenant", "org-1", "--es", "http://127.0.0.1:9"])
    err = capsys.readouterr().err.splitlines()
    assert (1, 1, True) == (code, len(err), "cannot reach Elasticsearch at http://127.0.0.1:9: " in err[0])


def test_tui_gives_the_app_the_cluster_url(monkeypatch: pytest.MonkeyPatch) -> None:
    """`tui --es URL` hands URL to the app, which names it in the errors its screens show."""
    started: list[Any] = []

    class Recording:
        ended_by = None

        def __init__(self, config: Any) -> None:
            started.append(config)

        def run(self) -> None:
            """Return at once: the app's screens are tested in tests/tui."""

    monkeypatch.setattr("auditlog.tui.app.AuditLogApp", Recording)
    code = main(["tui", "--es", "http://127.0.0.1:9"])
    assert (code, [c.url for c in started]) == (0, ["http://127.0.0.1:9"])


def _export_from(client: FakeClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                 capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], list[str]]:
    """Run ``auditlog export`` against ``client``; return the exit code, stderr's lines and the folder's files."""
    monkeypatch.setattr("auditlog.commands.tui._client", lambda settings: client)
    code = main(["export", "-o", str(tmp_path / "out.xlsx"), "--es", "http://127.0.0.1:9"])
    return code, capsys.readouterr().err.splitlines(), sorted(p.name for p in tmp_path.iterdir())


def test_export_of_a_cluster_repeating_its_page_exits_1_in_one_line_without_a_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """An answer that serves the first full page for every search_after ends the export at once: exit 1, no file."""
    client, first = FakeClient(5_000), list[dict[str, Any]]()

    def tamper(body: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
        assert len(client.searches) <= 5, "the export kept paging"
        first[:] = first or response["hits"]["hits"]
        response["hits"]["hits"] = [dict(hit) for hit in first]
        return response

    client.tamper = tamper
    code, err, files = _export_from(client, tmp_path, monkeypatch, capsys)
    assert (1, 1, True, []) == (code, len(err), "out of the listing's order" in err[0], files)


def test_export_of_an_answer_without_total_exits_1_in_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A search answer without hits.total ends the export with one line, not an AssertionError traceback."""
    client = FakeClient(5)

    def tamper(body: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
        response["hits"].pop("total", None)
        return response

    client.tamper = tamper
    code, err, files = _export_from(client, tmp_path, monkeypatch, capsys)
    assert (1, 1, True, []) == (code, len(err), "no exact hits.total" in err[0], files)


def test_tui_tenant_that_is_not_utf8_exits_2_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    """tui --tenant with bytes that are not UTF-8 is a usage error, not "the answer could not be read"."""
    with pytest.raises(SystemExit) as exc:
        main(["tui", "--tenant", b"org\xff".decode("utf-8", "surrogateescape"), "--es", "http://127.0.0.1:1"])
    err = capsys.readouterr().err
    assert (2, True) == (exc.value.code, "argument --tenant: 'org\\udcff' holds bytes that are not UTF-8" in err), err
