"""Small files a person names (secrets, public keys, configuration), read with a bound.

A path given on the command line may be anything: ``/dev/zero`` or a huge file read whole would take
the memory of the machine before anything could be said about it. Reading stops one byte past the
limit and the file is refused as too large. Pipes still work (``--password-file <(pass show es)``):
they are read as they come, up to the limit. A named FIFO (``mkfifo``) that nothing writes to is
refused after :data:`NAMED_PIPE_WAIT` seconds instead of hanging the command, or a reloading agent.

A program's own files (the agent's state directory) are different: they must be regular files, and
:func:`open_regular` refuses anything else at once, by name: a symbolic link (whoever planted it would
have the program write, chmod or read the target), a FIFO (which blocks the open or the read), a device
(``/dev/zero`` never ends) or a folder.
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


class NotRegularFileError(OSError):
    """A file that must be a regular file is a link, a FIFO, a device or a folder; its message names it."""

    def __init__(self, path: str | os.PathLike[str], what: str) -> None:
        """Name the file and what it is instead."""
        super().__init__(errno.EINVAL, f"{os.fspath(path)} is {what}, not a regular file; move it away")

    def __str__(self) -> str:
        """The message alone: it names the file already (no ``[Errno 22]`` in front)."""
        return str(self.strerror)


def file_kind(mode: int) -> str:
    """What a file of ``st_mode`` ``mode`` is, in a few words ("a symbolic link", "a FIFO", ...) (pure)."""
    for test, name in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISDIR, "a directory"), (stat.S_ISREG, "a regular file")):
        if test(mode):
            return name
    return "of an unknown type"


def open_regular(path: str | os.PathLike[str], flags: int, mode: int = 0o600, *, follow_links: bool = False) -> int:
    """Open ``path`` and return its descriptor, only when it is a regular file (by default never through a link).

    ``O_NOFOLLOW`` refuses a link in the last component; the open does not block (a FIFO would wait for
    its other end), and the type is checked on the descriptor, so a name swapped between a look and the
    open is refused too. The descriptor returned is blocking and close-on-exec.

    Args:
        path: the file.
        flags: ``os.open`` flags (``O_RDONLY``, ``O_WRONLY | O_APPEND | O_CREAT``, ...).
        mode: the mode of a file ``O_CREAT`` makes.
        follow_links: open a link's target (still only a regular one), for a file an operator may mount as a
            link (a key from a Kubernetes secret); a file the program writes is never opened through a link.

    Returns:
        The open descriptor.

    Raises:
        NotRegularFileError: when it is a link, a FIFO, a device, a socket or a folder.
        OSError: when it cannot be opened otherwise (``FileNotFoundError`` when it is missing).
    """
    try:
        fd = os.open(path, flags | (0 if follow_links else os.O_NOFOLLOW) | os.O_NONBLOCK | os.O_CLOEXEC, mode)
    except FileNotFoundError:
        if follow_links and os.path.islink(path):
            raise NotRegularFileError(path, "a symbolic link to nothing") from None
        raise
    except OSError as exc:
        # ELOOP: a link (O_NOFOLLOW); ENXIO: a FIFO no one reads (write-only, non-blocking); EISDIR: a folder
        if exc.errno not in (errno.ELOOP, errno.ENXIO, errno.EISDIR):
            raise
        try:
            kind = os.lstat(path).st_mode
        except OSError:
            raise exc from None
        if stat.S_ISREG(kind):
            raise
        raise NotRegularFileError(path, file_kind(kind)) from None
    try:
        kind = os.fstat(fd).st_mode
        if not stat.S_ISREG(kind):
            raise NotRegularFileError(path, file_kind(kind))
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


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
