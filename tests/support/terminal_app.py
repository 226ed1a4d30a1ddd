"""Running a full-screen command in a pseudo-terminal: read what it writes, press keys, signal it, time its exit."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import select
import signal
import socket
import struct
import termios
import time
from collections.abc import Iterator
from contextlib import contextmanager

#: What a terminal application writes to enter and to leave the alternate screen.
ALT_SCREEN_ON = b"\x1b[?1049h"
ALT_SCREEN_OFF = b"\x1b[?1049l"
MOUSE_OFF = b"\x1b[?1000l"


class TerminalApp:
    """A child process on a pty of 120x40 (forked with ``pty.fork``): its output, keys and exit."""

    def __init__(self, argv: list[str]) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # the child: becomes the command
            os.environ["TERM"] = "xterm-256color"
            os.execv(argv[0], argv)
        self.pid, self.fd = pid, fd
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        self.output = bytearray()
        self.status: int | None = None

    def read_for(self, seconds: float) -> None:
        """Collect the child's output for ``seconds`` (less when the pty closes)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ready, _, _ = select.select([self.fd], [], [], 0.02)
            if ready:
                try:
                    data = os.read(self.fd, 65536)
                except OSError:  # the child closed its side
                    return
                if not data:
                    return
                self.output.extend(data)

    def wait_for_output(self, marker: bytes, timeout: float) -> bool:
        """Read until ``marker`` appeared in the output; return whether it did within ``timeout`` seconds."""
        end = time.monotonic() + timeout
        while marker not in self.output and time.monotonic() < end:
            self.read_for(0.05)
        return marker in self.output

    def exit_within(self, timeout: float) -> float | None:
        """Read output until the child exits; return the seconds that took, or ``None`` after ``timeout``."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            self.read_for(0.02)
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = status
                self.read_for(0.1)
                return time.monotonic() - started
        return None

    @property
    def exit_code(self) -> int | None:
        """The exit code (a negative signal number when a signal killed it), once exited."""
        return None if self.status is None else os.waitstatus_to_exitcode(self.status)

    def press(self, keys: bytes) -> None:
        """Type ``keys`` at the terminal."""
        os.write(self.fd, keys)

    def kill(self, sig: signal.Signals) -> None:
        """Send ``sig`` to the child."""
        os.kill(self.pid, sig)

    def close(self) -> None:
        """Kill the child if it still runs, and close the pty."""
        if self.status is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            _, self.status = os.waitpid(self.pid, 0)
        os.close(self.fd)


@contextmanager
def terminal_app(argv: list[str]) -> Iterator[TerminalApp]:
    """Run ``argv`` in a pty for the block; killed and reaped afterwards.

    Yields:
        The running application.
    """
    app = TerminalApp(argv)
    try:
        yield app
    finally:
        app.close()


@contextmanager
def silent_cluster() -> Iterator[str]:
    """A loopback address that accepts connections and never answers: every request hangs until its timeout.

    Yields:
        The ``http://`` URL.
    """
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)  # connections wait in the backlog, never accepted, never answered
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
