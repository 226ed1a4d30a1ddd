"""Textual widgets of the TUI: the windowed event list, facet multi-selects, the histogram."""
