"""Id record: a 409 for an id sent with the same line is a re-send, with another line a conflict."""

from __future__ import annotations

from pathlib import Path

from auditlog.agent.idrecord import IdRecord, checksum, entry_id


def entry(event_id: str) -> bytes:
    return b'{"create":{"_index":"audit-business-2026.01.01","_id":"%s"}}\n{"x":1}\n' % event_id.encode()


def test_entry_id_is_the_json_id_of_the_action_line() -> None:
    """The id is cut from the action line, quotes included, whatever the document holds."""
    assert entry_id(b'{"create":{"_index":"i","_id":"a\\"b"}}\n{"_id":"no"}\n') == b'"a\\"b"'


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
    """With a window of 2, an id is judged after 2 more ids (older generation) and forgotten after 4."""
    ids = IdRecord(tmp_path, window=2)
    ids.remember([entry("x"), entry("a")], [b"one", b"a"])
    ids.remember([entry("b"), entry("c")], [b"b", b"c"])
    kept = ids.conflicts([entry("x")], [b"two"])
    ids.remember([entry("d"), entry("e")], [b"d", b"e"])
    assert (kept, ids.conflicts([entry("x")], [b"two"])) == ([True], [False])


def test_checksum_fits_sqlite_integers() -> None:
    """Checksums are signed 64-bit integers and differ for lines of equal length."""
    sums = [checksum(b"\xff" * 4096), checksum(b"a"), checksum(b"b")]
    assert (all(-(2**63) <= s < 2**63 for s in sums), sums[1] != sums[2]) == (True, True)
