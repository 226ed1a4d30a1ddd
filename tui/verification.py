"""Tamper evidence in the TUI, without Textual: the status-line badge, the export's Metadata rows and which
verification runs when (:class:`VerificationQueue`).

The screens run :func:`indexer.verify.verify` for the filter on screen in a worker and show what these
helpers make of the report.
"""

from __future__ import annotations

import threading
from datetime import datetime, tzinfo

from auditlog.indexer.query import Filter
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


class VerificationQueue:
    """Runs at most one verification at a time; of the filters asked for meanwhile only the newest waits.

    Behaviour: asking while one runs cancels the running one (its filter is no longer on screen) and lets
    the new filter wait; asking again replaces the waiting filter, so a burst of filter changes (``r``
    pressed seven times) costs the cluster the running verification's next request and then one
    verification, of the last filter. Asking for the filter that runs already changes nothing. Pure
    logic: the screen starts and reports the work.
    """

    def __init__(self) -> None:
        self.running: Filter | None = None
        self.waiting: Filter | None = None
        self._cancel = threading.Event()

    def ask(self, flt: Filter) -> threading.Event | None:
        """Ask for ``flt``'s verification.

        Args:
            flt: the filter now on screen.

        Returns:
            The cancel flag to start ``flt``'s verification with now, or ``None`` when it waits for the
            running one to end (that one is cancelled) or runs already.
        """
        if self.running is None:
            return self._start(flt)
        if flt == self.running and not self._cancel.is_set():
            self.waiting = None
            return None
        self.waiting = flt
        self._cancel.set()
        return None

    def finished(self) -> tuple[Filter, threading.Event] | None:
        """Note that the running verification ended (done, failed or cancelled).

        Returns:
            The waiting filter and the cancel flag to start its verification with now, if one waits.
        """
        self.running = None
        flt, self.waiting = self.waiting, None
        if flt is None:
            return None
        return flt, self._start(flt)

    def stop(self) -> None:
        """Cancel the running verification and forget the waiting one (the screen goes away)."""
        self.waiting = None
        self._cancel.set()

    def _start(self, flt: Filter) -> threading.Event:
        self.running, self._cancel = flt, threading.Event()
        return self._cancel
