"""``auditlog verify`` usage errors exit 2 before anything is asked of a cluster."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditlog.cli import main


def test_unreadable_pubkey_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A --pubkey file that does not exist is bad usage, named in one line."""
    assert main(["verify", "--pubkey", str(tmp_path / "nope.pem"), "--es", "http://127.0.0.1:9"]) == 2
    assert "--pubkey" in capsys.readouterr().err


def test_pubkey_that_is_no_key_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A --pubkey file without an Ed25519 public key is bad usage."""
    (tmp_path / "k.pem").write_text("not a key")
    assert main(["verify", "--pubkey", str(tmp_path / "k.pem"), "--es", "http://127.0.0.1:9"]) == 2
    assert "no PEM public key" in capsys.readouterr().err


def test_agent_key_public_prints_pem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``agent key --public`` prints a PEM public key and never the private one."""
    assert main(["agent", "key", "--public", "--state-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("-----BEGIN PUBLIC KEY-----") and "PRIVATE" not in out
