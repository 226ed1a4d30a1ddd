"""Discovery: glob expansion to regular files, watch directories, and finding a file by inode."""

from __future__ import annotations

import glob
import itertools
import os
import threading
from pathlib import Path

import pytest

from auditlog.agent.discovery import (
    MAX_DEPTH,
    TOO_LONG,
    expand,
    find_inode,
    matches,
    rotated_siblings,
    walk,
    walk_problem,
    watch_dirs,
)
from tests.support.deep_tree import nest, unnest


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


def _tree(root: Path) -> None:
    """Files at several depths, hidden names among them."""
    for rel in ("1.jsonl", "a/2.jsonl", "a/b/3.jsonl", "a/b/c/4.log", ".h/5.jsonl", "a/.6.jsonl", "d/e/7.jsonl"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("{}\n")


@pytest.mark.parametrize("pattern", ["**/*.jsonl", "a/**/*.jsonl", "**/b/**/*", "**/.h/*.jsonl", "**/.*.jsonl",
                                     "**/c", "**"])
def test_the_walk_matches_what_glob_matches_without_links(tmp_path: Path, pattern: str) -> None:
    """On a tree without links ``**`` finds the files glob.glob finds (hidden names included or not alike)."""
    _tree(tmp_path)
    files = [p for p in glob.glob(str(tmp_path / pattern), recursive=True) if os.path.isfile(p)]
    assert sorted(p for p in walk(str(tmp_path / pattern)) if os.path.isfile(p)) == sorted(files)


@pytest.mark.parametrize(("pattern", "refused"), [("/l/**/../*.jsonl", True), ("/l/**/./x", True),
                                                  ("/l/**/a/../*.jsonl", True), ("/l/../**/*.jsonl", False),
                                                  ("/l/./*.jsonl", False), ("/l/**/.h/*.jsonl", False)])
def test_the_walk_names_the_dot_folders_it_cannot_match(pattern: str, refused: bool) -> None:
    """'.' or '..' after '**' is reported as a pattern that matches nothing; before it, or hidden names, are fine."""
    assert refused == (walk_problem(pattern) is not None)


def test_a_link_loop_under_a_recursive_glob_ends_and_is_not_followed(tmp_path: Path) -> None:
    """Links to the folder itself under ``**`` are reported and not walked: the scan ends, each file found once."""
    _tree(tmp_path)
    (tmp_path / "a" / "loop1").symlink_to(tmp_path / "a")
    (tmp_path / "a" / "loop2").symlink_to(tmp_path)
    skipped: list[tuple[str, str]] = []
    found: list[str] = []
    worker = threading.Thread(target=lambda: found.extend(
        f.path for f in expand([str(tmp_path / "**" / "*.jsonl")], on_skip=lambda p, why: skipped.append((p, why)))),
        daemon=True)
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), "the scan did not end"
    assert found == [str(tmp_path / rel) for rel in ("1.jsonl", "a/2.jsonl", "a/b/3.jsonl", "d/e/7.jsonl")]


def test_followed_links_never_lead_into_a_folder_the_walk_is_inside(tmp_path: Path) -> None:
    """With follow_symlinks, a link back up the tree is not entered again: each file once, the walk ends."""
    _tree(tmp_path)
    (tmp_path / "a" / "b" / "up").symlink_to(tmp_path / "a")
    paths = walk(str(tmp_path / "**" / "2.jsonl"), follow_symlinks=True)
    assert paths == [str(tmp_path / "a" / "2.jsonl")]


def test_a_tree_deeper_than_the_bound_is_reported_not_walked(tmp_path: Path) -> None:
    """A folder nested far deeper than MAX_DEPTH (where glob raised RecursionError) stops the walk with a word."""
    nest(tmp_path, 1100, "x.jsonl", b"{}\n")
    skipped: list[str] = []
    try:
        assert expand([str(tmp_path / "**" / "*.jsonl")], on_skip=lambda p, why: skipped.append(why)) == []
    finally:
        unnest(tmp_path)
    assert skipped == [f"more than {MAX_DEPTH} directories below the pattern's fixed part: not walked"]


def test_a_path_longer_than_the_system_takes_is_reported_not_skipped_silently(tmp_path: Path) -> None:
    """A file below folders whose path passes PATH_MAX cannot be opened by name: the walk says where, once (before,
    it was never shipped and nothing said so)."""
    name = "d" * 250
    nest(tmp_path, 20, "x.jsonl", b"{}\n", name=name)
    skipped: list[tuple[str, str]] = []
    try:
        found = expand([str(tmp_path / "**" / "*.jsonl")], on_skip=lambda p, why: skipped.append((p, why)))
    finally:
        unnest(tmp_path, name=name)
    assert (found, [why for _, why in skipped]) == ([], [TOO_LONG])
    assert len(skipped[0][0]) > 4096


def test_what_a_glob_matches_but_cannot_harvest_is_reported(tmp_path: Path) -> None:
    """A FIFO and a link (not followed) that the glob matches are named with why; a directory is not."""
    (tmp_path / "good.jsonl").write_text("{}\n")
    os.mkfifo(tmp_path / "fifo.jsonl")
    (tmp_path / "link.jsonl").symlink_to(tmp_path / "good.jsonl")
    (tmp_path / "dir.jsonl").mkdir()
    skipped: list[tuple[str, str]] = []
    found = expand([str(tmp_path / "*.jsonl")], on_skip=lambda p, why: skipped.append((os.path.basename(p), why)))
    assert ([f.path for f in found], sorted(skipped)) == ([str(tmp_path / "good.jsonl")], [
        ("fifo.jsonl", "not a regular file (a FIFO)"),
        ("link.jsonl", "a symbolic link (inputs.follow_symlinks is off)")])


def test_followed_links_that_rejoin_walk_each_folder_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two links from each folder to the next (2**12 routes, no loop) cost one listing per folder, not one per route."""
    folders = [tmp_path / f"d{i}" for i in range(13)]
    for folder in folders:
        folder.mkdir()
    for here, there in itertools.pairwise(folders):
        (here / "x").symlink_to(there)
        (here / "y").symlink_to(there)
    (folders[-1] / "audit.jsonl").write_text("{}\n")
    listed: list[str] = []
    real = os.scandir

    def counted(path: str) -> object:
        listed.append(str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", counted)
    found = walk(str(folders[0] / "**" / "audit.jsonl"), follow_symlinks=True)
    assert (len(found), len(listed) <= len(folders) + 1) == (1, True)


def test_a_literal_name_in_a_folder_that_cannot_be_listed_is_still_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In a folder one may enter but not list (mode 0711), ``**/audit.jsonl`` finds the file, as glob does."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "audit.jsonl").write_text("{}\n")
    real = os.scandir

    def unlistable(path: str) -> object:
        if str(path).endswith("app"):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", unlistable)
    assert walk(str(tmp_path / "**" / "audit.jsonl")) == [str(tmp_path / "app" / "audit.jsonl")]
