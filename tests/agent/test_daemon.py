"""The agent's process setup: its log lines."""

from __future__ import annotations

import subprocess
import sys


def test_a_library_thread_dying_is_one_json_log_line_not_a_traceback() -> None:
    """With the agent's logging, an error ending a thread the agent does not own is logged as one JSON line."""
    code = (
        "import threading\n"
        "from auditlog.agent.daemon import configure_logging\n"
        "configure_logging()\n"
        "def boom():\n"
        "    raise RecursionError('maximum recursion depth exceeded')\n"
        "t = threading.Thread(target=boom, name='watchdog-ish')\n"
        "t.start(); t.join()\n"
    )
    err = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stderr
    assert ("Traceback" in err, len(err.splitlines()), '"thread": "watchdog-ish"' in err,
            "RecursionError: maximum recursion depth exceeded" in err) == (False, 1, True, True)
