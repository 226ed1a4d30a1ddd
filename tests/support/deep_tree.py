"""A chain of folders nested far deeper than recursion allows, made and removed one level at a time."""

from __future__ import annotations

import os
from pathlib import Path


def nest(top: Path, depth: int, leaf: str, content: bytes) -> None:
    """Make ``depth`` folders named ``a`` under ``top`` and the file ``leaf`` in the deepest (os.makedirs recurses).

    Args:
        top: an existing folder.
        depth: how many nested folders.
        leaf: the file's name in the deepest folder.
        content: its bytes.
    """
    here = os.getcwd()
    try:
        os.chdir(top)
        for _ in range(depth):
            os.mkdir("a")
            os.chdir("a")
        Path(leaf).write_bytes(content)
    finally:
        os.chdir(here)


def unnest(top: Path) -> None:
    """Remove what :func:`nest` made under ``top`` (pytest's recursive clean-up would choke on it)."""
    here = os.getcwd()
    try:
        os.chdir(top)
        depth = 0
        while os.path.isdir("a"):
            os.chdir("a")
            depth += 1
        for name in os.listdir("."):
            os.unlink(name)
        for _ in range(depth):
            os.chdir("..")
            os.rmdir("a")
    finally:
        os.chdir(here)
