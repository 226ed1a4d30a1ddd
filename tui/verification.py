"""Tamper evidence in the TUI, without Textual: the status-line badge and the export's Metadata rows.

The screens run :func:`indexer.verify.verify` for the filter on screen in a worker and show what these
helpers make of the report.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from auditlog.indexer.verify import Report


def badge(report: Report | None, tz: tzinfo, *, running: bool = False, failed: bool = False) -> str:
    """Return the status-line text for a verification (empty when there is nothing to say).

    Args:
        report: the latest result for the filter on screen, if any.
        tz: the zone the user reads times in.
        running: a verification is under way.
        failed: the last verification could not run (cluster error).

    Returns:
        ``"✓ verified to 12:34"``, ``"✖ 3 problems"``, ``"… verifying"``, ...
    """
    if failed:
        return "⚠ not verified"
    if report is None:
        return "… verifying" if running else ""
    if not report.ok:
        n = len(report.problems)
        return f"✖ {n} problem{'s' if n != 1 else ''}"
    if report.covered_until is None:
        return "○ no digests yet" if report.events else "✓ nothing to verify"
    try:
        until = datetime.fromisoformat(report.covered_until.replace("Z", "+00:00")).astimezone(tz)
    except ValueError:
        return "✓ verified"
    return f"✓ verified to {until:%H:%M}"


def export_pairs(report: Report | None) -> list[tuple[str, str]]:
    """Return the Metadata rows an export carries: the verification result and the digest range."""
    if report is None:
        return [("Verification", "not run")]
    rows = [("Verification", report.summary())]
    rows += [(f"Problem {n}", p.line()) for n, p in enumerate(report.problems[:20], start=1)]
    if report.first_digest is not None:
        rows.append(("Digest range", f"{report.first_digest} .. {report.last_digest}"))
    return rows
