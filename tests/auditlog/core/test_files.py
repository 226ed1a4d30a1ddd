"""Bounded reads of files a person names: /dev/zero and huge files are refused, pipes still work."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from auditlog.core.files import FileTooLargeError, NotRegularFileError, open_regular, read_limited


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


def test_open_regular_opens_a_regular_file_blocking(tmp_path: Path) -> None:
    """A regular file is opened (created with O_CREAT) and its descriptor is blocking."""
    fd = open_regular(tmp_path / "f", os.O_WRONLY | os.O_CREAT)
    try:
        assert (os.get_blocking(fd), (tmp_path / "f").is_file()) == (True, True)
    finally:
        os.close(fd)


def test_open_regular_refuses_a_link_naming_it(tmp_path: Path) -> None:
    """A symbolic link, even to a regular file, is refused with a message naming the link."""
    (tmp_path / "target").write_text("x")
    (tmp_path / "link").symlink_to(tmp_path / "target")
    with pytest.raises(NotRegularFileError, match=r"^\S+/link is a symbolic link, not a regular file"):
        open_regular(tmp_path / "link", os.O_RDONLY)


def test_open_regular_refuses_a_fifo_without_waiting(tmp_path: Path) -> None:
    """A FIFO no one writes to or reads from is refused at once, for reading and for writing."""
    os.mkfifo(tmp_path / "fifo")
    for flags in (os.O_RDONLY, os.O_WRONLY | os.O_APPEND | os.O_CREAT):
        with pytest.raises(NotRegularFileError, match="is a FIFO"):
            open_regular(tmp_path / "fifo", flags)


def test_open_regular_refuses_a_device() -> None:
    """A device (/dev/zero never ends) is refused by what it is."""
    with pytest.raises(NotRegularFileError, match="/dev/zero is a character device"):
        open_regular("/dev/zero", os.O_RDONLY)
