"""File identity: device + inode + a fingerprint of the first bytes, so inode reuse is detected.

A file is known by an identity string that stays stable for the file's whole life and across agent
restarts (the registry stores it): ``"<dev>:<ino>:<fingerprint>:<generation>"``. The fingerprint is a
BLAKE2b digest of the first ``fp_len`` bytes, where ``fp_len = min(size, fingerprint_bytes)`` at the
moment the file is first seen, so small files get an identity too (they are shipped, unlike
Filebeat's fingerprint mode that ignores files shorter than the fingerprint). Appending never changes
the first ``fp_len`` bytes, so :func:`matches` keeps recognising the file as it grows; a truncated or
replaced file (copytruncate, inode reuse) no longer matches and gets a new identity. The generation
counts identities seen on the same device+inode, so two contents with identical first bytes on a
reused inode still get distinct identities (deterministic event ids depend on them).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

DEFAULT_FINGERPRINT_BYTES = 1024


@dataclass(frozen=True, slots=True)
class FileIdentity:
    """Who a file is: device, inode, fingerprint of its first ``fp_len`` bytes and a generation."""

    dev: int
    ino: int
    fp_len: int
    fingerprint: str
    generation: int = 0

    @property
    def key(self) -> str:
        """The identity string used in the registry, dead letters and deterministic ids."""
        return f"{self.dev:x}:{self.ino:x}:{self.fingerprint}:{self.generation}"


def fingerprint(fd: int, length: int) -> str:
    """Return the hex digest of the first ``length`` bytes of the open file ``fd``.

    Args:
        fd: an open file descriptor (read with ``pread``; the file position is untouched).
        length: how many leading bytes to hash.

    Returns:
        A 32-character hex digest, or ``""`` when the file is shorter than ``length``.
    """
    data = os.pread(fd, length, 0) if length else b""
    if len(data) < length:
        return ""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def identify(fd: int, max_bytes: int = DEFAULT_FINGERPRINT_BYTES, generation: int = 0) -> FileIdentity | None:
    """Build the identity of an open file, or ``None`` for an empty file (nothing to ship yet).

    Args:
        fd: an open file descriptor.
        max_bytes: the most leading bytes the fingerprint covers.
        generation: how many identities this device+inode had before.

    Returns:
        The identity, or ``None`` when the file is empty.
    """
    st = os.fstat(fd)
    fp_len = min(st.st_size, max_bytes)
    if fp_len == 0:
        return None
    fp = fingerprint(fd, fp_len)
    if not fp:  # truncated between fstat and pread
        return None
    return FileIdentity(st.st_dev, st.st_ino, fp_len, fp, generation)


def matches(fd: int, ident: FileIdentity) -> bool:
    """Return True when the open file ``fd`` is still the file ``ident`` names.

    Args:
        fd: an open file descriptor.
        ident: a previously computed identity.

    Returns:
        False when device/inode differ, the file is shorter than the fingerprint, or its first
        bytes changed (truncation, rewrite, inode reuse).
    """
    st = os.fstat(fd)
    if (st.st_dev, st.st_ino) != (ident.dev, ident.ino):
        return False
    return fingerprint(fd, ident.fp_len) == ident.fingerprint
