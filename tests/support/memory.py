"""What a call leaves behind in memory (the C extensions' tests: a leaked reference or buffer grows it), and what a
command takes at its peak (the bounded readers' tests)."""

from __future__ import annotations

import json
import subprocess
import sys
import tracemalloc
from collections.abc import Callable
from typing import Any


def retained_bytes(call: Callable[[], object], times: int) -> int:
    """Traced bytes still held after ``times`` calls of ``call`` (after one untraced warm-up call).

    Args:
        call: what to repeat; its results are dropped at once.
        times: how many calls are traced.

    Returns:
        The traced memory after the calls minus before them.
    """
    call()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(times):
            call()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


_CHILD = """
import contextlib, io, json, sys
from auditlog.cli import main
import auditlog.commands.show, auditlog.commands.admin, auditlog.commands.agent  # imported before the baseline


def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise LookupError(key)


before = status("VmRSS")
open("/proc/self/clear_refs", "w").write("5")  # the peak from here on (VmHWM starts again at the RSS)
err = io.StringIO()
code = 0
with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
    try:
        code = main(json.loads(sys.argv[1]))
    except SystemExit as exc:
        code = exc.code
print(json.dumps({"code": code, "stderr": err.getvalue(), "growth": status("VmHWM") - before}))
"""


def command_growth(argv: list[str], env: dict[str, str] | None = None, timeout: float = 120) -> dict[str, Any]:
    """Run ``auditlog argv`` in a fresh interpreter; return its exit code, stderr and peak RSS growth in bytes.

    The growth is the peak resident set while the command ran minus the resident set before it (the command's
    modules already imported), read from ``/proc/self/status``: what the command itself took.
    """
    done = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(argv)], capture_output=True, text=True,
                          env=env, timeout=timeout, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result
