"""Bounded reads of files a person names: /dev/zero and huge files are refused, pipes still work."""

from __future__ import annotations

import os
import threading
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
