"""The Filebeat build applies its handshake patches exactly, or fails loudly when the source moved."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.filebeat_build import PATCHES, BuildError, Patch, apply_patches, cached_binary, patch_digest


def test_patch_replaces_its_anchor_once(tmp_path: Path) -> None:
    """A patch whose text occurs once is applied, and the rest of the file is kept."""
    (tmp_path / "a.go").write_text("head\nold line\ntail\n")
    apply_patches(tmp_path, (Patch("a.go", "old line\n", "new line\n"),))
    assert "head\nnew line\ntail\n" == (tmp_path / "a.go").read_text()


@pytest.mark.parametrize("text", ["nothing here\n", "old line\nold line\n"])
def test_patch_that_does_not_match_once_stops_the_build(tmp_path: Path, text: str) -> None:
    """A missing or repeated anchor raises instead of building an unpatched binary."""
    (tmp_path / "a.go").write_text(text)
    with pytest.raises(BuildError, match="source moved"):
        apply_patches(tmp_path, (Patch("a.go", "old line\n", "new line\n"),))


def test_patches_stay_off_the_data_path() -> None:
    """Only the version ping and the monitoring uuid lookup are patched, each for a 405 answer."""
    assert {"libbeat/esleg/eslegclient/connection.go", "libbeat/cmd/instance/beat.go"} == {p.path for p in PATCHES}
    assert all("405" in p.new or "StatusMethodNotAllowed" in p.new or "_nodes/_local" in p.new for p in PATCHES)


def test_cache_key_changes_with_the_patches(tmp_path: Path) -> None:
    """The cached binary's folder names the module version and the patch digest."""
    assert f"-{patch_digest()}" in cached_binary(tmp_path).parent.name
    assert cached_binary(tmp_path).parent.parent == tmp_path
