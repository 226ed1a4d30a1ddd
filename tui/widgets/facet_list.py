"""A multi-select of one filter dimension whose options carry live counts from the facets."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import SelectionList
from textual.widgets.selection_list import Selection

from auditlog.indexer.query.facets import Facet
from auditlog.tui.values import printable


def option_label(value: str, label: str | None, count: int, width: int = 17) -> str:
    """Return "delete  1,234": the value (or worker name) and its count, fitted to ``width`` cells."""
    text = printable(label or value)
    number = f"{count:,}"
    room = max(width - len(number) - 1, 4)
    if len(text) > room:
        text = text[: room - 1] + "…"
    return f"{text:<{room}} {number}"


class FacetList(SelectionList[str]):
    """Options = facet buckets (value, count); the user's ticks survive every count update."""

    DEFAULT_CSS = """
    FacetList { height: auto; max-height: 8; border: none; padding: 0; scrollbar-size-vertical: 1; }
    """

    def show_facet(self, facet: Facet) -> None:
        """Replace the options with ``facet``'s buckets, keeping the current selection ticked."""
        chosen = set(self.selected)
        highlighted = self.highlighted
        with self.prevent(SelectionList.SelectedChanged, SelectionList.SelectionToggled):
            self.clear_options()
            self.add_options([
                # Content, not str: a worker called "Anna [Admin]" is text, never markup.
                Selection(Content(option_label(b.value, b.label, b.count)), b.value, b.value in chosen or b.selected)
                for b in facet.buckets
            ])
            if highlighted is not None and self.option_count:
                self.highlighted = min(highlighted, self.option_count - 1)

    def clear_selection(self) -> None:
        """Untick everything without announcing each change."""
        with self.prevent(SelectionList.SelectedChanged):
            self.deselect_all()
