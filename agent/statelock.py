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
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from auditlog.core.errors import CommandError
from auditlog.core.files import open_regular

LOCK_FILE = "agent.lock"


@contextlib.contextmanager
def hold_state_dir(state_dir: str | os.PathLike[str]) -> Iterator[None]:
    """Hold the state directory's lock while the block runs.

    Args:
        state_dir: the agent's state directory (created when missing, as the agent would).

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
        # a regular file only: a FIFO or a link to a device here ended in a bare "Invalid argument" naming nothing
        fd = open_regular(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise CommandError(f"cannot use state directory {state_dir}: {exc.strerror or exc}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            raise CommandError(f"state.dir {state_dir} is in use by another agent (pid {holder}); stop it, "
                               "or give this agent a state.dir of its own") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing drops the lock


def make_state_dir(state_dir: str | os.PathLike[str]) -> None:
    """Create the state directory (and its parents) when missing: mode 755 whatever the umask.

    Every part of the agent and of the commands that write a state directory creates it here, so one made by
    ``auditlog agent key`` or ``dlq replay`` under a umask of 002 is not the group-writable folder the agent
    then refuses.

    Raises:
        OSError: when it cannot be created.
    """
    Path(state_dir).mkdir(parents=True, exist_ok=True, mode=0o755)


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
