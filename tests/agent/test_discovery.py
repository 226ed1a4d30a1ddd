"""Discovery: glob expansion to regular files, watch directories, and finding a file by inode."""

from __future__ import annotations

import os
from pathlib import Path

from auditlog.agent.discovery import expand, find_inode, matches, rotated_siblings, watch_dirs


def test_expand_returns_regular_files_once_per_inode(tmp_path: Path) -> None:
    """Directories are skipped and a hard-linked file appears once."""
    (tmp_path / "a.log").write_text("x\n")
    os.link(tmp_path / "a.log", tmp_path / "b.log")
    (tmp_path / "dir.log").mkdir()
    assert [f.path for f in expand([str(tmp_path / "*.log")])] == [str(tmp_path / "a.log")]


def test_recursive_glob(tmp_path: Path) -> None:
    """** matches files in subdirectories."""
    (tmp_path / "x" / "y").mkdir(parents=True)
    (tmp_path / "x" / "y" / "audit.jsonl").write_text("{}\n")
    assert len(expand([str(tmp_path / "**" / "*.jsonl")])) == 1


def test_watch_dirs_is_the_fixed_prefix(tmp_path: Path) -> None:
    """The watched directory is the part of the pattern before the first wildcard."""
    assert watch_dirs([str(tmp_path / "*.log"), str(tmp_path / "logs" / "*" / "a.log")]) == [str(tmp_path)]


def test_find_inode_locates_a_renamed_file(tmp_path: Path) -> None:
    """A file renamed within its directory is found again by device and inode."""
    p = tmp_path / "audit.log"
    p.write_text("x\n")
    st = p.stat()
    p.rename(tmp_path / "audit.log.1")
    assert find_inode(str(tmp_path), st.st_dev, st.st_ino) == str(tmp_path / "audit.log.1")


def test_compressed_rotations_are_excluded_by_default(tmp_path: Path) -> None:
    """A broad glob does not pick up gzip'ed rotations."""
    (tmp_path / "audit.jsonl").write_text("{}\n")
    (tmp_path / "audit.jsonl.2.gz").write_bytes(b"\x1f\x8b")
    assert [f.path for f in expand([str(tmp_path / "audit.jsonl*")])] == [str(tmp_path / "audit.jsonl")]


def test_rotated_siblings_are_names_extending_the_path(tmp_path: Path) -> None:
    """Rotations of audit.log are found; other names, compressed rotations and the file itself are not."""
    for name in ("audit.log", "audit.log.1", "audit.log-20261126", "audit.logger", "audit.log.2.gz", "other.log.1"):
        (tmp_path / name).write_text("x\n")
    (tmp_path / "audit.log.d").mkdir()
    found = [os.path.basename(f.path) for f in rotated_siblings(str(tmp_path / "audit.log"))]
    assert found == ["audit.log-20261126", "audit.log.1"]


def test_rotated_siblings_of_a_missing_directory_is_empty(tmp_path: Path) -> None:
    """A watched path whose directory is gone has no siblings (and raises nothing)."""
    assert rotated_siblings(str(tmp_path / "gone" / "audit.log")) == []


def test_matches_is_glob_matching_per_path_component(tmp_path: Path) -> None:
    """A path matches a pattern when every component matches; * does not cross directories."""
    patterns = [str(tmp_path / "audit*.log")]
    assert (matches(str(tmp_path / "audit-a.log"), patterns), matches(str(tmp_path / "audit.log.1"), patterns),
            matches(str(tmp_path / "audit" / "x.log"), patterns)) == (True, False, False)


def test_symlinked_match_is_not_followed_by_default(tmp_path: Path) -> None:
    """A link dropped into the log folder is not a file to ship, wherever it points."""
    secret = tmp_path / "elsewhere.txt"
    secret.write_text("not an audit log\n")
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "audit.log").write_text("x\n")
    (logs / "audit-link.log").symlink_to(secret)
    assert [f.path for f in expand([str(logs / "*.log")])] == [str(logs / "audit.log")]


def test_symlinked_match_is_followed_when_configured(tmp_path: Path) -> None:
    """With follow_symlinks the link's target is shipped under the link's name."""
    target = tmp_path / "target.txt"
    target.write_text("x\n")
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "audit.log").symlink_to(target)
    assert [f.path for f in expand([str(logs / "*.log")], follow_symlinks=True)] == [str(logs / "audit.log")]


def test_linked_directory_under_a_wildcard_is_not_followed(tmp_path: Path) -> None:
    """A directory link that a wildcard reaches does not bring its files in."""
    other = tmp_path / "other"
    other.mkdir()
    (other / "audit.log").write_text("x\n")
    logs = tmp_path / "logs"
    (logs / "real").mkdir(parents=True)
    (logs / "real" / "audit.log").write_text("y\n")
    (logs / "linked").symlink_to(other)
    assert [f.path for f in expand([str(logs / "*" / "audit.log")])] == [str(logs / "real" / "audit.log")]


def test_link_in_the_fixed_directory_part_is_followed(tmp_path: Path) -> None:
    """A directory link the operator wrote into the pattern itself is used as given."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "audit.log").write_text("x\n")
    (tmp_path / "app").symlink_to(data)
    assert [f.path for f in expand([str(tmp_path / "app" / "*.log")])] == [str(tmp_path / "app" / "audit.log")]
