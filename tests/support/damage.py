"""Damage a state database the way a bad disk block does: a sound header, a table's page overwritten."""

from __future__ import annotations

from pathlib import Path


def damage_second_page(path: Path) -> None:
    """Overwrite page 2 of the SQLite file at ``path`` (the first table's root, 4 KiB pages) with 0xff bytes."""
    data = bytearray(path.read_bytes())
    data[4096:8192] = b"\xff" * 4096
    path.write_bytes(bytes(data))
