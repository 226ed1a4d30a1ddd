"""Run ``auditlog`` in-process the way a hostile-input test needs: output captured, any escape a finding."""

from __future__ import annotations

import contextlib
import io
import traceback

from auditlog.cli import main


def run_for_findings(argv: list[str]) -> str | None:
    """Run ``argv``; return what a person should never see, or ``None``.

    Findings: an exception escaping ``main`` (its last traceback line), a traceback printed, a raw ESC
    byte in the output, or a line of more than 400 characters on stderr (errors are one line of ~300).
    """
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main(argv)
    except SystemExit:
        pass
    except Exception:  # the point: nothing may escape main
        return traceback.format_exc().strip().splitlines()[-1][:200]
    text = out.getvalue() + err.getvalue()
    if "Traceback" in text:
        return "a traceback in the output"
    if "\x1b" in text:
        return "an escape byte in the output"
    if any(len(line) > 400 for line in err.getvalue().splitlines()):
        return f"a long line on stderr: {err.getvalue()[:120]!r}"
    return None
