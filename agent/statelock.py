"""One agent per state directory: an exclusive lock held for the life of the process.

Two agents on one state directory (a systemd unit plus a hand-started copy, two containers on one
volume) would both tail the same files, commit offsets into one registry and, worst for tamper
evidence, sign digests with the same key on two branches: a forked chain that ``verify`` reports as
broken. The second agent therefore refuses to start, naming the first one's pid. The lock is a
``flock`` on ``<state dir>/agent.lock``: the kernel drops it when the process ends in any way
(``kill -9`` included), so a crashed agent never blocks its successor.

The directory must not be writable by other users (group or others): whoever may write it can replace the
digest signing key, the checkpoints and the pending digest rows (so forge or hide what the agent shipped),
or plant a link where the agent writes its dead letters. Such a directory stops the agent with one line,
and the agent's umask never grants group or other write to what it creates.

What the directory holds names the files, event ids and events of an audit log, so it is the agent user's
alone to read too: a state directory made here is mode 700, and every state file the agent makes is mode 600
whatever the umask (:func:`private_file`; SQLite gives a database's ``-wal``, ``-shm`` and ``-journal`` files
the database's own mode).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

from auditlog.core.errors import CommandError
from auditlog.core.files import open_regular

LOCK_FILE = "agent.lock"


@contextlib.contextmanager
def hold_state_dir(state_dir: str | os.PathLike[str]) -> Iterator[tuple[int, int]]:
    """Hold the state directory's lock while the block runs.

    Args:
        state_dir: the agent's state directory (created when missing, as the agent would).

    Yields:
        The directory's device and inode when the lock was taken: the folder the lock guards (a pipeline started
        later checks that ``state_dir`` still names it, :class:`agent.pipeline.Pipeline`).

    Raises:
        CommandError: another process holds the lock (its pid is named when it wrote one), or the
            directory cannot be created or written.
    """
    path = Path(state_dir) / LOCK_FILE
    # Group and other write leave the umask for the agent's life: with a umask of 002 (user-private groups)
    # the directory made here, the registry and the id record were group-writable.
    os.umask(os.umask(0o022) | 0o022)
    try:
        make_state_dir(path.parent)
        problem = state_dir_problem(os.stat(path.parent), os.geteuid())
        if problem is not None:
            raise CommandError(f"state.dir {state_dir}: {problem}")
    except OSError as exc:
        raise CommandError(f"cannot use state directory {state_dir}: {exc.strerror or exc}") from None

    def busy(fd: int) -> str:
        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
        return f"state.dir {state_dir} is in use by another agent (pid {holder}); stop it, or give this agent a " \
               "state.dir of its own"

    with exclusive_lock(path, busy, f"cannot use state directory {state_dir}") as fd:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        folder = os.stat(path.parent)
        yield folder.st_dev, folder.st_ino


@contextlib.contextmanager
def exclusive_lock(path: Path, busy: Callable[[int], str], cannot: str) -> Iterator[int]:
    """Hold an exclusive ``flock`` on the file ``path`` (created 600) while the block runs; yield its descriptor.

    A regular file only: a FIFO or a link to a device there ended in a bare "Invalid argument" naming nothing.

    Args:
        path: the lock file.
        busy: the one line for a lock another process holds (given the descriptor, to read what the holder wrote).
        cannot: what a failure to open it says first.

    Raises:
        CommandError: when another process holds the lock, or the file cannot be opened (a link, a FIFO).
    """
    try:
        fd = open_regular(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise CommandError(f"{cannot}: {exc.strerror or exc}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CommandError(busy(fd)) from None
        yield fd
    finally:
        os.close(fd)  # closing drops the lock


def make_state_dir(state_dir: str | os.PathLike[str]) -> None:
    """Create the state directory (and its parents) when missing: mode 700 whatever the umask.

    Every part of the agent and of the commands that write a state directory creates it here, so one made by
    ``auditlog agent key`` or ``dlq replay`` under a umask of 002 is not the group-writable folder the agent
    then refuses, nor under a umask of 022 one that others may list. One that exists keeps its mode.

    Raises:
        OSError: when it cannot be created.
    """
    Path(state_dir).mkdir(parents=True, exist_ok=True, mode=0o700)


#: the files SQLite keeps beside a database while it is open (WAL) or in a transaction (rollback journal)
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def private_file(path: str | os.PathLike[str], *, create: bool = True) -> None:
    """Make the state file ``path`` the agent user's alone: created mode 600 whatever the umask when missing.

    One that exists (made by an earlier version under a umask of 022) loses its group and other bits; none is
    ever widened. Called before SQLite opens a database, so that SQLite, which creates a database under the
    umask (644) and its side files with the database's mode, makes them 600 too.

    Args:
        path: the file.
        create: create it when missing (else a missing file is left missing).

    Raises:
        auditlog.core.files.NotRegularFileError: when it is a link, a FIFO, a device or a folder.
        OSError: when it cannot be created or changed.
    """
    try:
        fd = open_regular(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o600) if create else -1
    except FileExistsError:
        fd = -1
    if fd >= 0:
        mode, want = -1, 0o600  # made here: the umask may have taken more than group and other bits
    else:
        try:
            fd = open_regular(path, os.O_RDONLY)
        except FileNotFoundError:
            if create:
                raise
            return
        mode = stat.S_IMODE(os.fstat(fd).st_mode)
        want = mode & ~0o077
    try:
        if mode != want:
            os.fchmod(fd, want)
    finally:
        os.close(fd)


def private_database(path: str | os.PathLike[str]) -> None:
    """:func:`private_file` for a SQLite database about to be opened, and for the side files it has already.

    Raises:
        auditlog.core.files.NotRegularFileError: when one of them is a link, a FIFO, a device or a folder.
        OSError: when one cannot be created or changed.
    """
    private_file(path)
    for side in SQLITE_SIDE_FILES:
        private_file(f"{os.fspath(path)}{side}", create=False)


def state_dir_problem(st: os.stat_result, uid: int) -> str | None:
    """Why a state directory with status ``st`` must not hold the state of an agent running as ``uid`` (pure).

    Args:
        st: the directory's ``os.stat`` result.
        uid: the agent's effective user id.

    Returns:
        One line naming the mode or the owner and the fix when the group or others may write the directory,
        or when it belongs to another user than the agent's or root (who may change its mode at any time).
    """
    mode = stat.S_IMODE(st.st_mode)
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        return (f"other users may write it (mode {mode:o}), and with it replace the digest signing key and the "
                "checkpoints: chmod go-w it, or give the agent a folder of its own")
    if st.st_uid not in (uid, 0):
        return (f"it belongs to another user (uid {st.st_uid}), who may replace the digest signing key and the "
                "checkpoints: chown it to the agent's user, or give the agent a folder of its own")
    return None
