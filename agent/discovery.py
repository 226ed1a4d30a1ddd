"""Discovery: which files the agent harvests (globs) and where a rotated-away file went.

Globs are expanded on every scan (triggered by the watcher and by a periodic rescan, so a missed
filesystem event never matters). Only regular files are returned. :func:`find_inode` looks for a
device+inode in one directory: after a restart, a file that was renamed out of the globs while the
agent was down (rename+create rotation) is found next to its old path and drained.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Found:
    """A regular file matched by a glob, with its device and inode at scan time."""

    path: str
    dev: int
    ino: int
    size: int


#: file names never harvested by default: compressed rotations that a broad glob (audit.jsonl*) matches.
DEFAULT_EXCLUDE: tuple[str, ...] = ("*.gz", "*.bz2", "*.xz", "*.zst", "*.zip", "*.lz4")


def expand(patterns: Iterable[str], exclude: Iterable[str] = DEFAULT_EXCLUDE) -> list[Found]:
    """Return the regular files matched by ``patterns`` (``**`` recurses), once per inode.

    Args:
        patterns: glob patterns (absolute or relative to the working directory).
        exclude: file-name patterns (``fnmatch``, matched against the base name) to leave out.

    Returns:
        The files, sorted by path; a file reachable under several names appears once.
    """
    out: dict[tuple[int, int], Found] = {}
    skip = tuple(exclude)
    for pattern in patterns:
        for path in sorted(glob.glob(os.path.expanduser(pattern), recursive=True)):
            if skip and any(fnmatch.fnmatch(os.path.basename(path), x) for x in skip):
                continue
            try:
                st = os.stat(path)
            except OSError:
                continue  # vanished between glob and stat, or unreadable
            if not stat.S_ISREG(st.st_mode):
                continue
            out.setdefault((st.st_dev, st.st_ino), Found(os.path.abspath(path), st.st_dev, st.st_ino, st.st_size))
    return sorted(out.values(), key=lambda f: f.path)


def watch_dirs(patterns: Iterable[str]) -> list[str]:
    """Return the existing directories the watcher should observe for ``patterns``.

    The directory part before the first wildcard is watched (recursively when the pattern
    has wildcards in its directory part).
    """
    dirs: set[str] = set()
    for pattern in patterns:
        head = os.path.expanduser(pattern)
        while glob.has_magic(head):
            head = os.path.dirname(head)
        head = head if os.path.isdir(head) else os.path.dirname(head)
        if head and os.path.isdir(head):
            dirs.add(os.path.abspath(head))
    return sorted(dirs)


def find_inode(directory: str, dev: int, ino: int) -> str | None:
    """Return a path in ``directory`` whose device+inode is (``dev``, ``ino``), if any."""
    try:
        with os.scandir(directory) as it:
            for entry in it:
                if entry.inode() != ino:
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if st.st_dev == dev and stat.S_ISREG(st.st_mode):
                    return entry.path
    except OSError:
        return None
    return None
