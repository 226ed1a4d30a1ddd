"""Start a decoy process for the pid-identity tests, returned once it runs its own command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.waiting import wait_until


def sleeper(*words: str) -> subprocess.Popen[bytes]:
    """Start a sleeping process group leader whose command line holds ``words``; return it once it is exec'd.

    Right after fork the child's /proc cmdline is still the parent's (pytest's); a check made then saw "another
    program" where the test meant a decoy naming elasticsearch or auditlog (a flake under load).

    Raises:
        AssertionError: when the child's command line never shows ``words``.
    """
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", *words], start_new_session=True)
    cmdline = Path(f"/proc/{proc.pid}/cmdline")
    assert wait_until(lambda: all(w.encode() in cmdline.read_bytes() for w in words), timeout=10), words
    return proc
