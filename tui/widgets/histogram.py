"""Events over time for the current filter: a sparkline with a caption naming interval and range."""

from __future__ import annotations

from datetime import tzinfo

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Label, Sparkline

from auditlog.indexer.query.histogram import Histogram


def histogram_caption(hist: Histogram | None, tz: tzinfo) -> str:
    """Return "events per 1h · 2026-11-19 10:00 → 2026-11-20 10:00" (or a hint when empty)."""
    if hist is None or not hist.buckets:
        return "no events in range"
    first, last = hist.buckets[0].start, hist.until or hist.buckets[-1].start
    fmt = "%Y-%m-%d %H:%M"
    peak = max(b.count for b in hist.buckets)
    return (f"events per {hist.interval.name} · {first.astimezone(tz):{fmt}} → {last.astimezone(tz):{fmt}}"
            f" · peak {peak:,}")


class EventHistogram(Vertical):
    """Sparkline of event counts per interval (oldest left) and its caption."""

    DEFAULT_CSS = """
    EventHistogram { height: 3; }
    EventHistogram > Sparkline { height: 2; }
    EventHistogram > Label { color: $text-muted; width: 1fr; }
    """

    def compose(self) -> ComposeResult:
        yield Sparkline([0], id="spark")
        yield Label("", id="caption")

    def show(self, hist: Histogram | None, tz: tzinfo) -> None:
        """Display ``hist`` (``None`` or empty: a flat line)."""
        counts = [float(b.count) for b in hist.buckets] if hist and hist.buckets else [0.0]
        self.query_one(Sparkline).data = counts
        self.query_one("#caption", Label).update(Content(histogram_caption(hist, tz)))
