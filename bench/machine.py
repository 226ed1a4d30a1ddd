"""What the numbers were measured on: machine facts and component versions, for the results file."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from auditlog import __version__


def _meminfo_total() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def machine() -> dict[str, Any]:
    """Return cores, memory, CPU model, kernel and load of this machine."""
    load1, load5, _ = os.getloadavg()
    return {
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)),
        "memory_bytes": _meminfo_total(),
        "cpu_model": _cpu_model(),
        "kernel": platform.release(),
        "load_at_start": [round(load1, 2), round(load5, 2)],
    }


def _pkg(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def git_commit(repo: Path) -> str:
    """Return the checked-out commit (with ``+dirty`` when the tree has changes)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return head or "unknown"


def versions(repo: Path) -> dict[str, str]:
    """Return versions of Python and the libraries the benchmarks exercise."""
    return {
        "python": platform.python_version(),
        "auditlog": __version__,  # the package is auditlog-pipeline; a look-up of "auditlog" found nothing
        "auditlog_commit": git_commit(repo),
        "elasticsearch_client": _pkg("elasticsearch"),
        "structlog": _pkg("structlog"),
        "textual": _pkg("textual"),
        "orjson": _pkg("orjson"),
        "openpyxl": _pkg("openpyxl"),
    }
