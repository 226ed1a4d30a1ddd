"""Small files a person names (secrets, public keys, configuration), read with a bound.

A path given on the command line may be anything: ``/dev/zero`` or a huge file read whole would take
the memory of the machine before anything could be said about it. Reading stops one byte past the
limit and the file is refused as too large. Pipes still work (``--password-file <(pass show es)``):
they are read as they come, up to the limit. A named FIFO (``mkfifo``) that nothing writes to is
refused after :data:`NAMED_PIPE_WAIT` seconds instead of hanging the command, or a reloading agent.
"""

from __future__ import annotations

import errno
import os
import select
import stat

#: seconds a named FIFO may stay silent before it is refused (``mkfifo`` with no writer would hang for ever)
NAMED_PIPE_WAIT = 5.0


class FileTooLargeError(ValueError):
    """The file holds more than its kind can (``limit`` bytes); its content is never shown."""

    def __init__(self, path: str | os.PathLike[str], limit: int) -> None:
        """Name the file and the limit."""
        self.path, self.limit = os.fspath(path), limit
        super().__init__(f"{self.path} is larger than {limit:,} bytes; is it the right file?")


def write_all(fd: int, data: bytes | memoryview) -> None:
    """Write every byte of ``data`` to ``fd`` (``os.write`` may take fewer: a full disk, a signal).

    Raises:
        OSError: the error that stopped the writing (what was written before it stays written).
    """
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _named_pipe(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a FIFO made in the file system (``mkfifo``), not a pipe a shell handed over.

    ``<(pass show es)`` is ``/dev/fd/63``, a link to ``pipe:[...]`` whose writer already runs (and may be
    waiting for a passphrase): it is read as it comes. A named FIFO may have no writer at all.
    """
    try:
        return stat.S_ISFIFO(os.stat(os.path.realpath(path)).st_mode)
    except OSError:  # realpath of /dev/fd/63 is .../fd/pipe:[123], which is no file
        return False


def read_limited(path: str | os.PathLike[str], limit: int, pipe_wait: float | None = None) -> bytes:
    """Return the bytes of ``path``, at most ``limit`` of them.

    The file is opened without blocking (opening a FIFO waits for a writer), so a named FIFO that
    nothing writes to is an error after ``pipe_wait`` seconds instead of a command (or an agent's
    reload) that hangs for ever.

    Args:
        path: the file (a regular file, a pipe or a device).
        limit: the most bytes the file may hold.
        pipe_wait: the most seconds a named FIFO may stay silent (default :data:`NAMED_PIPE_WAIT`).

    Returns:
        Its content.

    Raises:
        FileTooLargeError: when it holds more than ``limit`` bytes.
        OSError: when it cannot be opened or read, or (``ETIMEDOUT``) a named FIFO stays silent.
    """
    wait = NAMED_PIPE_WAIT if pipe_wait is None else pipe_wait
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        waiting = stat.S_ISFIFO(os.fstat(fd).st_mode) and _named_pipe(path)
        if not waiting:
            os.set_blocking(fd, True)
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            if waiting and not poller.poll(wait * 1000):
                raise OSError(errno.ETIMEDOUT, f"a named pipe that nothing wrote to within {wait:g} seconds")
            try:
                chunk = os.read(fd, limit + 1 - size)
            except BlockingIOError:
                continue
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > limit:
        raise FileTooLargeError(path, limit)
    return b"".join(chunks)
