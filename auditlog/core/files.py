"""Small files a person names (secrets, public keys, configuration), read with a bound.

A path given on the command line may be anything: ``/dev/zero`` or a huge file read whole would take
the memory of the machine before anything could be said about it. Reading stops one byte past the
limit and the file is refused as too large. Pipes still work (``--password-file <(pass show es)``):
they are read as they come, up to the limit.
"""

from __future__ import annotations

import os


class FileTooLargeError(ValueError):
    """The file holds more than its kind can (``limit`` bytes); its content is never shown."""

    def __init__(self, path: str | os.PathLike[str], limit: int) -> None:
        """Name the file and the limit."""
        self.path, self.limit = os.fspath(path), limit
        super().__init__(f"{self.path} is larger than {limit:,} bytes; is it the right file?")


def read_limited(path: str | os.PathLike[str], limit: int) -> bytes:
    """Return the bytes of ``path``, at most ``limit`` of them.

    Args:
        path: the file (a regular file, a pipe or a device).
        limit: the most bytes the file may hold.

    Returns:
        Its content.

    Raises:
        FileTooLargeError: when it holds more than ``limit`` bytes.
        OSError: when it cannot be opened or read.
    """
    with open(path, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise FileTooLargeError(path, limit)
    return data
