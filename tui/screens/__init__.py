"""Textual screens of the TUI: main list, event detail, export dialog, custom range, help."""
