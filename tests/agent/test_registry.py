"""Registry: crash-safe per-identity checkpoints in SQLite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from auditlog.agent.identity import FileIdentity
from auditlog.agent.registry import FileState, Registry
from auditlog.core.errors import CommandError


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
