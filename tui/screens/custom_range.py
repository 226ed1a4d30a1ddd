"""``R``: ask for a custom time range (RFC 3339, a date, or relative like 2h / 7d)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import datetime
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

from auditlog.indexer.query.timespec import parse_time
from auditlog.tui.values import printable

TimeRange = tuple[datetime | None, datetime | None]


class CustomRangeScreen(ModalScreen[TimeRange | None]):
    """Two inputs (since, until); empty means open. Dismisses with the range or ``None``."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel")]
    DEFAULT_CSS = """
    CustomRangeScreen { align: center middle; }
    CustomRangeScreen > Vertical { width: 60; height: auto; border: round $accent; background: $surface;
                                   padding: 0 1; }
    CustomRangeScreen Horizontal { height: auto; }
    CustomRangeScreen #error { color: $error; }
    """

    def __init__(self, clock: Callable[[], datetime]) -> None:
        super().__init__()
        self.clock = clock

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Custom time range — RFC 3339, a date (2026-11-20) or relative (2h, 7d)")
            yield Input(placeholder="since, e.g. 7d or 2026-11-13", id="since")
            yield Input(placeholder="until (empty = now, open)", id="until")
            yield Label("", id="error")
            with Horizontal():
                yield Button("Apply", id="apply", variant="primary")
                yield Button("Cancel", id="cancel")

    def _parse(self) -> TimeRange:
        now = self.clock()
        values: list[datetime | None] = []
        for name in ("since", "until"):
            text = self.query_one(f"#{name}", Input).value.strip()
            values.append(parse_time(text).resolve(now) if text else None)
        since, until = values
        if since and until and since > until:
            raise argparse.ArgumentTypeError("since is after until")
        return since, until

    def _apply(self) -> None:
        try:
            self.dismiss(self._parse())
        except argparse.ArgumentTypeError as exc:
            self.query_one("#error", Label).update(Content(printable(str(exc))))

    def on_input_submitted(self) -> None:
        self._apply()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "apply":
            self._apply()
        else:
            self.dismiss(None)
