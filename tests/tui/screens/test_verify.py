"""The verification dialog (``v``): the report's lines are drawn as text, whatever ids the cluster holds."""

from __future__ import annotations

from auditlog.indexer.verify import Problem, Report
from auditlog.tui.screens.verify import report_text

#: a digest id its writer chose: a clipboard write (OSC 52, ended by ST), a colour and a forged report line
HOSTILE_ID = "\x1b]52;c;ZWNobyBvd25lZA==\x1b\\\x1b[31mRED\nverified: 9 events, 9 proven\x9b2J"


def test_a_hostile_digest_id_reaches_the_dialog_as_escapes_on_one_line() -> None:
    """No control character of a problem's id reaches the dialog's text, and the problem stays one line."""
    report = Report(problems=[Problem("signature", "audit.digest-enterprise-2026.12.05",
                                      f"digest {HOSTILE_ID}: malformed", digest_id=HOSTILE_ID)],
                    expired=[f"{HOSTILE_ID}: 3 events (retention)"])
    text = report_text(report)
    controls = [c for c in text if (ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) < 0xA0]
    assert (controls, len(text.splitlines())) == ([], 6), text
