"""Fetching and unpacking Elastic's test distribution."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from auditlog.indexer.distribution import DistributionError, ensure_distribution, fetch_zip


def _fake_zip(path: Path, version: str) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        info = zipfile.ZipInfo(f"elasticsearch-{version}/bin/elasticsearch")
        info.external_attr = 0o100755 << 16
        archive.writestr(info, "#!/bin/sh\n")
        archive.writestr(f"elasticsearch-{version}/config/jvm.options", "-XX:+UseG1GC\n")


def test_unpacks_cached_zip_keeping_exec_bits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cached zip is unpacked once, with bin/elasticsearch still executable."""
    monkeypatch.setenv("AUDITLOG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("AUDITLOG_DIST_DIR", str(tmp_path / "dist"))
    (tmp_path / "cache").mkdir()
    _fake_zip(tmp_path / "cache" / "elasticsearch-9.9.9.zip", "9.9.9")
    home = ensure_distribution("9.9.9", log=lambda _: None)
    assert home == tmp_path / "dist" / "elasticsearch-9.9.9"
    assert os.access(home / "bin" / "elasticsearch", os.X_OK)


def test_second_call_reuses_unpacked_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Once unpacked, no download or unpack happens again (no progress line is logged)."""
    monkeypatch.setenv("AUDITLOG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("AUDITLOG_DIST_DIR", str(tmp_path / "dist"))
    (tmp_path / "cache").mkdir()
    _fake_zip(tmp_path / "cache" / "elasticsearch-9.9.9.zip", "9.9.9")
    ensure_distribution("9.9.9", log=lambda _: None)
    (tmp_path / "cache" / "elasticsearch-9.9.9.zip").unlink()
    lines: list[str] = []
    assert ensure_distribution("9.9.9", log=lines.append).is_dir()
    assert lines == []


def test_failed_download_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A version Maven Central does not have gives one clear error naming the artifact."""
    monkeypatch.setenv("AUDITLOG_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(DistributionError) as err:
        fetch_zip("0.0.0-does-not-exist", log=lambda _: None)
    message = str(err.value)
    assert "integ-test-zip:elasticsearch:0.0.0-does-not-exist:zip" in message
    assert "Maven Central" in message
