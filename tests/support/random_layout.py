"""Random digest columns for the seal's bookkeeping in C (indexer/_layout.c) and its Python references.

:func:`random_parts` makes column parts as a seal loads them, with what the C side must leave to Python mixed
in now and then (a bool or a number beyond 64 bits, a str subclass, a hash that is not 32 bytes, a timestamp
that is not a str), equal names that are different objects, names and times beyond ASCII, repeats and numbers
out of order. tests/indexer/test_layout.py draws from it in-process; ``python -m tests.support.random_layout
SO_PATH ROUNDS SEED`` loads a build of the extension at ``SO_PATH`` (one with sanitizers) and compares every
function's answer with its reference for ``ROUNDS`` random seals, and calls each while finalisers replace the
columns' items whenever the garbage collector runs. A memory error aborts the process, a different answer exits 1; it
prints how many calls the C side answered itself.
"""

from __future__ import annotations

import gc
import random
import sys
from collections.abc import Callable
from typing import Any

from auditlog.indexer import integrity
from auditlog.indexer.integrity import (
    UNKNOWN_HASH,
    Columns,
    Layout,
    seal_layout_py,
    stream_ranges_py,
    window_layout_py,
)
from tests.support.sanitized import load


class Named(str):
    """A str subclass: equal to its text, but not what the C side reads exactly."""

    __slots__ = ()


def _fresh(text: str) -> str:
    """An equal str that is another object (what two decodes of one name give)."""
    return "".join(list(text))


def _name(rnd: random.Random, names: list[str], odd: float) -> Any:
    name = rnd.choice(names)
    if rnd.random() < odd:
        return rnd.choice([Named(name), 7, b"x"])
    return _fresh(name) if rnd.random() < 0.2 else name


def _number(rnd: random.Random, odd: float) -> Any:
    if rnd.random() < odd:  # beyond what the C side reads: a bool, beyond +-(2**62 - 1), not an int
        return rnd.choice([True, 2**63, -(2**70), 2**62, -(2**62), 7.0])
    return rnd.choice([rnd.randrange(12), rnd.randrange(12), rnd.randrange(-3, 300), 2**62 - 1, -(2**62 - 1),
                       2**62 - 1 - rnd.randrange(3), 2**40 + rnd.randrange(3)])


def _hash(rnd: random.Random, odd: float) -> Any:
    if rnd.random() < odd:
        return rnd.choice([rnd.randbytes(31), bytearray(32), rnd.randbytes(33), None])
    return UNKNOWN_HASH if rnd.random() < 0.1 else rnd.randbytes(32)


TIMES = ["2026-12-02T10:00:00Z", "2026-12-01T23:59:59.5Z", "2026-12-02T10:00:00+01:00", "", "ä", "😀", "\x00"]


def _time(rnd: random.Random, odd: float) -> Any:
    if rnd.random() < odd:
        return rnd.choice([None, 5, b"2026"])
    if rnd.random() < 0.2:
        return "".join(chr(rnd.choice([0x41, 0xE4, 0x3B1, 0x1F600, rnd.randrange(0x20, 0x7F)]))
                       for _ in range(rnd.randrange(4)))
    return _fresh(rnd.choice(TIMES)) if rnd.random() < 0.2 else rnd.choice(TIMES)


def random_parts(rnd: random.Random, odd: float = 0.002) -> list[Columns]:
    """Column parts as a seal loads them (0-4 parts of 0-40 events); ``odd``: the share of items Python must read."""
    indices = ["i1", "i2", "i3", "ä-i"][:rnd.randrange(1, 5)]
    streams = ["a", "b", "ä", "😀", "a-2"][:rnd.randrange(1, 6)]
    parts, serial = [], 0
    for _ in range(rnd.randrange(5)):
        size = rnd.randrange(41)
        numbered = rnd.random()
        part = Columns([_name(rnd, indices, odd) for _ in range(size)], [f"e{serial + i}" for i in range(size)],
                       [_hash(rnd, odd) for _ in range(size)], [_time(rnd, odd) for _ in range(size)],
                       [_name(rnd, streams, odd) if rnd.random() < numbered else None for _ in range(size)],
                       [_number(rnd, odd) if rnd.random() < numbered + 0.1 else None for _ in range(size)])
        serial += size
        parts.append(part)
    return parts


def random_window(rnd: random.Random, count: int) -> Any:
    """A window over ``count`` events: all of them, a range, or positions (ascending, shuffled, or out of range)."""
    kind = rnd.randrange(6)
    if kind == 0 or not count:
        return None
    if kind == 1:
        lo = rnd.randrange(count)
        return range(lo, rnd.randrange(lo, count + 1))
    at = rnd.sample(range(count), rnd.randrange(count + 1))
    if kind == 2:
        at.sort()
    elif kind == 3 and at:
        at[rnd.randrange(len(at))] = rnd.choice([-1, count, 2**64, True])
    elif kind == 4:  # a position twice: the second time a repeat of its own number
        at += at[:rnd.randrange(3)]
    return at


def outcome(call: Callable[[], Any]) -> Any:
    """A call's answer, or its exception's type (both paths must raise the same)."""
    try:
        return call()
    except (ValueError, IndexError, TypeError) as exc:
        return type(exc)


def native_window(module: Any, events: Columns, at: Any) -> Any:
    """``module.window`` called as :func:`indexer.integrity.window_layout` calls it."""
    if at is None:
        return module.window(None, 0, len(events.hashes), events.streams, events.seqs, events.hashes, events.times)
    if type(at) is range:
        return module.window(None, at.start, at.stop, events.streams, events.seqs, events.hashes, events.times)
    return module.window(at, 0, 0, events.streams, events.seqs, events.hashes, events.times)


def compare(module: Any, rnd: random.Random, parts: list[Columns]) -> tuple[bool, int]:
    """Whether every function of ``module`` answers as its reference on ``parts``; how many it answered itself."""
    events, answered, same = Columns.joined(parts), 0, True
    at = random_window(rnd, len(events.ids))
    laid = outcome(lambda: native_window(module, events, at))
    if laid is not None and not isinstance(laid, type):
        answered += 1
        same &= Layout(*laid) == outcome(lambda: window_layout_py(events, at))
    found = module.ranges(events.streams, events.seqs)
    if found is not None:
        answered += 1
        same &= dict(found) == outcome(lambda: stream_ranges_py(events.streams, events.seqs))
    step = rnd.randrange(1, 12)
    sealed = module.seal(parts, step)
    if sealed is not None:
        answered += 1
        expected = outcome(lambda: seal_layout_py(events, step))
        same &= not isinstance(expected, type) and [(i, c, Layout(*layout)) for i, c, layout in sealed[0]] == \
            expected.windows and dict(sealed[1]) == expected.ranges
    return same, answered


def _copy(item: Any) -> Any:
    """An equal item that is another object (the old one is freed once nothing else holds it)."""
    if isinstance(item, str):
        return "".join(["", *item]) if len(item) > 1 else item
    if isinstance(item, bytes):
        return bytes(bytearray(item))
    if type(item) is int:
        return int(str(item))
    return item


class _Replacer:
    """Cyclic garbage whose finaliser swaps every item of the columns for a copy and leaves another such object.

    While armed, every collection (at every allocation of a tracked container, with the thresholds at 1)
    frees the items a call was given (all but one-character strings and small ints, which CPython shares),
    and every other time moves each list's item storage too: a call that still used an item or a list's
    storage it had only borrowed reads freed memory.
    """

    armed = False

    def __init__(self, columns: list[list[Any]], moves: int = 0) -> None:
        self.columns = columns
        self.moves = moves
        self.me = self

    def __del__(self) -> None:
        if not _Replacer.armed:
            return
        for column in self.columns:
            if self.moves % 2:  # the same items (copies) in new storage: grown past its room, then cut back
                size = len(column)
                column.extend(map(_copy, column * 4))
                column[:] = column[size:size * 2]
            else:
                column[:] = list(map(_copy, column))
        _Replacer(self.columns, self.moves + 1)


def replaced_while_read(module: Any, rnd: random.Random) -> int:
    """Call every function while every collection replaces the inputs' items (answers unchecked: no memory error).

    Returns:
        How many calls answered (not None).
    """
    answered = 0
    for call in ("window", "ranges", "seal"):
        parts = random_parts(rnd, odd=0)
        parts = [Columns(*[list(map(_copy, column)) for column in part]) for part in parts]  # nothing shared
        events = Columns.joined(parts)
        columns = [column for part in {id(p): p for p in [*parts, events]}.values() for column in part]
        threshold = gc.get_threshold()
        _Replacer.armed = True
        _Replacer(columns)
        gc.set_threshold(1, 1, 1)
        try:
            if call == "window":
                got = native_window(module, events, None)
            elif call == "ranges":
                got = module.ranges(events.streams, events.seqs)
            else:
                got = module.seal(parts, rnd.randrange(1, 5))
            answered += got is not None
        finally:
            _Replacer.armed = False
            gc.set_threshold(*threshold)
            gc.collect()
    return answered


def main(argv: list[str]) -> int:
    """Compare ``ROUNDS`` random seals; print how many calls the C side answered."""
    module = load(argv[1], "_layout")
    integrity._layout = module  # the wrappers too run on this build
    rnd, answered = random.Random(int(argv[3])), 0
    for round_ in range(int(argv[2])):
        same, got = compare(module, rnd, random_parts(rnd, odd=0.02 if round_ % 4 == 0 else 0.0))
        if not same:
            return 1
        answered += got
        if round_ % 20 == 0:
            answered += replaced_while_read(module, rnd)
    print(answered)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
