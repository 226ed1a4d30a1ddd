"""Registry: crash-safe per-identity checkpoints in SQLite."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditlog.agent.identity import FileIdentity
from auditlog.agent.registry import FileState, Registry
from auditlog.core.errors import CommandError
from tests.support.damage import damage_second_page


def row(offset: int = 0) -> FileState:
    return FileState(FileIdentity(1, 2, 10, "abc", 0), "/x/audit.log", offset, 100)


def test_offsets_survive_reopen(tmp_path: Path) -> None:
    """A committed offset is there after the registry is reopened."""
    r = Registry(tmp_path)
    r.add(row())
    r.commit_offsets({row().key: 42})
    r.close()
    again = Registry(tmp_path).get(row().key)
    assert again is not None
    assert again.offset == 42


def test_offsets_never_move_backwards(tmp_path: Path) -> None:
    """Committing a smaller offset (a late ack) keeps the larger one."""
    r = Registry(tmp_path)
    r.add(row())
    r.commit_offsets({row().key: 50})
    r.commit_offsets({row().key: 20})
    got = r.get(row().key)
    assert got is not None
    assert got.offset == 50


def test_lookup_by_inode_newest_generation_first(tmp_path: Path) -> None:
    """All identities of one inode are found, newest generation first."""
    r = Registry(tmp_path)
    r.add(row())
    r.add(FileState(FileIdentity(1, 2, 10, "def", 1), "/x/audit.log"))
    assert [s.ident.generation for s in r.for_inode(1, 2)] == [1, 0]


def test_readonly_open_of_missing_registry_fails(tmp_path: Path) -> None:
    """Status on a directory without a registry raises FileNotFoundError instead of creating one."""
    with pytest.raises(FileNotFoundError):
        Registry(tmp_path / "nothing", readonly=True)


def test_prune_forgets_only_old_closed_identities(tmp_path: Path) -> None:
    """Closed rows older than the age limit are deleted; active ones stay whatever their age."""
    r = Registry(tmp_path)
    r.add(row())
    closed = FileState(FileIdentity(1, 3, 10, "x", 0), "/x/old.log", state="done")
    r.add(closed)
    assert (r.prune(-1), [s.key for s in r.all()]) == (1, [row().key])


def test_a_path_that_is_not_utf8_is_kept_exactly(tmp_path: Path) -> None:
    """A file name of bytes that are not UTF-8 is stored and read back as the same path (as a blob)."""
    path = os.fsdecode(b"/var/log/audit-\xff\xfe.jsonl")
    reg = Registry(tmp_path)
    reg.add(FileState(FileIdentity(1, 2, 64, "fp"), path))
    reg.update(FileIdentity(1, 2, 64, "fp").key, path=path + "-moved")
    assert [path + "-moved"] == [row.path for row in reg.all()]


@pytest.mark.parametrize("readonly", [False, True])
def test_a_damaged_registry_is_one_line_saying_what_to_do(tmp_path: Path, readonly: bool) -> None:
    """A registry file SQLite cannot read is a CommandError naming it and what moving it aside means."""
    (tmp_path / "registry.sqlite").write_bytes(bytes(range(256)) * 20)
    with pytest.raises(CommandError, match=r"registry\.sqlite cannot be read .*move it aside"):
        Registry(tmp_path, readonly=readonly)


@pytest.mark.parametrize("name", ["q?x", "h#x", "p%41x", "sp ace"])
def test_a_state_dir_with_uri_characters_is_opened_read_only_where_it_is(tmp_path: Path, name: str) -> None:
    """A read-only open of a directory named with '?', '#' or '%' reads its registry and creates nothing else."""
    state = tmp_path / name
    writer = Registry(state)
    writer.add(row())
    writer.close()
    before = sorted(p.name for p in tmp_path.iterdir())
    reader = Registry(state, readonly=True)
    keys = [r.key for r in reader.all()]
    reader.close()
    assert ([row().key], before) == (keys, sorted(p.name for p in tmp_path.iterdir()))


@pytest.mark.parametrize("content", [b"", "wrong schema"])
def test_a_registry_that_is_no_registry_is_one_line_when_read(tmp_path: Path, content: bytes | str) -> None:
    """An empty registry file, or an SQLite file without the agent's tables, is a CommandError on a read-only open."""
    import sqlite3

    path = tmp_path / "registry.sqlite"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE files (identity TEXT)")
    with pytest.raises(CommandError, match=r"registry\.sqlite cannot be read"):
        Registry(tmp_path, readonly=True)


def test_a_directory_in_place_of_the_registry_is_one_line_when_read(tmp_path: Path) -> None:
    """A directory named registry.sqlite is a CommandError on a read-only open, not a disk I/O traceback."""
    (tmp_path / "registry.sqlite").mkdir()
    with pytest.raises(CommandError, match=r"registry\.sqlite cannot be read"):
        Registry(tmp_path, readonly=True)


@pytest.mark.parametrize("readonly", [False, True])
def test_a_registry_with_a_damaged_page_is_one_line_at_the_open(tmp_path: Path, readonly: bool) -> None:
    """A registry whose header is sound but whose table page is damaged is a CommandError at the open, not a later
    traceback from the first read."""
    writer = Registry(tmp_path)
    writer.add(row())
    writer.close()
    damage_second_page(tmp_path / "registry.sqlite")
    with pytest.raises(CommandError, match=r"registry\.sqlite cannot be read .*malformed.*move it aside"):
        Registry(tmp_path, readonly=readonly).all()


def test_a_registry_on_a_full_disk_is_not_called_damaged(tmp_path: Path) -> None:
    """A sound registry that cannot be opened because no file may grow (a full state disk) says to free space and
    keep it, never to move it aside (which loses its checkpoints and unsealed digest records)."""
    import subprocess
    import sys

    writer = Registry(tmp_path)
    writer.add(row())
    writer.close()
    # RLIMIT_FSIZE 0: every write that would grow a file fails, as on a full disk (the -wal and -shm files here)
    opens = ("import resource, signal, sys\n"
             "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
             "resource.setrlimit(resource.RLIMIT_FSIZE, (0, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))\n"
             "from auditlog.agent.registry import Registry\n"
             "from auditlog.core.errors import CommandError\n"
             "try:\n    Registry(sys.argv[1])\nexcept CommandError as exc:\n    print(exc)\n")
    said = subprocess.run([sys.executable, "-c", opens, str(tmp_path)], capture_output=True, text=True,
                          check=True).stdout
    assert (True, False) == ("registry.sqlite cannot be opened" in said and "free space" in said,
                             "move it aside" in said)


def test_a_registry_this_user_may_not_open_is_not_called_damaged(tmp_path: Path) -> None:
    """A sound registry SQLite refuses for want of permission (a read-only open whose folder this user may not
    write) says to run as the agent's user, never to move it aside."""
    import sqlite3

    from auditlog.agent.registry import damaged_database

    writer = Registry(tmp_path)
    writer.close()
    refused = sqlite3.OperationalError("attempt to write a readonly database")
    refused.sqlite_errorcode = 1544  # SQLITE_READONLY_DIRECTORY, as a user without write permission on the folder
    said = damaged_database(tmp_path / "registry.sqlite", refused)
    assert (True, False) == ("cannot be opened" in said and "agent's user" in said, "move it aside" in said)


@contextlib.contextmanager
def _unwritable(path: Path) -> Iterator[None]:
    """``path`` as a file SQLite can only read: mode 444 for a user, an immutable flag for root (who ignores modes)."""
    if os.geteuid() == 0:
        flagged = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
        # no skip: a test that cannot stage what it checks fails, saying why
        assert flagged.returncode == 0, f"cannot set the immutable flag (chattr +i) as root: {flagged.stderr.strip()}"
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)
    else:
        path.chmod(0o444)
        yield


def test_a_registry_sqlite_may_only_read_is_one_line_at_the_open(tmp_path: Path) -> None:
    """A registry SQLite can open only for reading is refused at the open with one line that says to fix its
    permissions and keep it, rather than opened and failing at the agent's first write (a traceback)."""
    Registry(tmp_path).close()
    with _unwritable(tmp_path / "registry.sqlite"), pytest.raises(CommandError) as refused:
        Registry(tmp_path)
    said = str(refused.value)
    assert (True, False) == ("registry.sqlite cannot be opened" in said and "immutable flag" in said,
                             "move it aside" in said)
