"""A chain of folders nested far deeper than recursion allows, made and removed one level at a time."""

from __future__ import annotations

import os
from pathlib import Path


def nest(top: Path, depth: int, leaf: str, content: bytes, name: str = "a") -> None:
    """Make ``depth`` folders named ``name`` under ``top`` and the file ``leaf`` in the deepest (os.makedirs recurses,
    and a path past PATH_MAX can only be made one level at a time).

    Args:
        top: an existing folder.
        depth: how many nested folders.
        leaf: the file's name in the deepest folder.
        content: its bytes.
        name: each folder's name.
    """
    here = os.getcwd()
    try:
        os.chdir(top)
        for _ in range(depth):
            os.mkdir(name)
            os.chdir(name)
        Path(leaf).write_bytes(content)
    finally:
        os.chdir(here)


def unnest(top: Path, name: str = "a") -> None:
    """Remove what :func:`nest` made under ``top`` (pytest's recursive clean-up would choke on it)."""
    here = os.getcwd()
    try:
        os.chdir(top)
        depth = 0
        while os.path.isdir(name):
            os.chdir(name)
            depth += 1
        for leaf in os.listdir("."):
            os.unlink(leaf)
        for _ in range(depth):
            os.chdir("..")
            os.rmdir(name)
    finally:
        os.chdir(here)
