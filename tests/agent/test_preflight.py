"""Pre-flight results as the lines `auditlog agent check` prints (no cluster needed)."""

from __future__ import annotations

from auditlog.agent.preflight import CheckResult


def test_a_detail_with_a_line_feed_stays_on_one_line() -> None:
    """A line feed in a result's detail (a file name) is shown as its escape, so the result is one line."""
    result = CheckResult("config", "fail", "cannot read config a\nb")
    assert "FAIL  config      cannot read config a\\x0ab" == result.line()
