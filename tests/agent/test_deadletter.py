"""Dead-letter file: records with reason and original line, de-duplicated, replay bookkeeping."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from auditlog.agent import deadletter
from auditlog.agent.deadletter import DEADLETTER_FILE, DeadLetter, DeadLetterWriter, mark_replayed, read_records
from auditlog.agent.redact import REDACTED, Redactor


def write(tmp: Path, *dls: DeadLetter) -> None:
    w = DeadLetterWriter(tmp)
    for d in dls:
        w.write(d)
    w.close()


def test_utf8_line_is_kept_as_text() -> None:
    """A UTF-8 line is stored verbatim under "line" with reason, file, offset and time."""
    rec = __import__("orjson").loads(DeadLetter("bad", b'{"x":', 5, "/f", "id").to_json())
    assert (rec["reason"], rec["file"], rec["offset"], rec["line"]) == ("bad", "/f", 5, '{"x":')
    assert rec["time"].endswith("Z")


def test_non_utf8_line_is_base64(tmp_path: Path) -> None:
    """A line that is not UTF-8 is stored as line_b64 and decodes back to the same bytes."""
    write(tmp_path, DeadLetter("invalid UTF-8", b"\xff\xfe", 0, "/f", "id"))
    rec = next(read_records(tmp_path))
    assert (rec["line_b64"], DeadLetter.from_json(rec).line) == ("//4=", b"\xff\xfe")


def test_same_line_twice_is_listed_once(tmp_path: Path) -> None:
    """A line dead-lettered again after a crash (same identity and offset) is listed once."""
    write(tmp_path, DeadLetter("r", b"x", 1, "/f", "id"), DeadLetter("r", b"x", 1, "/f", "id"))
    assert len(list(read_records(tmp_path))) == 1


def test_replayed_entries_are_hidden(tmp_path: Path) -> None:
    """Entries marked replayed are not listed unless asked for."""
    write(tmp_path, DeadLetter("r", b"x", 1, "/f", "id"), DeadLetter("r", b"y", 2, "/f", "id"))
    mark_replayed(tmp_path, ["id:1"])
    assert ([r["offset"] for r in read_records(tmp_path)],
                        len(list(read_records(tmp_path, include_replayed=True)))) == ([2], 2)


def test_truncated_line_records_full_length() -> None:
    """An overlong line keeps only a preview but records its full length and truncated flag."""
    rec = __import__("orjson").loads(DeadLetter("too long", b"abc", 0, line_bytes=10_000_000, truncated=True).to_json())
    assert (rec["line_bytes"], rec["truncated"]) == (10_000_000, True)


def test_bad_base64_is_an_error_not_an_empty_line() -> None:
    """A record whose line_b64 is not base64 raises ValueError instead of decoding to nothing."""
    import pytest

    with pytest.raises(ValueError):
        DeadLetter.from_json({"reason": "x", "offset": 1, "line_b64": "***"})


def test_a_record_that_is_not_an_object_is_reported_corrupt(tmp_path: Path) -> None:
    """A JSON line that is not an object is yielded as a corrupt record, and reading goes on."""
    (tmp_path / "deadletter.jsonl").write_bytes(b'[1, 2]\n' + DeadLetter("r", b"x", 1, "/f", "id").to_json())
    assert [r["reason"] for r in read_records(tmp_path)] == ["corrupt dead-letter record", "r"]


def test_lines_are_redacted_before_they_are_written(tmp_path: Path) -> None:
    """With the redactor's line rule, a dead letter keeps the line minus its secrets, valid JSON or not."""
    w = DeadLetterWriter(tmp_path, Redactor().line)
    w.write(DeadLetter("r", b'{"password": "hunter2", "url": {"full": "https://u:pw1@h/"}}', 1, "/f", "id"))
    w.write(DeadLetter("r", b'{"api_key": "k-123", "x": ', 2, "/f", "id"))
    w.close()
    text = (tmp_path / DEADLETTER_FILE).read_text()
    assert ([s for s in ("hunter2", "pw1", "k-123") if s in text], text.count(REDACTED)) == ([], 3)


def test_raw_lines_are_kept_without_a_redactor(tmp_path: Path) -> None:
    """Without a redaction rule (redact.raw_dead_letters) the line is stored as read."""
    write(tmp_path, DeadLetter("r", b'{"password": "hunter2"}', 1, "/f", "id"))
    assert next(read_records(tmp_path))["line"] == '{"password": "hunter2"}'


def test_file_is_readable_by_the_owner_only(tmp_path: Path) -> None:
    """The dead-letter file is mode 0600, also when it existed with wider permissions."""
    path = tmp_path / DEADLETTER_FILE
    path.touch()
    os.chmod(path, 0o644)
    write(tmp_path, DeadLetter("r", b"x", 1, "/f", "id"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_reason_quoting_a_secret_is_redacted(tmp_path: Path) -> None:
    """A reason that quotes a bad value (here a bearer token) is redacted like the line."""
    w = DeadLetterWriter(tmp_path, Redactor().line)
    w.write(DeadLetter("event.action: got 'Bearer abcdef123456'", b"{}", 1, "/f", "id"))
    w.close()
    assert next(read_records(tmp_path))["reason"] == f"event.action: got 'Bearer {REDACTED}'"


def test_a_redactor_that_raises_costs_the_line_not_the_record_nor_its_secret(tmp_path: Path) -> None:
    """A redactor that raises on a line: the record is still written (the reader is not held on it), without the
    raw line (it may hold a secret), marked truncated with the line's length and why; the reason is kept."""
    def failing(data: bytes) -> bytes:
        if b"hunter2" in data:
            raise RecursionError("maximum recursion depth exceeded")
        return data

    w = DeadLetterWriter(tmp_path, failing)
    w.write(DeadLetter("invalid JSON", b'{"password": "hunter2"', 7, "/f", "id"))
    w.close()
    record = next(read_records(tmp_path))
    assert ("hunter2" in (tmp_path / DEADLETTER_FILE).read_text(), record["truncated"], record["line_bytes"],
            record["reason"].startswith("invalid JSON; the line (22 bytes) is not kept: redacting it failed "
                                        "(RecursionError)")) == (False, True, 22, True)


def test_a_file_name_that_is_not_utf8_is_recorded_readable_and_exact(tmp_path: Path) -> None:
    """The record shows the name with escapes in ``file`` and holds its bytes in ``file_b64``; it reads back exact."""
    path = os.fsdecode(b"/logs/audit-\xff.jsonl")
    writer = DeadLetterWriter(tmp_path)
    writer.write(DeadLetter("invalid JSON", b"{", 0, path, "id1"))
    writer.close()
    [record] = list(read_records(tmp_path))
    assert ("/logs/audit-\\xff.jsonl", path) == (record["file"], DeadLetter.from_json(record).file)


def test_a_damaged_replayed_file_spoils_only_its_own_lines(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 in deadletter.replayed do not stop the listing; the intact keys still count."""
    writer = DeadLetterWriter(tmp_path)
    writer.write(DeadLetter("invalid JSON", b"{", 1, "/f", "id1"))
    writer.write(DeadLetter("invalid JSON", b"[", 2, "/f", "id1"))
    writer.close()
    (tmp_path / "deadletter.replayed").write_bytes(b"\xff\xfe\x00garbage\nid1:1\n")
    assert [2] == [r["offset"] for r in read_records(tmp_path)]


def test_a_write_cut_short_by_a_full_disk_leaves_no_half_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A record the disk takes only in part is cut back off and the error raised; the file holds whole records."""
    w = DeadLetterWriter(tmp_path)
    w.append(DeadLetter("first", b"one", 0, "/f", "k"))
    real_write = os.write

    def half_then_full(fd: int, data: bytes | memoryview) -> int:
        if len(data) > 10:
            real_write(fd, bytes(data[: len(data) // 2]))
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", half_then_full)
    with pytest.raises(OSError):
        w.append(DeadLetter("second", b"two", 4, "/f", "k"))
    monkeypatch.undo()
    w.append(DeadLetter("third", b"three", 8, "/f", "k"))
    w.close()
    assert [r["reason"] for r in read_records(tmp_path)] == ["first", "third"]


def test_a_dead_letter_file_removed_while_running_is_written_again_with_what_was_not_synced(tmp_path: Path) -> None:
    """Removed under the agent, the file comes back at its path with the records its checkpoint did not cover yet."""
    w = DeadLetterWriter(tmp_path)
    w.append(DeadLetter("synced", b"one", 0, "/f", "k"))
    w.sync()  # a checkpoint covered it: the operator's removal takes it
    w.append(DeadLetter("unsynced", b"two", 4, "/f", "k"))
    (tmp_path / DEADLETTER_FILE).unlink()
    w.append(DeadLetter("after", b"three", 8, "/f", "k"))
    w.close()
    assert [r["reason"] for r in read_records(tmp_path)] == ["unsynced", "after"]
    assert stat.S_IMODE((tmp_path / DEADLETTER_FILE).stat().st_mode) == 0o600


def test_a_recreated_dead_letter_file_that_fills_up_holds_no_half_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Writing the unsynced records again into a recreated file is all or nothing too: the retry leaves no junk."""
    w = DeadLetterWriter(tmp_path)
    w.append(DeadLetter("r1", b"one", 0, "/f", "k"))
    (tmp_path / DEADLETTER_FILE).unlink()
    real_write = os.write

    def half_then_full(fd: int, data: bytes | memoryview) -> int:
        real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", half_then_full)
    with pytest.raises(OSError):
        w.append(DeadLetter("r2", b"two", 4, "/f", "k"))
    monkeypatch.undo()
    w.append(DeadLetter("r2", b"two", 4, "/f", "k"))  # the reader's retry
    w.close()
    assert [r["reason"] for r in read_records(tmp_path)] == ["r1", "r2"]


def test_a_write_after_close_is_refused_and_spares_the_file_that_took_its_descriptor(tmp_path: Path) -> None:
    """A sender writing after close (it outlived the shutdown) gets EBADF; the file that reused the number is intact."""
    w = DeadLetterWriter(tmp_path / "state")
    number = w._fd
    w.close()
    other = tmp_path / "registry.sqlite"
    fd = os.open(other, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.write(fd, b"SQLite format 3\0")
        assert fd == number  # the lowest free number: the one the dead-letter file held
        with pytest.raises(OSError) as refused:
            w.write(DeadLetter("400 mapper_parsing_exception", b'{"a":1}', 0, "/x.log", "k", "index"))
        os.fstat(fd)  # still open: nothing closed it as a dead-letter file "moved away"
        assert (refused.value.errno, other.read_bytes()) == (errno.EBADF, b"SQLite format 3\0")
    finally:
        os.close(fd)


def test_replay_marks_that_cannot_be_read_are_one_line_not_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A registry locked past its timeout (or damaged) is a CommandError naming it, never "nothing replayed yet"."""
    import sqlite3

    from auditlog.agent.deadletter import replayed_keys
    from auditlog.agent.registry import Registry
    from auditlog.core.errors import CommandError

    Registry(tmp_path).close()

    def locked(self: Registry) -> object:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(Registry, "transaction", locked)
    with pytest.raises(CommandError, match="cannot read the replay marks"):
        replayed_keys(tmp_path)


def test_a_dead_letter_file_that_is_a_link_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    """A symbolic link in the file's place stops the writer with an error naming it; the target keeps mode and bytes."""
    target = tmp_path / "victim.txt"
    target.write_bytes(b"keep\n")
    os.chmod(target, 0o644)
    (tmp_path / DEADLETTER_FILE).symlink_to(target)
    with pytest.raises(OSError, match=f"{DEADLETTER_FILE} is a symbolic link"):
        DeadLetterWriter(tmp_path)
    assert (target.read_bytes(), stat.S_IMODE(target.stat().st_mode)) == (b"keep\n", 0o644)


def test_a_dead_letter_file_that_is_a_fifo_is_refused_at_once(tmp_path: Path) -> None:
    """A FIFO in the file's place (nothing reads it) is refused by name instead of blocking the agent's start."""
    os.mkfifo(tmp_path / DEADLETTER_FILE)
    with pytest.raises(OSError, match=f"{DEADLETTER_FILE} is a FIFO"):
        DeadLetterWriter(tmp_path)


def test_a_dead_letter_file_swapped_for_a_link_while_running_is_not_written_through(tmp_path: Path) -> None:
    """Replaced by a link under the agent, the file is not written through it: the write fails, the caller holds."""
    target = tmp_path / "victim.txt"
    target.write_bytes(b"keep\n")
    w = DeadLetterWriter(tmp_path / "state")
    w.append(DeadLetter("first", b"one", 0, "/f", "k"))
    path = tmp_path / "state" / DEADLETTER_FILE
    path.unlink()
    path.symlink_to(target)
    with pytest.raises(OSError, match="is a symbolic link"):
        w.append(DeadLetter("second", b"two", 4, "/f", "k"))
    assert target.read_bytes() == b"keep\n"
    path.unlink()
    w.close()


def test_a_failed_sync_names_the_dead_letter_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An fsync that fails (EIO, EINVAL) raises an error that names the file, so its one line says which file."""
    w = DeadLetterWriter(tmp_path)
    w.append(DeadLetter("r", b"x", 1, "/f", "id"))

    def failing(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing)
    with pytest.raises(OSError) as failed:
        w.sync()
    assert failed.value.filename == str(tmp_path / DEADLETTER_FILE)


def test_reading_a_dead_letter_file_that_is_a_link_is_refused(tmp_path: Path) -> None:
    """Reading a link (say to /etc/passwd) raises an error naming the file instead of yielding the target's lines."""
    target = tmp_path / "passwd"
    target.write_bytes(b"root:x:0:0:root:/root:/bin/bash\n")
    (tmp_path / DEADLETTER_FILE).symlink_to(target)
    with pytest.raises(OSError, match=f"{DEADLETTER_FILE} is a symbolic link"):
        list(read_records(tmp_path))


def test_reading_a_dead_letter_file_that_is_a_fifo_is_refused_at_once(tmp_path: Path) -> None:
    """A FIFO in the file's place is refused by name; reading never waits for a writer."""
    os.mkfifo(tmp_path / DEADLETTER_FILE)
    with pytest.raises(OSError, match=f"{DEADLETTER_FILE} is a FIFO"):
        list(read_records(tmp_path))


def test_a_line_longer_than_any_record_is_one_corrupt_record_and_reading_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A line past the record bound is one corrupt record holding a preview (not the line); the next record is read."""
    monkeypatch.setattr(deadletter, "MAX_RECORD_BYTES", 10_000)
    (tmp_path / DEADLETTER_FILE).write_bytes(b"\0" * 50_000 + b"\n" + DeadLetter("r", b"x", 1, "/f", "id").to_json())
    corrupt, good = read_records(tmp_path)
    assert (corrupt["reason"], len(corrupt["raw"]), corrupt["raw_bytes"], good["reason"]) == (
        "over-long dead-letter record", deadletter.PREVIEW_BYTES, 50_001, "r")


def test_a_line_one_byte_over_the_bound_with_its_newline_does_not_swallow_the_next_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A line of exactly bound + 1 bytes (its newline read with it) is one corrupt record; the next two are read."""
    records = [DeadLetter(r, b"x", n, "/f", "id").to_json() for n, r in enumerate(("r1", "r2"))]
    bound = max(map(len, records)) + 10
    monkeypatch.setattr(deadletter, "MAX_RECORD_BYTES", bound)
    (tmp_path / DEADLETTER_FILE).write_bytes(b"y" * bound + b"\n" + b"".join(records))
    assert ["over-long dead-letter record", "r1", "r2"] == [rec["reason"] for rec in read_records(tmp_path)]


def test_a_record_over_the_bound_is_written_with_its_reason_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    """A record the bound could not hold (a cluster's endless reason) keeps the line and a cut reason, never more."""
    monkeypatch.setattr(deadletter, "MAX_RECORD_BYTES", 8000)
    rendered = DeadLetter("400 mapper_parsing_exception: " + "x" * 20_000, b'{"a": 1}', 0, "/f", "id").to_json()
    rec = __import__("orjson").loads(rendered)
    assert (len(rendered) <= 8000, rec["line"], rec["reason"].startswith("400 mapper_parsing_exception: x")) == (
        True, '{"a": 1}', True)


def test_replay_marks_of_earlier_versions_in_a_fifo_are_refused_at_once(tmp_path: Path) -> None:
    """A FIFO in place of deadletter.replayed is refused by name; listing never waits for a writer."""
    write(tmp_path, DeadLetter("r", b"x", 1, "/f", "id"))
    os.mkfifo(tmp_path / "deadletter.replayed")
    with pytest.raises(OSError, match=r"deadletter\.replayed is a FIFO"):
        list(read_records(tmp_path))


def test_a_line_over_the_configurations_bound_between_two_records_is_reported_with_its_offset(
    tmp_path: Path,
) -> None:
    """Past record_limit(max_line_bytes): one over-long record naming its byte offset; both neighbours are read."""
    first, last = (DeadLetter(r, b"x", n, "/f", "id").to_json() for n, r in enumerate(("r1", "r2")))
    limit = deadletter.record_limit(1024)
    (tmp_path / DEADLETTER_FILE).write_bytes(first + b"y" * (limit + 10) + b"\n" + last)
    rows = list(read_records(tmp_path, limit=limit))
    assert (["r1", "over-long dead-letter record", "r2"], len(first), limit + 11, deadletter.PREVIEW_BYTES) == (
        [r["reason"] for r in rows], rows[1]["record_offset"], rows[1]["raw_bytes"], len(rows[1]["raw"]))


def test_the_writer_records_its_bound_and_keeps_a_larger_one_recorded_before(tmp_path: Path) -> None:
    """A writer records its record limit (mode 0600); a later one with a smaller bound leaves the larger, since the
    file may still hold records written under it."""
    large, small = deadletter.record_limit(16 << 20), deadletter.record_limit(1 << 20)
    DeadLetterWriter(tmp_path, limit=large).close()
    DeadLetterWriter(tmp_path, limit=small).close()
    mode = stat.S_IMODE((tmp_path / deadletter.LIMIT_FILE).stat().st_mode)
    assert ((large, None), 0o600) == (deadletter.saved_limit(tmp_path), mode)


@pytest.mark.parametrize("content", [b"not json", b"[1]", b'{"record_limit": true}', b'{"record_limit": "7340032"}',
                                     b'{"record_limit": -1}', b'{"record_limit": 1e400}',
                                     b'{"record_limit": 99999999999999999999}',
                                     b'{"record_limit": 7340032}' + b" " * 300],
                         ids=["text", "list", "bool", "string", "negative", "float", "huge", "long-file"])
def test_a_recorded_bound_that_is_no_record_limit_is_refused_naming_the_file(tmp_path: Path, content: bytes) -> None:
    """A hostile or damaged deadletter.limit gives no bound, only one line naming the file (never a larger bound)."""
    (tmp_path / deadletter.LIMIT_FILE).write_bytes(content)
    limit, problem = deadletter.saved_limit(tmp_path)
    assert (None, True) == (limit, problem is not None and deadletter.LIMIT_FILE in problem and "\n" not in problem)


def test_a_recorded_bound_that_is_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    """A FIFO in place of deadletter.limit is refused at once, naming it, instead of blocking the reader."""
    os.mkfifo(tmp_path / deadletter.LIMIT_FILE)
    limit, problem = deadletter.saved_limit(tmp_path)
    assert (None, True) == (limit, problem is not None and "is a FIFO" in problem)


def test_a_folder_in_place_of_the_recorded_bound_stops_the_writer_naming_it_and_leaves_no_temporary_file(
    tmp_path: Path,
) -> None:
    """A folder where deadletter.limit goes: the writer refuses naming that file (not its temporary one), and leaves
    no temporary file behind; the reader names the file once."""
    (tmp_path / deadletter.LIMIT_FILE).mkdir()
    with pytest.raises(OSError) as raised:
        DeadLetterWriter(tmp_path, limit=deadletter.record_limit(1 << 20))
    _limit, problem = deadletter.saved_limit(tmp_path)
    named = f"{tmp_path / deadletter.LIMIT_FILE} is a directory"
    assert (str(raised.value).startswith(named), sorted(p.name for p in tmp_path.iterdir() if "limit" in p.name),
            problem is not None and problem.count(deadletter.LIMIT_FILE) == 1) == (True, [deadletter.LIMIT_FILE], True)
