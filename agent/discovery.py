"""Discovery: which files the agent harvests (globs) and where a rotated-away file went.

Globs are expanded on every scan (triggered by the watcher and by a periodic rescan, so a missed
filesystem event never matters). Only regular files are returned. Unless ``follow_symlinks`` is set,
a match that is a symbolic link, or that a wildcard reached through a linked directory, is left out:
a link dropped into the log folder must not ship another file (the fixed directory part of a
pattern, which the operator wrote, may contain links). :func:`find_inode` looks for a
device+inode in one directory: after a restart, a file that was renamed out of the globs while the
agent was down (rename+create rotation) is found next to its old path and drained.
:func:`rotated_siblings` lists the files next to a watched path whose names extend it
(``audit.log.1``, ``audit.log-20261126``): where a file that was created and rotated away between
two scans ends up. :func:`matches` tells whether a path (e.g. a move event's source) is one the globs
name.
"""

from __future__ import annotations

import errno
import fnmatch
import glob
import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Found:
    """A regular file matched by a glob, with its device and inode at scan time."""

    path: str
    dev: int
    ino: int
    size: int
    mtime: float = 0.0


#: what may follow a watched file name in a rotated copy's name (audit.log.1, audit.log-2026..., audit.log_old).
ROTATION_SEPARATORS = ".-_"

#: file names never harvested by default: compressed rotations that a broad glob (audit.jsonl*) matches.
DEFAULT_EXCLUDE: tuple[str, ...] = ("*.gz", "*.bz2", "*.xz", "*.zst", "*.zip", "*.lz4")


#: directories below a pattern's fixed part that ``**`` walks at most (deeper ones are reported, not walked)
MAX_DEPTH = 32

#: told why a matched path is not harvested: (path, reason)
SkipReport = Callable[[str, str], None]


def expand(patterns: Iterable[str], exclude: Iterable[str] = DEFAULT_EXCLUDE, *,
           follow_symlinks: bool = False, on_skip: SkipReport | None = None) -> list[Found]:
    """Return the regular files matched by ``patterns`` (``**`` recurses), once per inode.

    ``**`` is walked here rather than by :func:`glob.glob`, which follows directory links while it recurses
    (a link loop in the log folder made it list paths without end) and recurses in Python (a deep tree
    raised ``RecursionError`` at every scan): the walk never enters a linked directory unless
    ``follow_symlinks`` is set (then never one it is already inside), and stops :data:`MAX_DEPTH`
    directories below the pattern's fixed part.

    Args:
        patterns: glob patterns (absolute or relative to the working directory).
        exclude: file-name patterns (``fnmatch``, matched against the base name) to leave out.
        follow_symlinks: also return files reached through a symbolic link that a wildcard matched
            (the link itself, or a linked directory below the pattern's fixed part).
        on_skip: told about every matched path that is not returned because of what it is (not a regular
            file, a link not followed, too deep), with the reason; excluded names are not reported.

    Returns:
        The files, sorted by path; a file reachable under several names appears once.
    """
    out: dict[tuple[int, int], Found] = {}
    skip = tuple(exclude)
    stat_ = os.stat if follow_symlinks else os.lstat
    said = on_skip or (lambda path, why: None)
    for pattern in patterns:
        pattern = os.path.expanduser(pattern)
        # Below the fixed head every component came from a wildcard: those are the ones checked for links.
        head_parts = len(_fixed_head(pattern).split(os.sep)) if glob.has_magic(os.path.dirname(pattern)) else 0
        names = walk(pattern, follow_symlinks, said) if "**" in pattern.split(os.sep) else glob.glob(pattern)
        for path in sorted(names):
            if skip and excluded(path, skip):
                continue
            try:
                st = stat_(path)
            except OSError as exc:
                if exc.errno == errno.ENAMETOOLONG:
                    said(path, TOO_LONG)
                continue  # vanished between glob and stat, or unreadable
            if not stat.S_ISREG(st.st_mode):
                if not stat.S_ISDIR(st.st_mode):  # a directory matched by a wildcard is not worth a word
                    said(path, not_regular(st.st_mode))
                continue
            if head_parts and not follow_symlinks and _linked_dir(path, head_parts):
                said(path, "reached through a linked directory (inputs.follow_symlinks is off)")
                continue
            out.setdefault((st.st_dev, st.st_ino), Found(os.path.abspath(path), st.st_dev, st.st_ino, st.st_size,
                                                             st.st_mtime))
    return sorted(out.values(), key=lambda f: f.path)


#: why a path the system cannot open by its name is not harvested (it was skipped without a word before)
TOO_LONG = "a path longer than the system takes (PATH_MAX): not read; shorten the folders above it"


def not_regular(mode: int) -> str:
    """Why a path whose mode is ``mode`` is not harvested (a link, a FIFO, ...), in a few words."""
    if stat.S_ISLNK(mode):
        return "a symbolic link (inputs.follow_symlinks is off)"
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device")):
        if test(mode):
            return f"not a regular file ({name})"
    return "not a regular file"


def walk(pattern: str, follow_symlinks: bool = False, on_skip: SkipReport | None = None) -> list[str]:
    """Return the paths below ``pattern``'s fixed part that match it, where ``**`` is any run of directories.

    Matching is :func:`glob.glob`'s: each component with ``fnmatch`` (case-sensitive), a name starting with a
    dot only by a pattern component starting with one, ``**`` never through such a name. The walk is iterative,
    enters a linked directory only when ``follow_symlinks`` is set (and then each directory once, by device and
    inode: loops end, and links that rejoin cost no more than the folders they reach), goes at most
    :data:`MAX_DEPTH` directories deep (``on_skip`` is told where it stopped), and in a folder it may enter but
    not list finds a literal last name, as ``glob`` does.

    Args:
        pattern: a glob pattern with ``**`` as one of its components.
        follow_symlinks: descend into linked directories.
        on_skip: told about each directory not walked because it is too deep.

    Returns:
        Matching paths (files and directories alike), unsorted.
    """
    head = _fixed_head(pattern)
    rest = [part for part in pattern[len(head):].split(os.sep) if part]
    out: list[str] = []
    start = head or os.curdir
    try:
        first = os.stat(start)
    except OSError:
        return out
    visited = {(first.st_dev, first.st_ino)}  # with follow_symlinks: every folder entered, under any name
    last = rest[-1] if rest else ""
    stack: list[tuple[str, tuple[str, ...]]] = [(start, ())]
    while stack:
        directory, rel = stack.pop()
        try:
            with os.scandir(directory) as entries:
                listed = list(entries)
        except PermissionError:
            # a folder one may enter but not list (mode 0711): glob still found a literal last name in it
            if last and not glob.has_magic(last) and _match((*rel, last), rest):
                path = os.path.join(directory, last)
                if os.path.lexists(path):
                    out.append(path if head else path[len(os.curdir) + 1:])
            continue
        except OSError as exc:
            if exc.errno == errno.ENAMETOOLONG and on_skip is not None:
                on_skip(directory, TOO_LONG)
            continue  # vanished: what else is there is still walked
        for entry in listed:
            names = (*rel, entry.name)
            path = entry.path if head else entry.path[len(os.curdir) + 1:]
            if _match(names, rest):
                out.append(path)
            try:
                is_dir = entry.is_dir(follow_symlinks=follow_symlinks)
            except OSError:
                continue
            if not is_dir or not _may_lead(names, rest):
                continue
            if len(names) >= MAX_DEPTH:
                if on_skip is not None:
                    on_skip(path, f"more than {MAX_DEPTH} directories below the pattern's fixed part: not walked")
                continue
            if follow_symlinks:  # links are entered then: each folder once, whatever the links (loops, rejoins)
                try:
                    st = entry.stat()
                except OSError:
                    continue
                if (st.st_dev, st.st_ino) in visited:
                    continue
                visited.add((st.st_dev, st.st_ino))
            stack.append((path if head else os.path.join(os.curdir, path), names))
    return out


def walk_problem(pattern: str) -> str | None:
    """Why :func:`walk` cannot match ``pattern`` as written, or None (pure).

    A ``.`` or ``..`` component after ``**`` matches nothing: the walk lists folders, and no listing holds
    those names (``glob.glob`` looked each up). Refusing it beats a pattern that silently ships nothing.

    Args:
        pattern: a glob pattern as configured.

    Returns:
        One line for the operator, or None when the pattern is fine.
    """
    parts = pattern.split(os.sep)
    if "**" in parts and {".", ".."} & set(parts[parts.index("**"):]):
        return "'.' or '..' after '**' matches nothing: write the path without them"
    return None


def _component(name: str, part: str) -> bool:
    """Whether one path component matches one pattern component (a leading dot only by a leading dot)."""
    if name.startswith(".") and not part.startswith("."):
        return False
    return fnmatch.fnmatchcase(name, part)


def _match(names: tuple[str, ...], parts: list[str]) -> bool:
    """Whether the components ``names`` match the pattern components ``parts`` (``**``: any run of them)."""
    if not parts:
        return not names
    if parts[0] == "**":
        if _match(names, parts[1:]):
            return True
        return bool(names) and not names[0].startswith(".") and _match(names[1:], parts)
    return bool(names) and _component(names[0], parts[0]) and _match(names[1:], parts[1:])


def _may_lead(names: tuple[str, ...], parts: list[str]) -> bool:
    """Whether a directory at ``names`` can have a path below it that matches ``parts`` (prunes the walk)."""
    if not names:
        return True
    if not parts:
        return False
    if parts[0] == "**":
        return _may_lead(names, parts[1:]) or (not names[0].startswith(".") and _may_lead(names[1:], parts))
    return _component(names[0], parts[0]) and _may_lead(names[1:], parts[1:])


def _fixed_head(pattern: str) -> str:
    """The directory part of ``pattern`` before its first wildcard."""
    head = pattern
    while glob.has_magic(head):
        head = os.path.dirname(head)
    return head


def _linked_dir(path: str, head_parts: int) -> bool:
    """True when a directory of ``path`` after its first ``head_parts`` components is a symbolic link."""
    parts = path.split(os.sep)
    for i in range(max(head_parts, 1), len(parts) - 1):
        try:
            if stat.S_ISLNK(os.lstat(os.sep.join(parts[: i + 1]) or os.sep).st_mode):
                return True
        except OSError:
            return True  # vanished: not worth shipping from a path that may have been swapped
    return False


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


def matches(path: str, patterns: Iterable[str]) -> bool:
    """Return True when ``path`` is a name one of the glob ``patterns`` matches.

    Each path component is matched with ``fnmatch`` against the pattern's component; a pattern with
    ``**`` is matched as a whole (``*`` then also crosses directories), which errs on matching.
    """
    full = os.path.abspath(path)
    parts = full.split(os.sep)
    for pattern in patterns:
        pat = os.path.abspath(os.path.expanduser(pattern))
        if "**" in pat:
            if fnmatch.fnmatchcase(full, pat):
                return True
            continue
        pat_parts = pat.split(os.sep)
        if len(pat_parts) == len(parts) and all(
            fnmatch.fnmatchcase(a, b) for a, b in zip(parts, pat_parts, strict=True)
        ):
            return True
    return False


def excluded(path: str, exclude: Iterable[str]) -> bool:
    """Return True when the base name of ``path`` matches one of the ``exclude`` patterns."""
    name = os.path.basename(path)
    return any(fnmatch.fnmatch(name, x) for x in exclude)


def rotated_siblings(path: str, exclude: Iterable[str] = DEFAULT_EXCLUDE) -> list[Found]:
    """Return the regular files next to ``path`` whose names are ``path``'s name plus a rotation suffix.

    A suffix starts with one of :data:`ROTATION_SEPARATORS` (``audit.log.1``, ``audit.log-20261126``;
    never ``audit.logger``); names matching ``exclude`` (compressed rotations) are left out.

    Args:
        path: a watched file path (it need not exist any more).
        exclude: file-name patterns to leave out.

    Returns:
        The siblings with device, inode, size and modification time, sorted by path.
    """
    directory, name = os.path.split(os.path.abspath(path))
    skip = tuple(exclude)
    out: list[Found] = []
    try:
        with os.scandir(directory) as it:
            for entry in it:
                rest = entry.name[len(name):]
                if not entry.name.startswith(name) or not rest or rest[0] not in ROTATION_SEPARATORS:
                    continue
                if skip and excluded(entry.name, skip):
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if stat.S_ISREG(st.st_mode):
                    out.append(Found(entry.path, st.st_dev, st.st_ino, st.st_size, st.st_mtime))
    except OSError:
        return []
    return sorted(out, key=lambda f: f.path)
