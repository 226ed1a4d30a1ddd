"""The agent's own account of where its time went during an ingest run (``time_seconds_total{part}``).

The agent under test listens for metrics on an ephemeral port and logs the URL at start (``metrics
endpoint``); the bench scrapes ``/metrics`` once the shipper is idle and again when every event is
searchable, and reports the difference per part. Other shippers have no such line: no split for them.
"""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

_PART = re.compile(r'^auditlog_agent_time_seconds_total\{part="([a-z_]+)"\} ([0-9.e+-]+)$', re.M)


def metrics_url(log_path: Path) -> str | None:
    """Return the metrics URL an agent logged at start, or None when its log has none."""
    try:
        text = log_path.read_text(errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if '"metrics endpoint"' not in line:
            continue
        try:
            return str(json.loads(line)["url"])
        except (ValueError, KeyError, TypeError):
            continue
    return None


def scrape_parts(url: str) -> dict[str, float]:
    """Return the seconds per part the agent at ``url`` reports so far (empty when it cannot be read)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            body = resp.read().decode("utf-8", "replace")
    except OSError:
        return {}
    return {part: float(value) for part, value in _PART.findall(body)}


def difference(before: dict[str, float], after: dict[str, float]) -> dict[str, float] | None:
    """Seconds per part between two scrapes (None when the second has nothing)."""
    if not after:
        return None
    return {part: round(value - before.get(part, 0.0), 4) for part, value in after.items()}
