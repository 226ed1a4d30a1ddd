"""Bounded reads of files a person names: /dev/zero and huge files are refused, pipes still work."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from auditlog.core.files import FileTooLargeError, read_limited


def test_an_endless_device_is_refused_after_the_limit() -> None:
    """/dev/zero ends in FileTooLargeError naming the file, after reading one byte past the limit."""
    with pytest.raises(FileTooLargeError, match="/dev/zero is larger than 1,024 bytes"):
        read_limited("/dev/zero", 1024)


def test_a_file_of_exactly_the_limit_is_read(tmp_path: Path) -> None:
    """A file holding exactly ``limit`` bytes is returned whole."""
    path = tmp_path / "k"
    path.write_bytes(b"x" * 1024)
    assert b"x" * 1024 == read_limited(path, 1024)


def test_a_pipe_is_read_as_it_comes(tmp_path: Path) -> None:
    """A FIFO (what --password-file <(...) hands over) is read to its end."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)

    def write() -> None:
        with open(fifo, "wb") as fh:
            fh.write(b"secret\n")

    writer = threading.Thread(target=write)
    writer.start()
    data = read_limited(fifo, 1024)
    writer.join(5)
    assert b"secret\n" == data


def test_a_named_pipe_without_a_writer_is_refused_after_the_wait(tmp_path: Path) -> None:
    """A FIFO nobody writes to ends in an OSError saying so after the wait, instead of blocking for ever."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match=r"nothing wrote to within 0\.2 seconds"):
        read_limited(fifo, 1024, pipe_wait=0.2)


def test_a_shell_pipe_is_read_without_the_wait() -> None:
    """A pipe handed over as /dev/fd/N (<(cmd)) is read as it comes, however slow its writer."""
    read_end, write_end = os.pipe()

    def write() -> None:
        time.sleep(0.5)
        os.write(write_end, b"secret\n")
        os.close(write_end)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        data = read_limited(f"/dev/fd/{read_end}", 1024, pipe_wait=0.1)
    finally:
        writer.join(5)
        os.close(read_end)
    assert b"secret\n" == data
