"""Decoy processes for the pid-identity tests, used once they run their own command line."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.waiting import wait_until

#: what names Elasticsearch in a process that is none (like ``tail -f .../gc.log``)
ES_DECOY = "/home/u/elasticsearch-9.5.4/logs/gc.log"


@contextmanager
def sleeping(*words: str) -> Iterator[subprocess.Popen[bytes]]:
    """A sleeping process group leader whose command line holds ``words``, from its exec until killed.

    Right after fork the child's /proc cmdline is still the parent's (pytest's); a check made then saw "another
    program" where the test meant a decoy naming elasticsearch or auditlog (a flake under load).

    Raises:
        AssertionError: when the child's command line never shows ``words``.
    """
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", *words], start_new_session=True)
    try:
        cmdline = Path(f"/proc/{proc.pid}/cmdline")
        assert wait_until(lambda: all(w.encode() in cmdline.read_bytes() for w in words), timeout=10), words
        yield proc
    finally:
        proc.kill()
        proc.wait()
