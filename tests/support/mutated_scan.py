"""Feed mutated emitter lines to a build of the C line check (run by tests/agent/test_linescan.py under ASan).

``python -m tests.support.mutated_scan SO_PATH COUNT SEED`` loads the extension at ``SO_PATH`` (a build
with sanitizers, beside the installed one) and scans ``COUNT`` lines made from emitter lines by random
cuts, insertions of JSON's and UTF-8's edge bytes, overwritten bytes and splices; a memory error aborts
the process (the sanitizers' ``halt_on_error``). Two of the three scanners hold a route memo of the seeds'
tiers and days. It prints how many lines the check answered, how many of those the memo routed, and how
many lines runs of them (:meth:`Scanner.run`, with questions that answer either way or raise) took, and how
many lines the harvester's split (``split_lines``) made of chunks cut from them, equal to its Python reference.
"""

from __future__ import annotations

import contextlib
import random
import sys
import time
from typing import Any

import orjson

from auditlog.agent.harvester import Line, split_lines_py
from auditlog.agent.linescan import table
from auditlog.agent.redact import Redactor
from tests.fuzz.targets import seeds
from tests.support.sanitized import load

#: bytes that sit at the edges of what the check reads: structure, escapes, broken and edge UTF-8,
#: numbers at their limits, the redactor's needles
EDGES = [b'"', b"\\", b"{", b"}", b"[", b"]", b",", b":", b"\xc0", b"\xed\xa0\x80", b"\xf4\x90", b"\xe2\x82",
         b"\x00", b"null", b"1e999", b"-", b"9" * 25, b"eyJ", b"@", b"=", b"\xff", b"\x7f", b"  "]


def mutated(rnd: random.Random, base: list[bytes]) -> bytes:
    """One line: an emitter line with one to four random edits."""
    line = bytearray(rnd.choice(base))
    for _ in range(rnd.randint(1, 4)):
        op, at = rnd.random(), rnd.randrange(len(line) + 1)
        if op < 0.3:
            del line[at:at + rnd.randint(1, 8)]
        elif op < 0.6:
            line[at:at] = rnd.choice(EDGES)
        elif op < 0.8 and line:
            line[at % len(line)] = rnd.randrange(256)
        elif op < 0.9:
            del line[at:]
        else:
            other = rnd.choice(base)
            start = rnd.randrange(len(other))
            line[at:at] = other[start:start + rnd.randint(1, 80)]
    return bytes(line)


#: a window holding every second, never stale
WHOLE = ("0001-01-01T00:00:00", "9999-12-31T23:59:59", float("inf"))


class Bounds:
    """The router's time bounds in this harness: the wall clock."""

    clock = staticmethod(time.time)


class Router:
    """The memo's owner in this harness: a router whose window stays :data:`WHOLE`."""

    bounds_window = WHOLE
    bounds = Bounds()


def main(argv: list[str]) -> int:
    """Scan the mutated lines; print how many were answered."""
    module = load(argv[1], "_linescan")
    redactor = Redactor()
    names = {"old": 1}  # a cleared name, so that lines with changes are read to the end
    scanners = [module.Scanner(table(), redactor.clean_names, redactor.replacement.encode()),
                module.Scanner(table(), names.keys(), b"x"), module.Scanner(table(), None, b"")]
    base = seeds(60)
    router = Router()
    for scanner in scanners[1:]:  # a route memo holding the seeds' tiers and days (more keys than it keeps)
        for line in base:
            with contextlib.suppress(orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
                ev = orjson.loads(line)
                names.update(dict.fromkeys(ev["audit"].get("changes") or {}, 1))  # so the cleared names' table fills
                scanner.remember_route(ev["audit"]["tier"], ev["@timestamp"], b"prefix", "index", router, WHOLE)
    scans = [scanner.scan for scanner in scanners]
    rnd = random.Random(int(argv[3]))
    answered = routed = taken = split = 0
    items: list[tuple[int, bytes]] = []
    for n in range(int(argv[2])):
        line = mutated(rnd, base)
        for scan in scans:
            found = scan(line)
            answered += found is not None
            routed += found is not None and found[9] is not None
        # the same lines, with unchanged seeds among them, in runs (Scanner.run) from every position
        items += [(n, line), (n, rnd.choice(base))]
        if len(items) >= 64:
            for scanner in scanners[1:]:
                start = 0
                while start < len(items):
                    lists: list[list[Any]] = [[], [], []]
                    at, added, size, _end = scanner.run(items, start, "k", "p", 1 << 40, rnd.randint(1, 64),
                                                         rnd.randint(1, 1 << 16), b',"i":1', b"}\n", _question,
                                                         _question, *lists)
                    # the run's account of itself: what it appended, in three lists of one length
                    assert at >= start and len(lists[0]) == len(lists[1]) == len(lists[2]) == added == at - start
                    assert size == sum(len(entry) for entry in lists[0])
                    taken += added
                    start = at + 1
            items = []
        if n % 8 == 0:  # the harvester's split of a chunk, cut anywhere, against its Python reference
            chunk, held = line[rnd.randrange(len(line) + 1):] + b"\n" + rnd.choice(base), rnd.choice(base)[:20]
            ours: list[Line] = []
            ref: list[Line] = []
            held = held.replace(b"\n", b"")
            assert module.split_lines(ours, chunk, held, n) == split_lines_py(ref, chunk, held, n) and ours == ref
            split += len(ours)
    print(f"answered {answered} routed {routed} taken {taken} split {split}")
    return 0


def _question(text: str) -> bool:
    """The redactor's and is_ip's place in a run: answers that differ from text to text (and sometimes raise)."""
    if text.endswith("!"):
        raise ValueError(text)
    return len(text) % 3 != 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
