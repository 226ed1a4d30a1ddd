"""``v``: the problems the background verification found for the filter on screen."""

from __future__ import annotations

from typing import ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from auditlog.indexer.verify import Report
from auditlog.tui.values import printable


def report_text(report: Report | None) -> str:
    """Render a report as the dialog's text (summary, problems, expired days).

    Ids and index names in the lines are the cluster's (a digest's id is whatever its writer chose): each line is
    shown as text on one line, its control characters as escapes (an ESC would reach the terminal, a line feed
    would forge a line of the report).
    """
    if report is None:
        return "Verification has not finished yet."

    def line(text: str) -> str:
        return escape(printable(text))

    lines = [f"[b]{line(report.summary())}[/b]", ""]
    lines += [line(p.line()) for p in report.problems] or ["No problems: every event checked is proven."]
    if report.expired:
        lines += ["", "[b]Expired (retention, not tampering)[/b]", *(line(e) for e in report.expired)]
    return "\n".join(lines)


class VerifyScreen(ModalScreen[None]):
    """The verification report of the current filter."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,v", "dismiss", "Close")]
    DEFAULT_CSS = """
    VerifyScreen { align: center middle; }
    VerifyScreen > VerticalScroll { width: 100; max-height: 30; border: round $accent; background: $surface;
                                    padding: 0 1; }
    """

    def __init__(self, report: Report | None) -> None:
        super().__init__()
        self.report = report

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(report_text(self.report), id="verify-body")
