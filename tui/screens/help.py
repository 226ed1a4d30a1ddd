"""``?``: every key of the list and detail views, in a dialog."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

HELP_TEXT = """\
[b]auditlog — keys[/b]

[b]Event list[/b]
  ↑ ↓  j k      move             PgUp PgDn  Home End   page, first, last
  Enter         open the selected event (Raw, Meta, JSON)
  /             search text      f        show or hide the filter panel
  r             next time range  R        custom time range
  c             clear filters    ctrl+r   reload
  e             export all matching events to Excel
  d             download the selected event to Excel
  t             live tail on/off (new events on top, your place kept)
  v             verification problems behind the ✓/✖ badge (support)
  ctrl+p        command palette (every action)        q   quit

[b]Filter panel[/b]
  Space, Enter  tick a type, source or worker (counts follow the filter)
  Tab           next list or box

[b]Event detail[/b]
  ← →  p n      previous / next event
  1 2 3 4       Raw / Meta / JSON / Proof tab (Proof: support view)
  d             download this event       Esc   back to the list

Esc closes this help.
"""


class HelpScreen(ModalScreen[None]):
    """The key reference."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 78; max-height: 22; border: round $accent; background: $surface;
                                  padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(HELP_TEXT)
