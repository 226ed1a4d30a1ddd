"""Id record: a 409 for an id sent with the same line is a re-send, with another line a conflict."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from auditlog.agent.idrecord import IdRecord, checksum, entry_id, id_position
from auditlog.core.errors import CommandError
from tests.support.damage import damage_second_page


def entry(event_id: str) -> bytes:
    return b'{"create":{"_index":"audit-business-2026.01.01","_id":"%s"}}\n{"x":1}\n' % event_id.encode()


def test_entry_id_is_the_json_id_of_the_action_line() -> None:
    """The id is cut from the action line, quotes included, whatever the document holds."""
    assert entry_id(b'{"create":{"_index":"i","_id":"a\\"b"}}\n{"_id":"no"}\n') == b'"a\\"b"'


def test_id_position_finds_a_whole_id_only() -> None:
    """An id is found where it stands whole among the row's ids, not inside a longer or escaped one."""
    row = b'"ab"\n"x\\"b"\n"b"\n"b"'
    assert (id_position(row, b'"b"'), id_position(row, b'"ab"'), id_position(row, b'"a"')) == (2, 0, None)


def test_an_id_in_a_later_row_is_judged_against_that_row(tmp_path: Path) -> None:
    """An id first sent in a later batch is found there, with that batch's checksum at its own position."""
    ids = IdRecord(tmp_path)
    ids.remember([entry("a"), entry("b")], [b"a1", b"b1"])
    ids.remember([entry("c"), entry("xb"), entry("b2")], [b"c1", b"xb1", b"b21"])
    assert ids.conflicts([entry("b2"), entry("b2"), entry("xb")], [b"b21", b"other", b"xb1"]) == [False, True, False]


def test_same_line_again_is_no_conflict(tmp_path: Path) -> None:
    """An id sent again with the very same line is a re-send."""
    ids = IdRecord(tmp_path)
    ids.remember([entry("x")], [b"line one"])
    assert ids.conflicts([entry("x")], [b"line one"]) == [False]


def test_other_line_with_a_sent_id_is_a_conflict(tmp_path: Path) -> None:
    """An id sent before with another line is a conflict, even after the second line was remembered too."""
    ids = IdRecord(tmp_path)
    ids.remember([entry("x")], [b"line one"])
    ids.remember([entry("x")], [b"line two"])
    assert ids.conflicts([entry("x"), entry("x")], [b"line two", b"line one"]) == [True, False]


def test_unknown_id_is_no_conflict(tmp_path: Path) -> None:
    """An id this agent never sent cannot be judged, so it is taken as delivered."""
    assert IdRecord(tmp_path).conflicts([entry("never")], [b"anything"]) == [False]


def test_record_survives_a_restart(tmp_path: Path) -> None:
    """What was remembered before a crash is still known to the next process."""
    IdRecord(tmp_path).remember([entry("x")], [b"line one"])
    assert IdRecord(tmp_path).conflicts([entry("x")], [b"line two"]) == [True]


def test_an_id_is_kept_for_one_window_then_forgotten(tmp_path: Path) -> None:
    """With a window of 2, an id is judged after 2 more ids and forgotten once more than 2 later ones are kept."""
    ids = IdRecord(tmp_path, window=2)
    ids.remember([entry("x"), entry("a")], [b"one", b"a"])
    ids.remember([entry("b"), entry("c")], [b"b", b"c"])
    kept = ids.conflicts([entry("x")], [b"two"])
    ids.remember([entry("d"), entry("e")], [b"d", b"e"])
    assert (kept, ids.conflicts([entry("x")], [b"two"])) == ([True], [False])


def test_the_window_counts_the_rows_stored_before_a_restart(tmp_path: Path) -> None:
    """A record reopened over stored rows trims by them: an id is forgotten once more than 2 later ids are kept."""
    IdRecord(tmp_path, window=2).remember([entry("x"), entry("a")], [b"one", b"a"])
    IdRecord(tmp_path, window=2).remember([entry("b"), entry("c")], [b"b", b"c"])
    ids = IdRecord(tmp_path, window=2)
    kept = ids.conflicts([entry("x")], [b"two"])
    ids.remember([entry("d")], [b"d"])
    assert (kept, ids.conflicts([entry("x")], [b"two"])) == ([True], [False])


def test_a_failed_remember_leaves_the_window_as_stored(tmp_path: Path) -> None:
    """A batch whose transaction failed is not counted as later ids: the ids before it are kept as long as before."""
    ids = IdRecord(tmp_path, window=2)
    ids.remember([entry("x"), entry("a")], [b"one", b"a"])
    real = ids._db
    ids._db = _FailingCommit(real)  # type: ignore[assignment]
    with pytest.raises(sqlite3.OperationalError):
        ids.remember([entry("b")], [b"b"])
    ids._db = real
    ids.remember([entry("c")], [b"c"])
    ids.remember([entry("d")], [b"d"])
    assert ids.conflicts([entry("x")], [b"two"]) == [True]


def test_a_batch_retried_after_a_failed_commit_still_names_its_reuse(tmp_path: Path) -> None:
    """A batch of window/2 ids or more whose commit failed names the same reuse when it is remembered again (the
    table turns over within such a batch: looked up before the commit, the retry had lost the first content)."""
    ids = IdRecord(tmp_path, window=4)  # x stays within the window: the batch holds 4 later ids
    ids.remember([entry("x")], [b"A"])
    batch, lines = [entry("x"), entry("z"), entry("w"), entry("v")], [b"B", b"z", b"w", b"v"]
    real = ids._db
    ids._db = _FailingCommit(real)  # type: ignore[assignment]
    with pytest.raises(sqlite3.OperationalError):
        ids.remember(batch, lines)
    ids._db = real
    assert ids.remember(batch, lines) == [0]


class _FailingCommit:
    """A connection whose COMMIT fails (a full disk), everything else passed on."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if sql == "COMMIT":
            raise sqlite3.OperationalError("database or disk is full")
        return self.db.execute(sql, *args)


def test_remember_names_a_reuse_with_other_content_before_it_is_sent(tmp_path: Path) -> None:
    """Remember answers the positions whose id was sent before with another line, in an earlier batch or earlier in
    the same one; the same line again is no conflict."""
    ids = IdRecord(tmp_path)
    assert ids.remember([entry("x"), entry("y")], [b"one", b"y"]) == []
    assert ids.remember([entry("x"), entry("z"), entry("z"), entry("x")], [b"one", b"z", b"zz", b"two"]) == [2, 3]


def test_a_reopened_record_knows_the_ids_sent_before(tmp_path: Path) -> None:
    """After a restart the ids of the stored rows are known again: a reuse is named, a re-send is not."""
    IdRecord(tmp_path).remember([entry("x")], [b"one"])
    assert IdRecord(tmp_path).remember([entry("x"), entry("x")], [b"one", b"two"]) == [1]


def test_a_candidate_is_a_conflict_only_when_the_stored_ids_say_so(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The table's candidates (two ids may share a fingerprint) are confirmed against the exact stored ids."""
    ids = IdRecord(tmp_path)
    ids.remember([entry("x")], [b"one"])
    monkeypatch.setattr(ids._table, "check", lambda ids, crcs, lens: list(range(len(crcs) // 4)))
    assert ids.remember([entry("y"), entry("x"), entry("x")], [b"y", b"one", b"two"]) == [2]


def test_checksum_holds_crc_and_length() -> None:
    """Checksums differ for lines of equal length and for lines of equal CRC-32 but other length."""
    assert (checksum(b"a") != checksum(b"b"), checksum(b"\xff" * 4096) & 0xFFFFFFFF) == (True, 4096)


def test_a_batch_of_409s_is_judged_against_the_first_batch_that_sent_each_id(tmp_path: Path) -> None:
    """Ids from several remembered batches are each judged against the line sent first under them."""
    ids = IdRecord(tmp_path)
    ids.remember([entry("a"), entry("b")], [b"a1", b"b1"])
    ids.remember([entry("c"), entry("a")], [b"c1", b"a2"])
    assert ids.conflicts([entry("c"), entry("a"), entry("b"), entry("z")], [b"c1", b"a2", b"b1", b"z"]) == [
        False, True, False, False]


def test_an_upgrade_drops_the_per_id_tables_of_earlier_versions(tmp_path: Path) -> None:
    """A state directory written by the per-id version opens, and its old tables are gone."""
    db = sqlite3.connect(tmp_path / "ids.sqlite")
    db.execute("CREATE TABLE ids_a (id BLOB PRIMARY KEY, sum INTEGER NOT NULL) WITHOUT ROWID")
    db.commit()
    db.close()
    IdRecord(tmp_path).close()
    tables = {r[0] for r in sqlite3.connect(tmp_path / "ids.sqlite").execute("SELECT name FROM sqlite_master")}
    assert "ids_a" not in tables and "sent" in tables


def test_a_damaged_id_record_is_one_line_saying_what_to_do(tmp_path: Path) -> None:
    """An ids.sqlite SQLite cannot read is a CommandError naming it and what starting afresh loses."""
    (tmp_path / "ids.sqlite").write_bytes(bytes(range(256)) * 20)
    with pytest.raises(CommandError, match=r"ids\.sqlite cannot be read .*goes undetected"):
        IdRecord(tmp_path)


def test_an_id_record_with_a_damaged_page_is_one_line_at_the_open(tmp_path: Path) -> None:
    """An ids.sqlite whose header is sound but whose table page is damaged is a CommandError at the open, not a
    batch its sender retries for ever."""
    ids = IdRecord(tmp_path)
    ids.remember([entry("x")], [b"line one"])
    ids.close()
    damage_second_page(tmp_path / "ids.sqlite")
    with pytest.raises(CommandError, match=r"ids\.sqlite cannot be read .*malformed.*goes undetected"):
        IdRecord(tmp_path)


def test_a_whole_batch_of_409s_is_judged_by_one_split_of_each_row_not_a_search_per_id(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """2,000 409s of the newest batch (a re-send after a crash) split each stored row once: no row is searched once
    per id (that took 7 s beside 100 batches, 37 s at a full window), and none is a conflict."""
    from auditlog.agent import idrecord

    searched: list[bytes] = []
    monkeypatch.setattr(idrecord, "id_position", lambda blob, key: searched.append(key))
    ids = IdRecord(tmp_path)
    lines = [b"line %d" % i for i in range(2000)]
    for batch in range(5):
        last = [entry(f"{batch}-{i}") for i in range(2000)]
        ids.remember(last, lines)
    assert (ids.conflicts(last, lines), searched) == ([False] * 2000, [])


def test_an_id_record_sqlite_may_only_read_is_one_line_at_the_open(tmp_path: Path) -> None:
    """An id record SQLite can open only for reading is refused at the open with one line that keeps the file,
    rather than opened and failing every batch's record, which held the batch at its sender for ever."""
    from tests.agent.test_registry import _unwritable

    IdRecord(tmp_path).close()
    with _unwritable(tmp_path / "ids.sqlite"), pytest.raises(CommandError) as refused:
        IdRecord(tmp_path)
    said = str(refused.value)
    assert (True, False) == ("ids.sqlite cannot be opened" in said and "immutable flag" in said,
                             "move it aside" in said)
