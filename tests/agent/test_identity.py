"""File identity: device + inode + fingerprint of the first bytes."""

from __future__ import annotations

import os
from pathlib import Path

from auditlog.agent.identity import identify, matches


def test_empty_file_has_no_identity_yet(tmp_path: Path) -> None:
    """An empty file gets no identity (nothing to ship, no first bytes)."""
    p = tmp_path / "f"
    p.write_bytes(b"")
    fd = os.open(p, os.O_RDONLY)
    assert identify(fd) is None
    os.close(fd)


def test_fingerprint_covers_small_files(tmp_path: Path) -> None:
    """A file shorter than the fingerprint size is fingerprinted over what it has."""
    p = tmp_path / "f"
    p.write_bytes(b"tiny\n")
    fd = os.open(p, os.O_RDONLY)
    ident = identify(fd, 1024)
    os.close(fd)
    assert ident is not None
    assert ident.fp_len == 5


def test_appending_keeps_identity(tmp_path: Path) -> None:
    """Growing a file does not change who it is."""
    p = tmp_path / "f"
    p.write_bytes(b"first\n")
    fd = os.open(p, os.O_RDONLY)
    ident = identify(fd, 1024)
    assert ident is not None
    with p.open("ab") as fh:
        fh.write(b"more\n" * 500)
    assert matches(fd, ident)
    os.close(fd)


def test_rewritten_first_bytes_break_identity(tmp_path: Path) -> None:
    """Same inode with different first bytes is another file (inode reuse, copytruncate)."""
    p = tmp_path / "f"
    p.write_bytes(b"first\n")
    fd = os.open(p, os.O_RDONLY)
    ident = identify(fd, 1024)
    assert ident is not None
    p.write_bytes(b"other\n")
    assert not matches(fd, ident)
    os.close(fd)


def test_generation_is_part_of_the_key(tmp_path: Path) -> None:
    """Two identities on one inode with equal first bytes differ by generation."""
    p = tmp_path / "f"
    p.write_bytes(b"same\n")
    fd = os.open(p, os.O_RDONLY)
    a, b = identify(fd, 1024, 0), identify(fd, 1024, 1)
    os.close(fd)
    assert a is not None and b is not None
    assert a.key != b.key
