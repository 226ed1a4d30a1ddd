"""One-line, human-readable summaries of audit events, rendered by Jinja2 templates (en, de)."""

from __future__ import annotations

from auditlog.tui.summaries.summarizer import LANGUAGES, Summarizer

__all__ = ["LANGUAGES", "Summarizer"]
