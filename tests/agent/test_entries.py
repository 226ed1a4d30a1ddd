"""The per-batch work on bulk entries in C: built here, and always the references' answers (agent/_entries.c)."""

from __future__ import annotations

import itertools
import random
import sys
import threading
import time
import zlib
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditlog.agent import digest, idrecord
from auditlog.agent.digest import entry_hashes, entry_hashes_py
from auditlog.agent.idrecord import IdTable, seen_py, sent, sent_py
from tests.agent.test_fastpath import emitter_lines
from tests.support import sanitized
from tests.support.memory import retained_bytes


def _entries(count: int) -> list[bytes]:
    """Bulk entries as the shipper builds them: an action line, then the emitter's document."""
    return [b'{"create":{"_index":"audit-x","_id":"%d"}}\n%s\n' % (i, line)
            for i, line in enumerate(emitter_lines(count))]


def test_the_extension_is_built_in_this_installation() -> None:
    """pip install built the C side of both here, so the tests and the benchmarks measure what users run."""
    assert digest.NATIVE_HASHES
    assert idrecord.NATIVE_SENT


def test_emitter_entries_hash_as_the_reference_does() -> None:
    """500 shipped entries get the reference's digests, in order."""
    entries = _entries(500)
    assert entry_hashes(entries) == entry_hashes_py(entries)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.binary(max_size=300), st.binary(max_size=3000)), max_size=20))
def test_any_entries_hash_as_the_reference_does(parts: list[tuple[bytes, bytes]]) -> None:
    """Any bytes around the first newline (more newlines, an empty or one-byte document) hash as the reference."""
    entries = [head.replace(b"\n", b"") + b"\n" + body for head, body in parts]
    assert entry_hashes(entries) == entry_hashes_py(entries)


@pytest.mark.parametrize("entry", [b"\n", b"a\n", b"\n\n", b"\nx", b"a\nb", b"a\n\n\n"])
def test_edge_shapes_hash_as_the_reference_does(entry: bytes) -> None:
    """A newline at the very start or end cuts the same (possibly empty) document as the reference's slice."""
    assert entry_hashes([entry]) == entry_hashes_py([entry])


def test_an_entry_without_a_newline_is_refused_as_by_the_reference() -> None:
    """An entry with no action line raises ValueError on both paths (a bug upstream, never a wrong hash)."""
    for hashes in (entry_hashes, entry_hashes_py):
        with pytest.raises(ValueError):
            hashes([*_entries(2), b"no newline"])


def test_an_entry_that_is_not_bytes_is_refused() -> None:
    """A str or bytearray among the entries raises TypeError rather than being read as something else."""
    for odd in ("a\nb", bytearray(b"a\nb"), None):
        with pytest.raises(TypeError):
            entry_hashes([*_entries(1), odd])  # type: ignore[list-item]


def test_a_refused_batch_keeps_no_reference_to_its_entries() -> None:
    """The references taken before hashing are given back when a later entry is refused."""
    entries = _entries(3)
    before = [sys.getrefcount(e) for e in entries]
    for _ in range(100):
        with pytest.raises(ValueError):
            entry_hashes([*entries, b"no newline"])
    assert [sys.getrefcount(e) for e in entries] == before


def test_hashing_and_recording_keep_no_memory() -> None:
    """2,000 batches through each function leave the traced memory where it was (buffers and references freed)."""
    entries, lines = _entries(50), emitter_lines(50)
    assert retained_bytes(lambda: entry_hashes(entries), 2_000) < 4096
    assert retained_bytes(lambda: sent(entries, lines), 2_000) < 4096


def test_a_list_changed_by_another_thread_hashes_as_it_was_at_the_call() -> None:
    """Another thread swapping the list's items between calls never mixes two states in one answer."""
    first, second = _entries(300), [e + b"x" for e in _entries(300)]
    answers = {tuple(entry_hashes_py(first)), tuple(entry_hashes_py(second))}
    shared, stop = list(first), threading.Event()

    def swap() -> None:
        while not stop.is_set():
            shared[:] = second
            shared[:] = first

    swapper = threading.Thread(target=swap)
    swapper.start()
    try:
        seen = [tuple(entry_hashes(shared)) for _ in range(300)]
    finally:
        stop.set()
        swapper.join()
    assert set(seen) <= answers


def test_random_entries_cause_no_memory_error_under_sanitizers(tmp_path: Path) -> None:
    """A build with AddressSanitizer and UBSan answers 3,000 batches of random entries as the references do (hashes,
    records, and looks the recorded ids up in random tables)."""
    built = sanitized.build("_entries", tmp_path, libraries=("crypto", "z"))
    run = sanitized.run("tests.support.random_entries", str(built), "3000", "5")
    assert 0 == run.returncode, run.stderr[-3000:]
    hashed, recorded, looked = map(int, run.stdout.split())
    assert hashed > 10_000  # most batches were hashed, not refused at their first entry
    assert recorded > 10_000
    assert looked == recorded


def test_emitter_entries_are_recorded_as_the_reference_records_them() -> None:
    """500 shipped entries give the reference's joined ids, CRC-32s and lengths."""
    entries = _entries(500)
    lines = emitter_lines(500)
    assert sent(entries, lines) == sent_py(entries, lines)


_ID = st.one_of(st.text(max_size=40).map(lambda t: '"' + t.replace('"', "").replace("\\", "") + '"'),
                st.integers().map(str), st.just('"a}}b"'))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=30), _ID, st.binary(max_size=2000), st.binary(max_size=3000)),
                max_size=20))
def test_any_entries_are_recorded_as_the_reference_records_them(
        parts: list[tuple[str, str, bytes, bytes]]) -> None:
    """Any ids (numbers, empty, with '}}' inside) and any documents and lines are recorded as the reference does."""
    entries = [f'{{"create":{{"_index":"{index.replace(chr(34), "")}","_id":{key}}}}}\n'.encode() + body + b"\n"
               for index, key, body, _line in parts]
    lines = [line for *_, line in parts]
    assert sent(entries, lines) == sent_py(entries, lines)


def test_line_checksums_equal_zlibs_at_every_length_around_the_folded_blocks() -> None:
    """Lines of 0-400 bytes (under, at and past each 16- and 64-byte step) and a few large ones get zlib.crc32's
    values: the folded CRC-32 and its zlib tail agree with zlib."""
    rng = random.Random(11)
    lines = [rng.randbytes(n) for n in [*range(401), 843, 4096, 65_537, 1 << 20] for _ in range(2)]
    lines += [b"\xff" * n for n in range(60, 200)] + [b"\0" * n for n in range(60, 200)]
    entries = _entries(1) * len(lines)
    _ids, crcs, lens = sent(entries, lines)
    assert list(array("I", crcs)) == [zlib.crc32(line) for line in lines]
    assert list(array("I", lens)) == [len(line) for line in lines]


def test_an_empty_batch_is_recorded_as_nothing() -> None:
    """No entries give empty ids, checksums and lengths on both paths."""
    assert sent([], []) == sent_py([], []) == (b"", b"", b"")


@pytest.mark.parametrize("entries, lines", [
    ([b'{"create":{"_index":"x"}}\n{}\n'], [b"{}"]),          # no _id
    ([b'{"create":{"_index":"x","_id":"a"}\n{}\n'], [b"{}"]),  # no closing "}}\n"
    ([b'{"create":{"_index":"x","_id":"a"}}\n{}\n'], []),      # one line short
])
def test_a_batch_the_reference_refuses_is_refused(entries: list[bytes], lines: list[bytes]) -> None:
    """An entry without an _id, or counts that differ, raise ValueError on both paths."""
    for record in (sent, sent_py):
        with pytest.raises(ValueError):
            record(entries, lines)


def test_a_line_that_is_not_bytes_is_refused() -> None:
    """A str among the lines raises TypeError rather than being checksummed as something else."""
    with pytest.raises(TypeError):
        sent(_entries(2), [*emitter_lines(1), "text"])  # type: ignore[list-item]


def test_other_threads_run_while_a_batch_is_hashed() -> None:
    """The GIL is released while hashing: a thread waking every 10 ms keeps waking during a long call."""
    entries = [b"{}\n" + b"x" * 4_000_000 + b"\n"] * 150  # about 600 MB hashed, about half a second or more
    wakes: list[float] = []
    stop = threading.Event()

    def tick() -> None:
        while not stop.is_set():
            time.sleep(0.01)
            wakes.append(time.perf_counter())

    ticker = threading.Thread(target=tick)
    ticker.start()
    try:
        time.sleep(0.05)
        start = time.perf_counter()
        entry_hashes(entries)
        end = time.perf_counter()
    finally:
        stop.set()
        ticker.join()
    during = [start, *(w for w in wakes if start < w < end), end]
    longest = max(b - a for a, b in itertools.pairwise(during))
    assert longest < (end - start) / 2, (longest, end - start)  # with the GIL held the thread could not wake at all


@pytest.mark.parametrize("refused", [
    lambda entries, lines: (entries, lines[:-1]),                             # one line short
    lambda entries, lines: ([*entries, b'{"create":{}}\n{}\n'], [*lines, b"{}"]),  # an entry without an _id
    lambda entries, lines: (entries, [*lines[:-1], "text"]),                  # a line that is not bytes
])
def test_a_refused_record_keeps_no_reference_to_its_entries_or_lines(
        refused: Callable[[list[bytes], list[bytes]], tuple[list[Any], list[Any]]]) -> None:
    """The references taken before reading are given back whichever way sent refuses a batch."""
    entries, lines = _entries(3), emitter_lines(3)
    before = [sys.getrefcount(o) for o in (*entries, *lines)]
    for _ in range(100):
        with pytest.raises((ValueError, TypeError)):
            sent(*refused(entries, lines))
    assert [sys.getrefcount(o) for o in (*entries, *lines)] == before


#: JSON ids as the record keeps them: short, escaped, one word long and longer
_IDS = [b'"a"', b'"b"', b'"c"', b'"d"', b'"\\n"', b'"ev-1"', b'"x' + b"y" * 30 + b'"']


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_IDS), st.integers(0, 3), st.integers(0, 3)), max_size=60),
       st.integers(1, 6), st.integers(0, 2**64 - 1), st.booleans())
def test_ids_are_looked_up_as_the_reference_looks_them_up(
    batch: list[tuple[bytes, int, int]], limit: int, seed: int, with_previous: bool,
) -> None:
    """seen gives the reference's stop, fill and candidates and leaves the same table, for ids that repeat with the
    same or another check, over a full table and an older one."""
    ids = b"\n".join(key for key, _, _ in batch)
    crcs, lens = array("I", [c for _, c, _ in batch]).tobytes(), array("I", [n for _, _, n in batch]).tobytes()
    slots = limit + 3
    previous = None
    if with_previous:
        previous = bytearray(8 * slots)
        seen_py(previous, None, ids, crcs, lens, 0, 0, limit, seed ^ 1)
    mine, theirs = bytearray(8 * slots), bytearray(8 * slots)
    args = (0, 0, limit, seed)
    assert idrecord._native_seen is not None
    assert idrecord._native_seen(mine, previous, ids, crcs, lens, *args) == seen_py(theirs, previous, ids, crcs, lens,
                                                                                    *args)
    assert mine == theirs


@pytest.mark.parametrize("seed", [-1, 2**64 + 5, 2**64 - 1, 0])
def test_a_seed_outside_64_bits_is_taken_modulo_2_64_as_in_c(seed: int) -> None:
    """The reference reduces its seed as the C side does (empty and short ids, whose hash is mostly the seed)."""
    ids, crcs, lens = b'\n"a"\n"abcdefgh"', array("I", [1, 2, 3]).tobytes(), array("I", [4, 5, 6]).tobytes()
    mine, theirs = bytearray(8 * 7), bytearray(8 * 7)
    assert idrecord._native_seen is not None
    assert idrecord._native_seen(mine, None, ids, crcs, lens, 0, 0, 6, seed) == seen_py(theirs, None, ids, crcs, lens,
                                                                                         0, 0, 6, seed)
    assert mine == theirs


def test_the_table_names_each_reuse_with_other_content_and_no_re_send() -> None:
    """Across batches and a turnover of its tables, an id seen again with its first check passes and with another
    is named; an id older than both tables is forgotten."""
    table = IdTable(window=4)  # two tables of 2 ids

    def batch(*items: tuple[bytes, int]) -> list[int]:
        ids = b"\n".join(key for key, _ in items)
        return table.check(ids, array("I", [c for _, c in items]).tobytes(), array("I", [1] * len(items)).tobytes())

    assert batch((b'"a"', 1), (b'"b"', 2), (b'"a"', 1), (b'"a"', 9)) == [3]
    assert batch((b'"b"', 7), (b'"c"', 3)) == [0]  # "b" is in the older table now: still known
    assert batch((b'"d"', 4), (b'"e"', 5)) == []
    assert batch((b'"a"', 8)) == []  # forgotten: two turnovers later
