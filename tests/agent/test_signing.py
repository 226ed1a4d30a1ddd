"""The agent's signing key: created once with mode 0600, reused, refused when others may read it."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from auditlog.agent.signing import KEY_FILE, KeyFileError, load_key


def test_new_key_file_is_private(tmp_path: Path) -> None:
    """The first load creates the key readable by its owner only."""
    load_key(tmp_path)
    assert stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode) == 0o600


def test_key_is_reused_across_loads(tmp_path: Path) -> None:
    """A restarted agent signs with the same key (same agent id)."""
    assert load_key(tmp_path).agent_id == load_key(tmp_path).agent_id


def test_group_readable_key_is_refused(tmp_path: Path) -> None:
    """A key others can read is refused with a message naming the file and the fix."""
    load_key(tmp_path)
    (tmp_path / KEY_FILE).chmod(0o640)
    with pytest.raises(KeyFileError, match="chmod 600"):
        load_key(tmp_path)


def test_missing_key_without_create_is_an_error(tmp_path: Path) -> None:
    """Reading without creating reports a missing key."""
    with pytest.raises(FileNotFoundError):
        load_key(tmp_path, create=False)


def test_signature_verifies_with_the_printed_public_key(tmp_path: Path) -> None:
    """What ``agent key --public`` prints verifies the agent's signatures."""
    key = load_key(tmp_path)
    public = load_pem_public_key(key.public_pem().encode())
    assert isinstance(public, Ed25519PublicKey)
    public.verify(base64.b64decode(key.sign(b"digest")), b"digest")


def test_a_key_file_that_is_a_fifo_is_refused_at_once(tmp_path: Path) -> None:
    """A FIFO (mode 0600) in place of the key is refused by name instead of blocking the agent's start for ever."""
    os.mkfifo(tmp_path / KEY_FILE, 0o600)
    with pytest.raises(KeyFileError, match=f"{KEY_FILE} is a FIFO, not a regular file"):
        load_key(tmp_path)


def test_a_key_file_that_is_a_dangling_link_is_refused_naming_it(tmp_path: Path) -> None:
    """A link to nowhere in place of the key is refused naming the file (not a bare "No such file or directory")."""
    (tmp_path / KEY_FILE).symlink_to(tmp_path / "nowhere")
    with pytest.raises(KeyFileError, match=f"{KEY_FILE} is a symbolic link to nothing, not a regular file"):
        load_key(tmp_path)


def test_a_key_file_that_is_a_link_to_a_private_key_is_read(tmp_path: Path) -> None:
    """A link to a 0600 key file (how a Kubernetes secret is mounted) gives the same key as the file itself."""
    made = load_key(tmp_path / "secret")
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / KEY_FILE).symlink_to(tmp_path / "secret" / KEY_FILE)
    assert made.public_raw == load_key(tmp_path / "state").public_raw


def test_a_huge_key_file_is_refused_without_reading_it_whole(tmp_path: Path) -> None:
    """A key file far larger than any PEM key is refused by its size, naming it."""
    path = tmp_path / KEY_FILE
    with path.open("wb") as fh:
        fh.truncate(1 << 30)  # sparse: takes no disk
    path.chmod(0o600)
    with pytest.raises(KeyFileError, match=f"{KEY_FILE} is larger than"):
        load_key(tmp_path)
