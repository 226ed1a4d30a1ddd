"""Export dialog: writes the workbook in a worker with a progress bar and Cancel; shows the file when done."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Label, ProgressBar

from auditlog.indexer.errors import ES_ERRORS, describe_es_error, one_line
from auditlog.tui.export.xlsx import ExportCancelled, ExportResult, export_xlsx
from auditlog.tui.summaries import Summarizer
from auditlog.tui.values import printable

#: Opens the events to export (called in the worker thread): (events, expected count, closer).
EventSource = Callable[[], tuple[Iterable[Mapping[str, Any]], int, Callable[[], None]]]


class ExportScreen(ModalScreen[ExportResult | None]):
    """Runs one export; dismisses with the result (``None`` when cancelled or failed)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel / close")]
    DEFAULT_CSS = """
    ExportScreen { align: center middle; }
    ExportScreen > Vertical { width: 70; height: auto; border: round $accent; background: $surface; padding: 0 1; }
    ExportScreen ProgressBar { width: 100%; }
    ExportScreen #path { color: $success; width: 100%; height: auto; }
    """

    def __init__(self, title: str, source: EventSource, path: Path, *, zone: str, summarizer: Summarizer,
                 filters: list[tuple[str, str]],
                 metadata: Callable[[], list[tuple[str, str]]] | None = None,
                 describe: Callable[[BaseException], str] = describe_es_error) -> None:
        """``metadata`` adds Metadata rows computed in the worker (e.g. a single event's proof); ``describe`` turns
        a cluster error into the line shown (the app's names the cluster's URL)."""
        super().__init__()
        self.describe = describe
        self.title_text = title
        self.source = source
        self.path = path
        self.zone = zone
        self.summarizer = summarizer
        self.filters = filters
        self.metadata = metadata
        self.result: ExportResult | None = None
        self.error: str | None = None
        self._cancel = threading.Event()
        self.finished = threading.Event()

    def compose(self) -> ComposeResult:
        with Vertical():
            # Titles, paths and errors carry event data (ids) or Elasticsearch's words: plain text, never markup.
            yield Label(Content(printable(self.title_text)), id="title")
            yield ProgressBar(total=None, show_eta=False, id="bar")
            yield Label("starting…", id="status")
            yield Label("", id="path")
            yield Button("Cancel", id="cancel", variant="warning")

    def on_mount(self) -> None:
        self.run_export()

    @work(thread=True, exclusive=True, exit_on_error=False)
    def run_export(self) -> None:
        closer: Callable[[], None] = lambda: None  # noqa: E731
        try:
            events, total, closer = self.source()
            self.app.call_from_thread(self._progress, 0, total)
            pairs = self.filters + (self.metadata() if self.metadata is not None else [])
            result = export_xlsx(
                events, self.path, zone=self.zone, summarizer=self.summarizer, filters=pairs, total=total,
                progress=lambda n, t: self.app.call_from_thread(self._progress, n, t),
                cancelled=self._cancel.is_set,
            )
        except ExportCancelled:
            self.app.call_from_thread(self._done, None, "Export cancelled; no file written.")
        except ES_ERRORS as exc:
            self.app.call_from_thread(self._done, None, f"Export failed: {self.describe(exc)}")
        except Exception as exc:  # a disk or data problem must not crash the app
            self.app.call_from_thread(self._done, None, f"Export failed: {one_line(str(exc))}")
        else:
            self.app.call_from_thread(self._done, result, None)
        finally:
            try:
                closer()
            finally:
                self.finished.set()

    def _progress(self, rows: int, total: int | None) -> None:
        bar = self.query_one(ProgressBar)
        bar.update(total=total if total else None, progress=rows)
        of = f" of {total:,}" if total is not None else ""
        self.query_one("#status", Label).update(f"{rows:,}{of} events written")

    def _done(self, result: ExportResult | None, error: str | None) -> None:
        self.result, self.error = result, error
        button = self.query_one("#cancel", Button)
        button.label, button.variant = "Close", "primary"
        if result is not None:
            self._progress(result.rows, result.rows)
            sheets = f" on {len(result.sheets)} sheets" if len(result.sheets) > 1 else ""
            odd = f" ({result.undecodable:,} undecodable, marked)" if result.undecodable else ""
            self.query_one("#path", Label).update(
                Content(printable(f"Saved {result.rows:,} events{sheets} to {result.path}{odd}")))
            self.app.notify(printable(f"Exported {result.rows:,} events to {result.path}{odd}"), title="Export done",
                            timeout=10, markup=False)
        else:
            self.query_one("#status", Label).update(Content(printable(error or "")))
            self.app.notify(printable(error or "Export stopped"),
                            severity="warning" if self._cancel.is_set() else "error", markup=False)

    def action_cancel(self) -> None:
        if self.finished.is_set():
            self.dismiss(self.result)
        else:
            self._cancel.set()
            self.query_one("#status", Label).update("cancelling…")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_cancel()
