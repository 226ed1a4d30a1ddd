"""The digest seal's bookkeeping in C (indexer/_layout.c): built here, and always its references' answers."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditlog.indexer import _layout, integrity
from auditlog.indexer.integrity import (
    Columns,
    Layout,
    layout_body,
    per_index,
    seal_layout,
    seal_layout_py,
    stream_ranges,
    stream_ranges_py,
    window_layout,
    window_layout_py,
)
from tests.indexer import integrity_reference
from tests.support import random_layout, sanitized
from tests.support.memory import retained_bytes
from tests.support.random_layout import Named, native_window, outcome, random_parts, random_window


def _columns(streams: list[Any], seqs: list[Any], hashes: list[Any] | None = None,
             times: list[Any] | None = None) -> Columns:
    """Columns of one index with these streams and numbers (hashes and times made up unless given)."""
    count = len(streams)
    return Columns(["i"] * count, [f"e{i}" for i in range(count)],
                   hashes if hashes is not None else [bytes([i]) * 32 for i in range(count)],
                   times if times is not None else [f"2026-12-02T10:00:{i:02d}Z" for i in range(count)], streams, seqs)


def test_the_extension_is_built_in_this_installation() -> None:
    """pip install built the C side here, so the tests and the benchmarks measure what users run."""
    assert integrity.NATIVE_LAYOUT


def test_per_index_groups_positions_by_index_in_delivery_order() -> None:
    """Each index gets its events' positions in the order they were delivered, indices by name."""
    assert per_index(["b", "a", "b", "a", "c"]) == [("a", [1, 3]), ("b", [0, 2]), ("c", [4])]


def test_per_index_of_one_index_is_every_position() -> None:
    """A seal over one index keeps every position, in order."""
    assert [(i, list(p)) for i, p in per_index(["x", "x", "x"])] == [("x", [0, 1, 2])]


def test_a_window_lists_numbers_as_gaps_by_stream_name_then_the_rest() -> None:
    """Streams by name, each its first number and the gaps; a repeat and the unnumbered listed by position."""
    events = _columns(["b", "a", None, "a", "b", "a"], [9, 3, None, 1, 7, 3])
    laid = window_layout(events)
    assert laid.runs == [("a", [1, 2]), ("b", [7, 2])]
    assert laid.by_id == [2, 5]  # unnumbered; the second event under a:3
    assert laid.joined == b"".join(events.hashes[p] for p in (3, 1, 4, 0, 2, 5))
    assert (laid.first, laid.last) == ("2026-12-02T10:00:00Z", "2026-12-02T10:00:05Z")
    assert _layout.window(None, 0, 6, events.streams, events.seqs, events.hashes, events.times) is not None


def test_a_window_of_positions_reads_only_those() -> None:
    """A window given as positions (or a range) lists those events, by their positions in the columns."""
    events = _columns(["a", None, "a", "a"], [5, None, 4, 9])
    assert window_layout(events, [1, 2, 3]) == Layout([("a", [4, 5])], [1], events.hashes[2] + events.hashes[3]
                                                      + events.hashes[1], events.times[1], events.times[3])
    assert window_layout(events, range(2, 4)) == window_layout_py(events, [2, 3])


@settings(max_examples=400, deadline=None)
@given(st.integers(0, 2**32))
def test_any_window_is_laid_out_as_the_reference_does(seed: int) -> None:
    """Random columns (repeats, disorder, names and times beyond ASCII, odd items) and windows: the reference's."""
    rnd = random.Random(seed)
    events = Columns.joined(random_parts(rnd, odd=0))
    at = random_window(rnd, len(events.ids))
    laid = native_window(_layout, events, at)
    if at is None or type(at) is range or all(type(p) is int and 0 <= p < len(events.ids) for p in at):
        assert laid is not None  # the C side answered: this compares it, not Python with Python
    assert outcome(lambda: window_layout(events, at)) == outcome(lambda: window_layout_py(events, at))
    events = Columns.joined(random_parts(rnd, odd=0.01))
    at = random_window(rnd, len(events.ids))
    assert outcome(lambda: window_layout(events, at)) == outcome(lambda: window_layout_py(events, at))


@settings(max_examples=400, deadline=None)
@given(st.integers(0, 2**32), st.integers(1, 12))
def test_any_seal_is_laid_out_as_the_reference_does(seed: int, step: int) -> None:
    """Random column parts cut ``step`` at a time: the same windows, ranges and ids as the reference's over the join."""
    rnd = random.Random(seed)
    parts = random_parts(rnd, odd=0.01 if seed % 2 else 0)
    assert seed % 2 or _layout.seal(parts, step) is not None  # without odd items the C side answers
    sealed, expected = outcome(lambda: seal_layout(parts, step)), outcome(lambda: seal_layout_py(Columns.joined(parts),
                                                                                                 step))
    if isinstance(expected, type):
        assert sealed is expected
        return
    assert (sealed.windows, sealed.ranges) == (expected.windows, expected.ranges)
    for (_index, _count, laid), (_i, _c, wanted) in zip(sealed.windows, expected.windows, strict=True):
        assert [sealed.ids[p] for p in laid.by_id] == [expected.ids[p] for p in wanted.by_id]


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32), st.integers(1, 6), st.booleans())
def test_sealed_digests_are_byte_for_byte_the_plain_reference(seed: int, step: int, known: bool) -> None:
    """Each window's body from the C layout is the plain reference's body of the same events."""
    rnd = random.Random(seed)
    parts = random_parts(rnd, odd=0)
    events = Columns.joined(parts)
    sealed = seal_layout(parts, step)
    delivered = sealed.ranges if known else None
    chunks = [(index, positions[start:start + step]) for index, positions in per_index(events.indices)
              for start in range(0, len(positions), step)]
    for (index, count, laid), (name, chunk) in zip(sealed.windows, chunks, strict=True):
        args: dict[str, Any] = {"agent": "a", "public_key": "k", "seq": 2, "prev": "p", "prev_index": "x",
                                "index": index}
        assert (index, count) == (name, len(chunk))
        body = layout_body(**args, count=count, laid=laid, ids=sealed.ids, delivered=delivered)
        assert orjson.dumps(body) == orjson.dumps(integrity_reference.window_body(
            **args, events=events, at=list(chunk), delivered=delivered))


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**32))
def test_any_streams_get_the_reference_ranges(seed: int) -> None:
    """Per stream the delivered ranges are the plain reference's (repeats, disorder, negative numbers), and with odd
    items (which the C side leaves to Python) the Python path's."""
    rnd = random.Random(seed)
    events = Columns.joined(random_parts(rnd, odd=0))
    assert _layout.ranges(events.streams, events.seqs) is not None
    assert stream_ranges(events.streams, events.seqs) == integrity_reference.stream_ranges(events.streams, events.seqs)
    events = Columns.joined(random_parts(rnd, odd=0.01))
    assert outcome(lambda: stream_ranges(events.streams, events.seqs)) == outcome(
        lambda: stream_ranges_py(events.streams, events.seqs))


@pytest.mark.parametrize(("streams", "seqs", "hashes", "times"), [
    (["a"], [True], None, None),  # a bool is an int to Python, not to the C side
    ([[1]], [None], None, None),  # an unhashable stream beside a None: Python's set() of streams raises
    ([None], [7.5], None, None),  # a number that is not an int beside a None stream
    (["a"], [2**62], None, None),  # beyond +-(2**62 - 1): a gap might not fit 64 bits
    (["a"], [-(2**62)], None, None),
    (["a"], [2**70], None, None),
    ([Named("a")], [1], None, None),  # a str subclass
    (["a"], [1], [bytearray(32)], None),  # a hash that is not bytes
    (["a"], [1], [b"x" * 31], None),  # nor 32 bytes
    (["a"], [1], None, [None]),  # a timestamp that is not a str
])
def test_what_the_c_side_does_not_read_exactly_is_left_to_python(
        streams: list[Any], seqs: list[Any], hashes: list[Any] | None, times: list[Any] | None) -> None:
    """The C side answers None for an item it does not read exactly, and the wrappers give Python's answer."""
    events = _columns(streams, seqs, hashes, times)
    assert native_window(_layout, events, None) is None
    assert _layout.seal([events], 3) is None
    assert outcome(lambda: window_layout(events)) == outcome(lambda: window_layout_py(events))
    assert outcome(lambda: seal_layout([events], 3)) == outcome(lambda: seal_layout_py(events, 3))


def test_positions_python_reads_differently_are_left_to_python() -> None:
    """A negative position (from the end in Python), a bool, one out of range, a tuple of positions: Python's answer."""
    events = _columns(["a", "b", "a"], [1, 2, 3])
    for at in ([-1, 0], [True, 2], [0, 3], (0, 1)):
        assert native_window(_layout, events, at) is None
        assert outcome(lambda: window_layout(events, at)) == outcome(lambda: window_layout_py(events, at))  # noqa: B023


def test_columns_of_uneven_length_are_read_as_the_reference_reads_them() -> None:
    """A whole window over columns of different lengths gives the reference's answer (which reads every column)."""
    events = _columns(["a", "a"], [1, 2], times=["b", "a"])._replace(hashes=[bytes(32)])
    assert outcome(lambda: window_layout(events)) == outcome(lambda: window_layout_py(events))
    events = _columns(["a"], [1], times=["b", "a"])
    assert outcome(lambda: window_layout(events)) == outcome(lambda: window_layout_py(events))


@pytest.mark.parametrize("step", [5, 2**31, 2**63 - 1, 2**64, 10**30])
def test_any_step_cuts_as_the_reference_cuts(step: int) -> None:
    """Steps past the events, at the edge of 64 bits and beyond cut each index into one window, as the reference."""
    rnd = random.Random(step % 1000)
    parts = [*random_parts(rnd, odd=0), _columns(["a", "b", "a"], [1, 2, 3])._replace(indices=["x", "y", "x"])]
    assert _layout.seal(parts, step) is not None
    assert seal_layout(parts, step)[:2] == seal_layout_py(Columns.joined(parts), step)[:2]


def test_huge_window_bounds_are_left_to_python() -> None:
    """A range beyond 64 bits is not read by the C side; the wrapper raises what the reference raises."""
    events = _columns(["a"], [1])
    assert _layout.window(None, 0, 2**64, events.streams, events.seqs, events.hashes, events.times) is None
    for layout in (window_layout, window_layout_py):
        with pytest.raises(OverflowError):
            layout(events, range(0, 2**64))


def test_columns_of_another_kind_or_length_are_left_to_python() -> None:
    """Tuples for lists, parts of uneven columns and a step below 1 are not read by the C side."""
    events = _columns(["a", "b"], [1, 2])
    assert _layout.window(None, 0, 2, tuple(events.streams), events.seqs, None, None) is None
    assert _layout.ranges(events.streams, events.seqs[:1]) is None
    assert _layout.seal([events._replace(seqs=[1])], 5) is None
    assert _layout.seal([events], 0) is None
    with pytest.raises(ValueError, match="at least one"):
        seal_layout([events], 0)
    assert stream_ranges(events.streams, events.seqs) == stream_ranges_py(events.streams, events.seqs)


def test_a_long_seal_keeps_no_memory() -> None:
    """Laying out, sealing, ranging and refusing leave nothing behind (tracemalloc over 1,500 calls each).

    Below 8 bytes a call: a leaked object of any kind (at least 16 bytes) per call is 24 KiB; what the first few
    hundred calls settle into (a seal keeps up to 3.8 KiB of caches over its first 300 calls, 0.6 KiB later) is not.
    """
    rnd = random.Random(3)
    parts = [part for _ in range(20) for part in random_parts(rnd, odd=0)]
    events = Columns.joined(parts)
    odd = _columns(["a"], [True])
    for call in (lambda: seal_layout(parts, 7), lambda: window_layout(events, list(range(0, len(events.ids), 2))),
                 lambda: stream_ranges(events.streams, events.seqs), lambda: _layout.seal([odd], 2),
                 lambda: native_window(_layout, odd, None)):
        assert retained_bytes(call, 1500) < 12_000


def test_items_freed_by_a_collection_during_a_call_are_never_used() -> None:
    """Finalisers that swap every item of the columns at each collection leave each call's answer consistent."""
    rnd = random.Random(11)
    answered = sum(random_layout.replaced_while_read(_layout, rnd) for _ in range(15))
    assert answered > 25  # most calls answered in C, while their inputs changed under them


def test_random_seals_cause_no_memory_error_under_sanitizers(tmp_path: Path) -> None:
    """A build with AddressSanitizer and UBSan answers 3,000 random seals as the references do, also while
    finalisers replace the columns' items (a planted borrowed timestamp crashes this run)."""
    built = sanitized.build("_layout", tmp_path, package="indexer")
    run = sanitized.run("tests.support.random_layout", str(built), "3000", "5")
    assert 0 == run.returncode, run.stderr[-3000:]
    assert int(run.stdout) > 6_000  # most calls were answered in C, not left to Python
