"""The agent's Ed25519 signing key: created once in the state directory (mode 0600), never printed.

``auditlog agent key --public`` prints the public half (PEM) for ``auditlog verify --pubkey``. A key
file readable by group or others is refused: whoever reads it can sign digests in the agent's name. So is
one that is not a regular file (a FIFO that would block the agent's start, a device, a link to nothing) or that
is far larger than any key, each with one line naming it. A link to a regular key file is read (a key mounted
from a Kubernetes secret is one); the mode checked is the key's own.
"""

from __future__ import annotations

import base64
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from auditlog.agent.statelock import make_state_dir
from auditlog.core.files import NotRegularFileError, open_regular
from auditlog.indexer.integrity import key_id

KEY_FILE = "digest-signing.key"
#: the most bytes a key file may hold (an Ed25519 PEM key is 119): more is some other file, never read whole
MAX_KEY_BYTES = 64 * 1024


class KeyFileError(Exception):
    """The key file exists but cannot be used (unsafe mode, not an Ed25519 key); one line for the user."""


@dataclass(frozen=True)
class SigningKey:
    """An agent's private key and what digests say about it."""

    private: Ed25519PrivateKey

    @property
    def public_raw(self) -> bytes:
        """The 32-byte raw public key."""
        return self.private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    @property
    def public_b64(self) -> str:
        """The raw public key, base64 (as digests carry it)."""
        return base64.b64encode(self.public_raw).decode()

    @property
    def agent_id(self) -> str:
        """The key id that names this agent's chain."""
        return key_id(self.public_raw)

    def public_pem(self) -> str:
        """The public key as PEM (SubjectPublicKeyInfo), what ``verify --pubkey`` reads."""
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()

    def sign(self, data: bytes) -> str:
        """Return the Ed25519 signature of ``data``, base64."""
        return base64.b64encode(self.private.sign(data)).decode()


def load_key(state_dir: str | Path, *, create: bool = True) -> SigningKey:
    """Load the agent's key from ``state_dir``, creating it (mode 0600) when absent and ``create``.

    Args:
        state_dir: the agent's state directory.
        create: make a new key when there is none.

    Returns:
        The key.

    Raises:
        FileNotFoundError: no key and ``create`` is False.
        KeyFileError: the file is readable by others, is not a regular file, is too large, or is not an
            unencrypted Ed25519 PEM key.
    """
    path = Path(state_dir) / KEY_FILE
    if create and not path.exists():
        make_state_dir(path.parent)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: use theirs
            pass
        else:
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
                f.flush()
                os.fsync(f.fileno())
    try:
        fd = open_regular(path, os.O_RDONLY, follow_links=True)  # a key mounted from a secret is a link
    except NotRegularFileError as exc:
        raise KeyFileError(str(exc)) from None
    with os.fdopen(fd, "rb") as fh:
        mode = os.fstat(fh.fileno()).st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyFileError(f"{path} is accessible by group or others (mode {stat.S_IMODE(mode):o}); chmod 600 it")
        pem = fh.read(MAX_KEY_BYTES + 1)
    if len(pem) > MAX_KEY_BYTES:
        raise KeyFileError(f"{path} is larger than {MAX_KEY_BYTES:,} bytes; it is no signing key")
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise KeyFileError(f"{path} is not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path} is not an Ed25519 key")
    return SigningKey(key)
