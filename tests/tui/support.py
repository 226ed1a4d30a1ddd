"""Helpers for driving the TUI in tests: a frozen clock, seeded events, waiting for workers, screen text."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch
from textual.pilot import Pilot

from auditlog.indexer.tiers import TierTable
from auditlog.tui.app import AppConfig, AuditLogApp
from auditlog.tui.summaries import Summarizer
from tests.support.seed import realistic_events

#: The frozen "now" of every TUI test: presets, histograms and file names derive from it.
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ZONE = "Europe/Zurich"
SEED = 5
SEED_COUNT = 600


def seed_events() -> list[dict[str, Any]]:
    """The deterministic events the TUI tests index (six days up to ``NOW``)."""
    return list(realistic_events(SEED_COUNT, seed=SEED, start=NOW - timedelta(days=6), end=NOW))


def make_app(client: Elasticsearch, tiers: TierTable, export_dir: Path, **overrides: Any) -> AuditLogApp:
    """Build the app on ``tiers`` with the frozen clock and zone."""
    options: dict[str, Any] = {"client": client, "tiers": tiers, "zone": ZONE, "clock": lambda: NOW,
                               "export_dir": export_dir, "summarizer": Summarizer("en"), "live_interval": 0.2}
    options.update(overrides)
    return AuditLogApp(AppConfig(**options))


async def settle(pilot: Pilot[Any], rounds: int = 3) -> None:
    """Wait until every worker (queries, row pages) finished and the screen caught up."""
    for _ in range(rounds):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


async def press(pilot: Pilot[Any], *keys: str) -> None:
    """Press ``keys`` and wait until the screen settled (see :func:`settle`)."""
    await pilot.press(*keys)
    await settle(pilot)


def screen_text(app: AuditLogApp) -> str:
    """Return the visible text of the app's screen, line by line (from its SVG screenshot)."""
    svg = app.export_screenshot()
    lines: dict[float, list[str]] = {}
    for y, text in re.findall(r'<text class="[^"]*" x="[^"]*" y="([^"]*)"[^>]*>(.*?)</text>', svg):
        lines.setdefault(float(y), []).append(html.unescape(text).replace("\xa0", " "))
    return "\n".join("".join(parts) for _, parts in sorted(lines.items()))
