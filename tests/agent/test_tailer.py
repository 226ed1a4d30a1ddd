"""Tailer: identity-based harvesting through rotation, truncation, deletion and restarts."""

from __future__ import annotations

import dataclasses
import errno
import os
import shutil
import threading
import time
from pathlib import Path

import pytest
import structlog

from auditlog.agent import discovery
from auditlog.agent.harvester import FileStatus, Overlong
from auditlog.agent.registry import Registry
from auditlog.agent.tailer import Tailer, TailerSettings, follow_moves, process_started
from auditlog.agent.watcher import make_watcher
from tests.agent.tailer_support import Harness, append, rotate, wait_for_moves


def lines_of(h: Harness) -> list[str]:
    return [line.decode() for _k, _o, line in h.read]


def lines_by_key(h: Harness) -> list[list[str]]:
    """The lines read, grouped by file identity, in reading order within each; groups sorted."""
    by_key: dict[str, list[str]] = {}
    for key, _o, line in h.read:
        by_key.setdefault(key, []).append(line.decode())
    return sorted(by_key.values())


def _read_a(tmp_path: Path) -> tuple[Path, Harness]:
    """``tmp/audit.log`` holding line "a", and a harness that has read it (the start of the rotation tests)."""
    log = tmp_path / "audit.log"
    append(log, "a")
    h = Harness(tmp_path, tmp_path / "state")
    h.step()
    return log, h


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


def test_file_truncated_to_empty_is_reopened_by_poll_without_a_scan(tmp_path: Path) -> None:
    """Lines written after a truncation are read by the next poll, before any scan (fast copytruncate cycles)."""
    log = tmp_path / "audit.log"
    append(log, "old-1")
    h = Harness(tmp_path, tmp_path / "state")
    h.step()
    os.truncate(log, 0)
    assert h.tailer.poll() == []  # truncation seen; the empty file has no identity yet
    append(log, "fresh-1", "fresh-2")
    blocks = h.tailer.poll()
    assert [line for b in blocks for _off, line in b.lines] == [b"fresh-1", b"fresh-2"]


def test_opening_a_path_whose_file_is_harvested_keeps_one_reader(tmp_path: Path) -> None:
    """A path found again (scan or refill racing a rename) never gets a second harvester for its file."""
    log = tmp_path / "audit.log"
    append(log, "a")
    h = Harness(tmp_path, tmp_path / "state")
    h.tailer.scan()
    first = [line for b in h.tailer.poll() for _off, line in b.lines]  # read, not yet acknowledged
    h.tailer._open(str(log))
    append(log, "b")
    again = [line for b in h.tailer.poll() for _off, line in b.lines]
    assert (first, again, h.tailer.open_files) == ([b"a"], [b"b"], 1)


def test_copytruncate_loss_is_counted(tmp_path: Path) -> None:
    """Bytes written but unread when the file was truncated are counted as lost."""
    log, h = _read_a(tmp_path)
    append(log, "unread")
    h.tailer.poll(budget_per_file=0)  # sees the new size, reads nothing
    os.truncate(log, 0)
    append(log, "b")
    h.step()
    assert h.tailer.lost_bytes == 7
    assert lines_of(h) == ["a", "b"]


def logrotate_copytruncate(log: Path, copy: Path) -> None:
    """What logrotate's copytruncate does: copy the file's bytes to ``copy``, then truncate it."""
    shutil.copyfile(log, copy)
    os.truncate(log, 0)


def test_copytruncate_reads_the_unread_rest_from_the_copy(tmp_path: Path) -> None:
    """Lines unread when the file was truncated are read from logrotate's copy, once, under the same identity."""
    log, h = _read_a(tmp_path)
    append(log, "unread-1", "unread-2")
    h.tailer.poll(budget_per_file=0)  # sees the new size, reads nothing
    logrotate_copytruncate(log, tmp_path / "audit.log.1")
    append(log, "b")
    h.settle()
    keys = [k for k, _o, _l in h.read]
    assert (lines_of(h), h.tailer.lost_bytes) == (["a", "unread-1", "unread-2", "b"], 0)
    assert keys[0] == keys[1] == keys[2] != keys[3]


def test_lines_written_between_the_copy_and_the_truncation_are_counted_lost(tmp_path: Path) -> None:
    """Only what logrotate's copy missed (written after it, before the truncation) is lost and counted."""
    log, h = _read_a(tmp_path)
    append(log, "in-copy")
    shutil.copyfile(log, tmp_path / "audit.log.1")
    append(log, "late")
    h.tailer.poll(budget_per_file=0)
    os.truncate(log, 0)
    h.settle()
    assert (lines_of(h), h.tailer.lost_bytes) == (["a", "in-copy"], len(b"late\n"))


def test_a_file_next_to_it_with_other_first_bytes_is_not_taken_for_the_copy(tmp_path: Path) -> None:
    """A rotated file whose first bytes differ is not the copy: the unread lines are counted lost."""
    log = tmp_path / "audit.log"
    append(tmp_path / "audit.log.1", "an older rotation, already shipped elsewhere")
    os.utime(tmp_path / "audit.log.1", (1, 1))
    append(log, "a")
    h = Harness(tmp_path, tmp_path / "state")
    h.step()
    append(log, "unread")
    h.tailer.poll(budget_per_file=0)
    os.truncate(log, 0)
    append(log, "b")
    h.settle()
    assert (lines_of(h), h.tailer.lost_bytes) == (["a", "b"], 7)


def test_contents_truncated_away_between_two_looks_are_read_from_their_copies(tmp_path: Path) -> None:
    """Contents that came and went between two looks (a busy reader) are read from their copies, once each."""
    log = tmp_path / "audit.log"
    append(log, "gen0-a")
    h = Harness(tmp_path, tmp_path / "state")
    h.step()
    append(log, "gen0-b")
    for gen in range(1, 4):  # logrotate with rotate 3: the copies shift, the newest is .1
        for n in range(3, 1, -1):
            if (tmp_path / f"audit.log.{n - 1}").exists():
                os.rename(tmp_path / f"audit.log.{n - 1}", tmp_path / f"audit.log.{n}")
        logrotate_copytruncate(log, tmp_path / "audit.log.1")
        append(log, f"gen{gen}-a", f"gen{gen}-b")
    h.settle()
    expected = ["gen0-a", "gen0-b"] + [f"gen{g}-{x}" for g in range(1, 4) for x in "ab"]
    assert (sorted(lines_of(h)), h.tailer.lost_bytes) == (expected, 0)


def test_the_last_content_truncated_away_is_read_from_its_copy_while_the_file_stays_empty(tmp_path: Path) -> None:
    """A content copied and truncated away before any look is read from its copy though no new content follows."""
    log, h = _read_a(tmp_path)
    logrotate_copytruncate(log, tmp_path / "audit.log.2")
    append(log, "b1", "b2")
    logrotate_copytruncate(log, tmp_path / "audit.log.1")
    h.settle()
    assert (lines_of(h), h.tailer.lost_bytes) == (["a", "b1", "b2"], 0)


def test_contents_that_came_and_went_while_the_file_was_empty_are_read_from_their_copies(tmp_path: Path) -> None:
    """While the truncated file waits for bytes, a content written and truncated away meanwhile is found by its copy."""
    log, h = _read_a(tmp_path)
    os.truncate(log, 0)
    h.step()  # empty: waiting for its first bytes
    time.sleep(0.05)  # file times move in kernel ticks
    append(log, "c1", "c2")
    logrotate_copytruncate(log, tmp_path / "audit.log.1")
    h.settle()
    assert (lines_of(h), h.tailer.lost_bytes) == (["a", "c1", "c2"], 0)


def test_a_crash_while_reading_the_copy_continues_in_it_after_the_next_rotation(tmp_path: Path) -> None:
    """A crash mid-copy, then a rotation while the agent is down: both copies' unread lines arrive, once each."""
    log, h = _read_a(tmp_path)
    append(log, *(f"unread-{i:03d}" for i in range(50)))
    h.tailer.poll(budget_per_file=0)
    logrotate_copytruncate(log, tmp_path / "audit.log.1")
    append(log, "new")
    h.tailer.scan()  # the truncation is seen: reading moves to the copy
    part = [line for b in h.tailer.poll(budget_per_file=200) for _o, line in b.lines]  # read, never acknowledged
    os.rename(tmp_path / "audit.log.1", tmp_path / "audit.log.2")  # the next rotation, while the agent is down
    logrotate_copytruncate(log, tmp_path / "audit.log.1")
    append(log, "newer")
    h.restart()
    h.settle()
    expected = sorted(["a", *(f"unread-{i:03d}" for i in range(50)), "new", "newer"])
    assert 0 < len(part) < 51
    assert (sorted(lines_of(h)), h.tailer.lost_bytes) == (expected, 0)


def test_new_content_with_the_same_first_bytes_is_not_taken_for_the_identity_read_from_the_copy(
        tmp_path: Path) -> None:
    """New content starting like the old (a constant header) is a new identity while the old is read from its copy."""
    log = tmp_path / "audit.log"
    header = "#" * 70  # longer than the fingerprint
    append(log, header, "a1")
    h = Harness(tmp_path, tmp_path / "state")
    h.step()
    append(log, *(f"unread-{i:03d}" for i in range(20)))
    in_flight = h.tailer.poll()  # read, acknowledged only later: the checkpoint still ends before them
    h.read += [(b.key, off, line) for b in in_flight for off, line in b.lines if isinstance(line, bytes)]
    logrotate_copytruncate(log, tmp_path / "audit.log.1")
    append(log, header, "b1")  # shorter than what was read: a truncation, and it starts like the old content
    seen = h.tailer.poll()  # the truncation is seen before the acknowledgement arrives
    h.read += [(b.key, off, line) for b in seen for off, line in b.lines if isinstance(line, bytes)]
    for b in in_flight + seen:
        h.registry.commit_offsets({b.key: b.end})
    h.settle()
    by_key = lines_by_key(h)
    assert by_key == [[header, "a1", *(f"unread-{i:03d}" for i in range(20))], [header, "b1"]]
    assert (h.tailer.lost_bytes, h.tailer.open_files) == (0, 1)


def test_after_a_restart_new_content_with_the_same_first_bytes_is_a_new_identity(tmp_path: Path) -> None:
    """New content written while the agent was down, starting like the one read from its copy, is not taken for it."""
    log = tmp_path / "audit.log"
    header = "#" * 70  # longer than the fingerprint
    append(log, header, "a1")
    h = Harness(tmp_path, tmp_path / "state")
    h.step()
    append(log, *(f"unread-{i:03d}" for i in range(20)))
    h.tailer.poll(budget_per_file=0)
    logrotate_copytruncate(log, tmp_path / "audit.log.1")
    h.tailer.scan()  # reading moves to the copy; the live file is empty
    h.tailer.close()  # stopped before reading any of the copy
    append(log, header, *(f"new-{i:03d}" for i in range(20)))
    h.restart()
    h.settle()
    by_key = lines_by_key(h)
    assert by_key == [[header, "a1", *(f"unread-{i:03d}" for i in range(20))],
                      [header, *(f"new-{i:03d}" for i in range(20))]]
    assert h.tailer.lost_bytes == 0


def test_out_of_descriptors_while_looking_for_the_copy_counts_the_loss_and_goes_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """EMFILE while opening the copy: the truncated file is not parked under the search; its loss is counted."""
    log = tmp_path / "audit.log"
    append(log, "a")
    h = Harness(tmp_path, tmp_path / "state", pattern="*.log")
    h.step()
    append(tmp_path / "other.log", "o")
    h.clock.now += 1
    h.step()
    append(log, *(f"unread-{i}" for i in range(5)))
    h.tailer.poll(budget_per_file=0)
    logrotate_copytruncate(log, tmp_path / "audit.log.1")
    real_open = os.open

    def no_descriptor_for_the_copy(path: str, *args: int) -> int:
        if str(path).endswith("audit.log.1"):
            raise OSError(errno.EMFILE, "Too many open files")
        return real_open(path, *args)

    monkeypatch.setattr(os, "open", no_descriptor_for_the_copy)
    h.tailer.poll()
    monkeypatch.setattr(os, "open", real_open)
    append(log, "after")
    h.settle()
    assert (sorted(lines_of(h)), h.tailer.lost_bytes) == (["a", "after", "o"], 45)


def test_a_copy_read_to_its_end_is_not_read_again_when_the_file_is_recreated(tmp_path: Path) -> None:
    """The copy's own inode is recorded as read: a later rotation of the watched file does not read it again."""
    log, h = _read_a(tmp_path)
    append(log, "x1", "x2")
    h.tailer.poll(budget_per_file=0)
    logrotate_copytruncate(log, tmp_path / "audit.log.1")
    append(log, "b")
    h.settle()  # the copy was read to its end and closed
    log.unlink()
    append(log, "c")  # the app recreates its file: the path changed, its siblings are looked at
    h.settle()
    assert sorted(lines_of(h)) == ["a", "b", "c", "x1", "x2"]


def test_the_copy_row_is_never_resumed_for_new_content_on_its_inode(tmp_path: Path) -> None:
    """The copy's inode, reused for new content with the same first bytes, gets a new identity read from 0."""
    log, copy = tmp_path / "audit.log", tmp_path / "audit.log.1"
    append(log, "a")
    h = Harness(tmp_path, tmp_path / "state")
    h.step()
    append(log, "x1", "x2")
    h.tailer.poll(budget_per_file=0)
    logrotate_copytruncate(log, copy)
    h.settle()  # the copy was read to its end and closed
    copy_row = next(r for r in h.registry.all() if r.state == "copy")
    with copy.open("r+b") as fh:  # same inode, new content starting like the copy
        fh.truncate(0)
        fh.write(b"a\nnew-1\nnew-2\nnew-3\n")
    key = h.tailer._open(str(copy), reachable=False)
    lines = [(off, line) for b in h.tailer.poll() for off, line in b.lines]
    assert (key != copy_row.key, lines[0]) == (True, (0, b"a"))


def test_copies_the_globs_match_are_left_to_the_scan(tmp_path: Path) -> None:
    """With the copies in the glob, a copy is read as a file of its own from 0, as before (its ids are 409s)."""
    log = tmp_path / "audit.log"
    append(log, "a")
    h = Harness(tmp_path, tmp_path / "state", pattern="audit.log*")
    h.step()
    append(log, "unread")
    h.tailer.poll(budget_per_file=0)
    logrotate_copytruncate(log, tmp_path / "audit.log.1")
    append(log, "b")
    h.settle()
    keys = {line.decode(): key for key, _o, line in h.read}
    assert sorted(lines_of(h)) == ["a", "a", "b", "unread"]
    assert len({keys["unread"], keys["b"], h.read[0][0]}) == 3


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


def test_a_truncation_that_keeps_the_first_bytes_and_regrows_past_the_offset_is_detected(tmp_path: Path) -> None:
    """A file cut back to a prefix longer than its fingerprint and written past the read offset before the next look
    is a new content: every line written after the cut is read (none skipped by reading on at the old offset)."""
    log = tmp_path / "audit.log"
    old = [f"old-line-{i:02d}-" + "x" * i for i in range(10)]
    append(log, *old)
    h = Harness(tmp_path, tmp_path / "state", fingerprint_bytes=8)
    h.step()
    os.truncate(log, len(old[0]) + 1)  # the first line stays: so does the fingerprint
    new = [f"new-line-{i:02d}-" + "y" * 20 for i in range(12)]
    append(log, *new)
    assert os.path.getsize(log) > sum(len(line) + 1 for line in old)  # past the old offset before the next look
    h.step()
    h.step()  # the look that finds the new content, then the one that reads it (as the agent polls on)
    read = lines_of(h)
    assert [line for line in new if line not in read] == []


def test_a_cut_and_regrow_with_lines_that_end_alike_is_still_detected(tmp_path: Path) -> None:
    """Lines of one length that end in the same bytes (as JSON lines often do) rewritten after a cut to a whole number
    of them: the bytes before the read position must still tell the new content apart (every new line read)."""
    log = tmp_path / "audit.log"
    old = [f"{i:04d}-old-" + "z" * 24 + '"ecs":"9.4.0"}' for i in range(10)]
    append(log, *old)
    h = Harness(tmp_path, tmp_path / "state", fingerprint_bytes=8)
    h.step()
    os.truncate(log, 5 * (len(old[0]) + 1))  # five whole lines stay: the fingerprint and the line ends too
    new = [f"{i:04d}-new-" + "z" * 24 + '"ecs":"9.4.0"}' for i in range(7)]
    append(log, *new)
    h.step()
    h.step()
    read = lines_of(h)
    assert [line for line in new if line not in read] == []


def test_delete_while_open_drains_then_closes(tmp_path: Path) -> None:
    """A deleted file that is still open is read to its end, then closed."""
    log, h = _read_a(tmp_path)
    append(log, "b", "c")
    log.unlink()
    h.settle()
    assert lines_of(h) == ["a", "b", "c"]
    assert h.tailer.open_files == 0


def _deleted_with_tail(tmp_path: Path) -> Harness:
    """A harness that read line "a" of a file that then got "tail" without a newline and was deleted."""
    log, h = _read_a(tmp_path)
    with log.open("ab") as fh:
        fh.write(b"tail")
    log.unlink()
    return h


def test_an_unterminated_last_line_given_back_at_close_is_read_again(tmp_path: Path) -> None:
    """The last line of a deleted file without its newline, given back unhandled, comes again and is not lost."""
    h = _deleted_with_tail(tmp_path)
    h.step()
    h.clock.now += h.close_inactive + 1
    h.tailer.scan()
    (block,) = h.tailer.poll()
    h.tailer.unread(block, block.lines[0][0])
    again: list[bytes | Overlong] = []
    for _ in range(3):  # read again (the file had data: close_inactive starts over), handed out, closed
        again += [line for b in h.tailer.poll() for _off, line in b.lines]
        h.clock.now += h.close_inactive + 1
    assert (again, h.tailer.lost_bytes, h.tailer.open_files) == ([b"tail"], 0, 0)


def test_a_file_closes_after_its_unterminated_last_line(tmp_path: Path) -> None:
    """Once the last line without a newline was handled, the next poll closes the deleted file as done."""
    h = _deleted_with_tail(tmp_path)
    h.settle()
    assert (lines_of(h), h.tailer.open_files, [r.state for r in h.registry.all()]) == (["a", "tail"], 0, ["done"])


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
    log, h = _read_a(tmp_path)
    h.tailer.close()
    append(log, "b")
    os.rename(log, tmp_path / "audit.log.1")
    append(log, "c")
    h.restart()
    h.settle()
    assert sorted(lines_of(h)) == ["a", "b", "c"]


def test_file_removed_unshipped_while_stopped_is_reported(tmp_path: Path) -> None:
    """A registry entry whose file vanished with unread bytes is marked gone and counted."""
    log, h = _read_a(tmp_path)
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


def test_file_rotated_away_before_any_scan_is_read_from_zero(tmp_path: Path) -> None:
    """A file created, filled and renamed out of the glob between two scans is still read, once."""
    log, h = _read_a(tmp_path)
    rotate(log, 1, "b1", "b2")  # a whole generation that no scan sees at audit.log
    rotate(log, 2, "c")
    h.settle()
    assert sorted(lines_of(h)) == ["a", "b1", "b2", "c"]
    assert h.tailer.open_files == 1


def test_file_empty_at_scan_then_filled_and_rotated_is_read(tmp_path: Path) -> None:
    """A file that was still empty when scanned, then filled and rotated away, is read."""
    log = tmp_path / "audit.log"
    log.touch()
    h = Harness(tmp_path, tmp_path / "state")
    h.step()
    append(log, "x")
    rotate(log, 1, "y")
    h.settle()
    assert sorted(lines_of(h)) == ["x", "y"]


def test_rotated_file_already_read_is_not_read_again(tmp_path: Path) -> None:
    """A rotated sibling whose identity the registry knows (read and closed) is not read a second time."""
    log, h = _read_a(tmp_path)
    rotate(log, 1, "b")
    h.settle()  # audit.log.1 is drained and closed: "done"
    os.utime(tmp_path / "audit.log.1")  # touched since the last scan, still the same file
    rotate(log, 2, "c")
    h.settle()
    assert sorted(lines_of(h)) == ["a", "b", "c"]


def test_old_rotated_file_never_harvested_is_left_alone(tmp_path: Path) -> None:
    """A rotated file older than the agent's last scan (e.g. from before it was installed) is not shipped."""
    old = tmp_path / "audit.log.9"
    old.write_text("from last month\n")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    log, h = _read_a(tmp_path)
    rotate(log, 1, "b")
    h.settle()
    assert sorted(lines_of(h)) == ["a", "b"]


def test_files_rotated_away_between_start_and_first_scan_are_read(tmp_path: Path) -> None:
    """On a first start, whole files rotated away after the agent started and before its first scan are read."""
    log = tmp_path / "audit.log"
    started = time.time()
    append(log, "a")
    rotate(log, 1, "b")
    rotate(log, 2, "c")
    h = Harness(tmp_path, tmp_path / "state", started=started)
    h.settle()
    assert sorted(lines_of(h)) == ["a", "b", "c"]


def test_first_start_leaves_files_rotated_before_the_agent_started_alone(tmp_path: Path) -> None:
    """On a first start, a rotated file last written before the agent started is not shipped."""
    log = tmp_path / "audit.log"
    append(log, "old")
    rotate(log, 1, "live")
    os.utime(tmp_path / "audit.log.1", (time.time() - 60, time.time() - 60))
    h = Harness(tmp_path, tmp_path / "state", started=time.time() - 10)
    h.settle()
    assert lines_of(h) == ["live"]


def test_process_started_is_before_now_and_after_boot() -> None:
    """The process start time lies in the past, later than the machine's boot."""
    with open("/proc/uptime") as fh:
        booted = time.time() - float(fh.read().split()[0])
    assert booted - 1 <= process_started() <= time.time()


def test_files_rotated_away_while_stopped_are_read_after_restart(tmp_path: Path) -> None:
    """Generations created and rotated away while the agent was stopped are read at the next start."""
    log, h = _read_a(tmp_path)
    h.tailer.close()
    rotate(log, 1, "b")
    rotate(log, 2, "c")
    h.restart()
    h.settle()
    assert sorted(lines_of(h)) == ["a", "b", "c"]
    assert len({(k, off) for k, off, _l in h.read}) == 3


def test_rename_event_leads_to_a_file_named_unlike_the_path(tmp_path: Path) -> None:
    """A watcher-reported rename from a watched path is followed to any name, even one no glob matches."""
    log, h = _read_a(tmp_path)
    (tmp_path / "archive").mkdir()
    dest = tmp_path / "archive" / "2026-11-26.jsonl"
    os.rename(log, dest)
    h.tailer.scan([(str(log), str(dest)), (str(tmp_path / "other.log"), str(tmp_path / "other.log.1"))])
    append(log, "b")
    os.rename(log, tmp_path / "archive" / "2026-11-27.jsonl")
    h.tailer.scan([(str(log), str(tmp_path / "archive" / "2026-11-27.jsonl"))])
    h.settle()
    assert sorted(lines_of(h)) == ["a", "b"]


def test_chain_of_renames_is_followed_to_its_end(tmp_path: Path) -> None:
    """A file renamed from the watched path to a sibling and on into a subdirectory before a scan is read."""
    log, h = _read_a(tmp_path)
    (tmp_path / "archive").mkdir()
    rotate(log, 1, "b")
    os.rename(tmp_path / "audit.log.1", tmp_path / "archive" / "a.jsonl")
    rotate(log, 1, "c")
    os.rename(tmp_path / "audit.log.1", tmp_path / "archive" / "b.jsonl")
    h.tailer.scan([(str(log), str(tmp_path / "audit.log.1")),
                   (str(tmp_path / "audit.log.1"), str(tmp_path / "archive" / "a.jsonl")),
                   (str(log), str(tmp_path / "audit.log.1")),
                   (str(tmp_path / "audit.log.1"), str(tmp_path / "archive" / "b.jsonl"))])
    h.settle()
    assert sorted(lines_of(h)) == ["a", "b", "c"]


def test_follow_moves_gives_each_chain_s_last_name() -> None:
    """Renames from a watched name are followed through later renames; one renamed over is dropped."""
    moves = [("/l/audit.log", "/l/audit.log.1"), ("/l/audit.log.1", "/l/audit.log.2"),
             ("/l/audit.log", "/l/audit.log.1"), ("/l/x", "/l/y"),
             ("/l/audit.log", "/l/a.json"), ("/l/b.json", "/l/a.json")]
    assert follow_moves(moves, ["/l/audit.log"]) == ["/l/audit.log.2", "/l/audit.log.1"]


def test_rename_seen_by_the_watcher_is_followed(tmp_path: Path) -> None:
    """A file renamed from the watched path into a subdirectory is found through watchdog's move event."""
    log = tmp_path / "audit.log"
    (tmp_path / "old").mkdir()  # watched from the start (a directory made later is watched a moment later)
    h = Harness(tmp_path, tmp_path / "state")
    w = make_watcher("watchdog", [str(tmp_path)])
    try:
        append(log, "a")
        os.rename(log, tmp_path / "old" / "a.jsonl")
        h.tailer.scan(wait_for_moves(w))
        h.settle()
    finally:
        w.stop()
    assert lines_of(h) == ["a"]


def test_symlink_into_the_log_folder_ships_nothing(tmp_path: Path) -> None:
    """A link matching the glob is neither read nor registered, so its target's lines never ship."""
    target = tmp_path / "passwd"
    append(target, "root:x:0:0")
    (tmp_path / "audit.log").symlink_to(target)
    h = Harness(tmp_path, tmp_path / "state")
    h.step()
    assert (lines_of(h), h.registry.all()) == ([], [])


def test_more_files_than_max_open_files_are_read_once_with_at_most_the_cap_open(tmp_path: Path) -> None:
    """20 files under a cap of 4: every line is read exactly once, twice over, and never more than 4 are open."""
    for i in range(20):
        append(tmp_path / f"a{i:02d}.log", f"{i}-first")
    h = Harness(tmp_path, tmp_path / "state", pattern="*.log", max_open_files=4)
    most_open = 0
    for _ in range(10):
        h.step()
        most_open = max(most_open, h.tailer.open_files)
    for i in range(20):
        append(tmp_path / f"a{i:02d}.log", f"{i}-second")
    for _ in range(10):
        h.step()
        most_open = max(most_open, h.tailer.open_files)
    expected = sorted([f"{i}-first" for i in range(20)] + [f"{i}-second" for i in range(20)])
    assert (sorted(lines_of(h)), most_open, h.tailer.tracked_files) == (expected, 4, 20)


def test_restart_with_more_files_than_the_cap_resumes_each_at_its_checkpoint(tmp_path: Path) -> None:
    """After a restart under a cap of 3, the 12 known files are reopened as room allows, none read twice."""
    for i in range(12):
        append(tmp_path / f"a{i:02d}.log", f"{i}-before")
    h = Harness(tmp_path, tmp_path / "state", pattern="*.log", max_open_files=3)
    for _ in range(6):
        h.step()
    h.restart()
    for i in range(12):
        append(tmp_path / f"a{i:02d}.log", f"{i}-after")
    for _ in range(8):
        h.step()
    expected = sorted([f"{i}-before" for i in range(12)] + [f"{i}-after" for i in range(12)])
    assert (sorted(lines_of(h)), h.tailer.open_files <= 3) == (expected, True)


def test_parked_file_renamed_out_of_the_globs_is_drained(tmp_path: Path) -> None:
    """A parked file that is rotated away (rename+create) keeps its identity and its new lines are read."""
    for i in range(4):
        append(tmp_path / f"a{i}.log", f"{i}-first")
    h = Harness(tmp_path, tmp_path / "state", pattern="*.log", max_open_files=2)
    for _ in range(4):
        h.step()
    append(tmp_path / "a0.log", "0-late")
    os.rename(tmp_path / "a0.log", tmp_path / "rotated-a0.old")
    for _ in range(4):
        h.step()
    h.settle()
    assert sorted(lines_of(h)) == sorted([f"{i}-first" for i in range(4)] + ["0-late"])


def test_a_file_named_in_bytes_that_are_not_utf8_is_harvested(tmp_path: Path) -> None:
    """A log whose name is not UTF-8 is read and checkpointed like any other (its path kept exactly)."""
    bad = Path(os.fsdecode(bytes(tmp_path) + b"/audit-\xff.log"))
    append(bad, "a")
    h = Harness(tmp_path, tmp_path / "state", pattern="audit-*.log")
    h.step()
    assert (["a"], [str(bad)]) == (lines_of(h), [row.path for row in h.registry.all()])


def test_sizes_survive_a_file_found_while_they_are_read(tmp_path: Path) -> None:
    """The lag metrics' walk over tracked files goes on when another file is tracked meanwhile (another thread)."""
    h = Harness(tmp_path, tmp_path / "state", pattern="*.log")
    for name in ("a.log", "b.log"):
        append(tmp_path / name, f"{name} 1")
    h.step()
    walk = iter(h.tailer.sizes())
    first = next(walk)
    append(tmp_path / "c.log", "c.log 1")
    h.step()  # the tailer tracks c.log between two steps of the walk
    assert (3, 2) == (h.tailer.tracked_files, len([first, *walk]))


def test_a_name_swapped_for_a_fifo_after_the_scan_looked_is_refused_without_blocking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A FIFO at a path the scan saw as a regular file is opened without blocking, refused and named once."""
    fifo = tmp_path / "audit.log"
    h = Harness(tmp_path, tmp_path / "state")
    os.mkfifo(fifo)
    st = os.lstat(fifo)
    # the scan's look saw a regular file here: the race an attacker wins by swapping names in a loop
    monkeypatch.setattr(discovery, "expand", lambda *a, **k: [discovery.Found(str(fifo), st.st_dev, st.st_ino, 100)])
    done = threading.Event()
    with structlog.testing.capture_logs() as logs:
        def scan_twice() -> None:
            h.tailer.scan()
            h.tailer.scan()
            done.set()

        worker = threading.Thread(target=scan_twice, daemon=True)
        worker.start()
        assert done.wait(5), "the scan blocked opening a FIFO"
    said = [e for e in logs if e["event"].startswith("not reading file")]
    assert ([e["reason"] for e in said], h.tailer.open_files) == (["not a regular file (a FIFO)"], 0)


def test_one_file_failing_in_a_poll_keeps_the_blocks_of_the_others(tmp_path: Path) -> None:
    """An error reading one file (e.g. its registry update on a full disk) loses no block another file gave."""
    append(tmp_path / "a.log", "a1")
    append(tmp_path / "b.log", "b1")
    h = Harness(tmp_path, tmp_path / "state", pattern="*.log")
    h.tailer.scan()
    broken = next(tr.harvester for tr in h.tailer._tracked.values() if tr.harvester.path.endswith("a.log"))

    def fail() -> FileStatus:
        raise OSError(errno.ENOSPC, "No space left on device")

    broken.status = fail  # type: ignore[method-assign]
    blocks = h.tailer.poll()
    assert [line for b in blocks for _off, line in b.lines] == [b"b1"]


def test_unread_lines_come_back_at_the_next_poll(tmp_path: Path) -> None:
    """A block given back from its second line on is read again from there, once."""
    log = tmp_path / "audit.log"
    append(log, "a", "b", "c")
    h = Harness(tmp_path, tmp_path / "state")
    h.tailer.scan()
    (block,) = h.tailer.poll()
    h.tailer.unread(block, block.lines[1][0])
    assert [line for b in h.tailer.poll() for _off, line in b.lines] == [b"b", b"c"]


def test_a_file_of_the_state_directory_harvested_before_is_closed_at_the_start(tmp_path: Path) -> None:
    """A registry row of the agent's own dead-letter file, left active by an agent before the state directory was
    out of bounds, is closed at the next start and the file not read (before: active for ever, its lag growing)."""
    state = tmp_path / "state"
    state.mkdir()
    own = state / "deadletter.jsonl"
    own.write_bytes(b'{"reason":"x"}\n')
    registry = Registry(state)
    settings = TailerSettings((str(state / "*.jsonl"),), fingerprint_bytes=8)
    before = Tailer(settings, registry)  # an agent that did not keep out of its state directory
    before.recover()
    assert [r.state for r in registry.all()] == ["active"]
    before.close()
    after = Tailer(dataclasses.replace(settings, own_dir=str(state)), registry)
    after.recover()
    assert ([r.state for r in registry.all()], after.poll()) == (["done"], [])
    after.close()
