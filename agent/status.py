"""``auditlog agent status``: what the registry says about each file, with the current lag.

Reads the registry read-only (safe while the agent runs: SQLite WAL readers do not block it). The
size is the file's current size when the file at the recorded path still has the recorded device
and inode (else the last size the agent saw); lag = size - acknowledged offset.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

from auditlog.agent.registry import Registry
from auditlog.core.terminal import shown


@dataclass(frozen=True)
class FileReport:
    """One file's shipping status."""

    path: str
    identity: str
    offset: int
    size: int
    lag_bytes: int
    state: str


def collect(state_dir: str | Path, *, include_closed: bool = False) -> list[FileReport]:
    """Return the status of every file in the registry of ``state_dir``.

    Args:
        state_dir: the agent's state directory.
        include_closed: also list files that were fully shipped and closed, or superseded.

    Returns:
        One report per identity, active ones first.

    Raises:
        FileNotFoundError: when the directory holds no registry.
    """
    reg = Registry(state_dir, readonly=True)
    try:
        rows = reg.all()
    finally:
        reg.close()
    out: list[FileReport] = []
    for row in rows:
        if not include_closed and row.state not in ("active", "gone"):
            continue
        size = row.size
        try:
            st = os.stat(row.path)
            if (st.st_dev, st.st_ino) == (row.ident.dev, row.ident.ino) and row.state == "active":
                size = st.st_size
        except OSError:
            pass
        out.append(FileReport(row.path, row.key, row.offset, size, max(size - row.offset, 0), row.state))
    out.sort(key=lambda r: (r.state != "active", r.path))
    return out


def as_dicts(reports: list[FileReport]) -> list[dict[str, object]]:
    """The reports as plain dicts (for ``--json``)."""
    return [asdict(r) for r in reports]


def render_table(reports: list[FileReport]) -> str:
    """A plain-text table, one file per row."""
    header = ("PATH", "IDENTITY", "OFFSET", "SIZE", "LAG", "STATE")
    # a file name may hold a line break or an escape: one file stays one row, shown and not obeyed
    rows = [(shown(r.path, line_breaks=False), shown(r.identity, line_breaks=False), str(r.offset), str(r.size),
             str(r.lag_bytes), r.state) for r in reports]
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    for row in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)
