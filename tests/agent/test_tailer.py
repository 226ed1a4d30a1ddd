"""Tailer: identity-based harvesting through rotation, truncation, deletion and restarts."""

from __future__ import annotations

import os
from pathlib import Path

from tests.agent.tailer_support import Harness, append


def lines_of(h: Harness) -> list[str]:
    return [line.decode() for _k, _o, line in h.read]


def test_reads_lines_appended_after_start(tmp_path: Path) -> None:
    """Lines written before and after the first read all arrive, in order."""
    log = tmp_path / "audit.log"
    append(log, "a", "b")
    h = Harness(tmp_path, tmp_path / "state")
    h.step()
    append(log, "c")
    h.step()
    assert lines_of(h) == ["a", "b", "c"]


def test_small_file_is_shipped_and_keeps_its_identity_while_growing(tmp_path: Path) -> None:
    """A file shorter than the fingerprint is read, and growing it does not make it a new file."""
    log = tmp_path / "audit.log"
    append(log, "x")
    h = Harness(tmp_path, tmp_path / "state", fingerprint_bytes=1024)
    h.step()
    append(log, "y" * 2000)
    h.restart()
    h.step()
    assert [(ln.decode(), off) for _k, off, ln in h.read] == [("x", 0), ("y" * 2000, 2)]
    assert len({k for k, _o, _l in h.read}) == 1


def test_partial_line_waits_for_its_newline(tmp_path: Path) -> None:
    """An unterminated line is not returned until its newline is written."""
    log = tmp_path / "audit.log"
    log.write_bytes(b"one\ntw")
    h = Harness(tmp_path, tmp_path / "state")
    h.step()
    with log.open("ab") as fh:
        fh.write(b"o\n")
    h.step()
    assert lines_of(h) == ["one", "two"]


def test_rename_create_reads_old_file_to_its_end(tmp_path: Path) -> None:
    """After rename+create, lines still written to the renamed file and the new file's lines all arrive."""
    log = tmp_path / "audit.log"
    append(log, "1", "2")
    h = Harness(tmp_path, tmp_path / "state")
    h.step()
    fd = os.open(log, os.O_WRONLY | os.O_APPEND)  # the app's handle survives the rename
    os.rename(log, tmp_path / "audit.log.1")
    append(log, "new-1")
    os.write(fd, b"3\n")
    os.close(fd)
    h.settle()
    assert sorted(lines_of(h)) == ["1", "2", "3", "new-1"]


def test_renamed_file_is_closed_after_close_inactive(tmp_path: Path) -> None:
    """A file renamed out of the globs is closed once it has been quiet for close_inactive."""
    log = tmp_path / "audit.log"
    append(log, "1")
    h = Harness(tmp_path, tmp_path / "state")
    h.step()
    os.rename(log, tmp_path / "audit.log.1")
    h.settle()
    assert h.tailer.open_files == 0
    assert [r.state for r in h.registry.all()] == ["done"]


def test_copytruncate_starts_a_new_identity_from_zero(tmp_path: Path) -> None:
    """A truncated file is read again from offset 0 under a new identity."""
    log = tmp_path / "audit.log"
    append(log, "old-1", "old-2")
    h = Harness(tmp_path, tmp_path / "state")
    h.step()
    os.truncate(log, 0)
    h.step()
    append(log, "fresh")
    h.step()
    assert lines_of(h) == ["old-1", "old-2", "fresh"]
    assert (h.read[-1][1], len({k for k, _o, _l in h.read})) == (0, 2)


def test_copytruncate_loss_is_counted(tmp_path: Path) -> None:
    """Bytes written but unread when the file was truncated are counted as lost."""
    log = tmp_path / "audit.log"
    append(log, "a")
    h = Harness(tmp_path, tmp_path / "state")
    h.step()
    append(log, "unread")
    h.tailer.poll(budget_per_file=0)  # sees the new size, reads nothing
    os.truncate(log, 0)
    append(log, "b")
    h.step()
    assert h.tailer.lost_bytes == 7
    assert lines_of(h) == ["a", "b"]


def test_copytruncate_regrown_past_offset_is_detected_by_fingerprint(tmp_path: Path) -> None:
    """A truncated file that grew beyond the read offset before the next look is still a new identity."""
    log = tmp_path / "audit.log"
    append(log, "first-line-of-old-content")
    h = Harness(tmp_path, tmp_path / "state")
    h.step()
    os.truncate(log, 0)
    append(log, "second-file-content-which-is-longer-than-before", "more")
    h.step()
    assert lines_of(h) == ["first-line-of-old-content", "second-file-content-which-is-longer-than-before", "more"]


def test_delete_while_open_drains_then_closes(tmp_path: Path) -> None:
    """A deleted file that is still open is read to its end, then closed."""
    log = tmp_path / "audit.log"
    append(log, "a")
    h = Harness(tmp_path, tmp_path / "state")
    h.step()
    append(log, "b", "c")
    log.unlink()
    h.settle()
    assert lines_of(h) == ["a", "b", "c"]
    assert h.tailer.open_files == 0


def test_restart_resumes_at_checkpoint(tmp_path: Path) -> None:
    """A new tailer on the same registry continues after the last acknowledged line."""
    log = tmp_path / "audit.log"
    append(log, "a", "b")
    h = Harness(tmp_path, tmp_path / "state")
    h.step()
    h.restart()
    append(log, "c")
    h.step()
    assert lines_of(h) == ["a", "b", "c"]


def test_rotation_while_stopped_is_found_next_to_old_path(tmp_path: Path) -> None:
    """A file renamed out of the globs while the agent was down is found by inode and drained."""
    log = tmp_path / "audit.log"
    append(log, "a")
    h = Harness(tmp_path, tmp_path / "state")
    h.step()
    h.tailer.close()
    append(log, "b")
    os.rename(log, tmp_path / "audit.log.1")
    append(log, "c")
    h.restart()
    h.settle()
    assert sorted(lines_of(h)) == ["a", "b", "c"]


def test_file_removed_unshipped_while_stopped_is_reported(tmp_path: Path) -> None:
    """A registry entry whose file vanished with unread bytes is marked gone and counted."""
    log = tmp_path / "audit.log"
    append(log, "a")
    h = Harness(tmp_path, tmp_path / "state")
    h.step()
    append(log, "bb")
    h.tailer.poll(budget_per_file=0)
    h.tailer.close()  # saves the size it saw
    log.unlink()
    h.restart()
    assert ([r.state for r in h.registry.all()], h.tailer.lost_bytes) == (["gone"], 3)


def test_inode_reuse_with_new_content_is_a_new_identity(tmp_path: Path) -> None:
    """A new file on a reused inode is not mistaken for the old one (fingerprint differs)."""
    log = tmp_path / "audit.log"
    append(log, "old content line")
    h = Harness(tmp_path, tmp_path / "state")
    h.step()
    h.tailer.close()
    with log.open("r+b") as fh:  # same inode, different first bytes, same length
        fh.write(b"NEW content line\n")
    h.restart()
    h.step()
    assert lines_of(h) == ["old content line", "NEW content line"]
