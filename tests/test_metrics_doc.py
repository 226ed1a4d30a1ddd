"""docs/operations.md's metrics table and alert expressions against what the agent serves (``Metrics.render``)."""

from __future__ import annotations

import re
from pathlib import Path

from auditlog.agent.metrics import Metrics

DOC = Path(__file__).resolve().parents[1] / "docs" / "operations.md"
PREFIX = "auditlog_agent_"


def _section() -> str:
    text = DOC.read_text()
    return text[text.index("## Metrics and alerting"):text.index("## Upgrades")]


def _served() -> set[str]:
    """The metric families the agent's /metrics names (every family, with or without samples yet)."""
    text = Metrics().render(lag=[("/var/log/app/audit.jsonl", "1:2", 0)])
    return {m.removeprefix(PREFIX) for m in re.findall(r"^# TYPE (\S+) ", text, re.M)}


def _documented() -> set[str]:
    """The names in the table's first column: `a`, `b{label}` -> a, b."""
    table = _section().split("| metric | meaning |", 1)[1].split("\n\n", 1)[0]
    cells = re.findall(r"^\| ([^|]+) \|", table, re.M)  # the separator row has no blank: not matched
    return {re.sub(r"\{.*\}", "", name) for cell in cells for name in re.findall(r"`([^`]+)`", cell)}


def test_every_documented_metric_is_served_and_every_served_one_documented() -> None:
    """The metrics table names exactly the families the agent serves: none promised and missing, none unexplained."""
    assert _documented() == _served()


def test_every_metric_an_alert_uses_is_served() -> None:
    """Each metric a suggested alert's PromQL names is one the agent serves, so no alert watches nothing."""
    alerts = _section().split("Suggested alerts", 1)[1]
    used = {m.removeprefix(PREFIX) for m in re.findall(rf"\b{PREFIX}\w+", alerts)}
    assert used and used <= _served()
