"""Random bulk entries through a build of agent/_entries.c (run by tests/agent/test_entries.py under ASan).

``python -m tests.support.random_entries SO_PATH BATCHES SEED`` loads the extension at ``SO_PATH`` (a build
with sanitizers, beside the installed one) and gives it ``BATCHES`` batches of entries of random lengths (a
the shipper's layout with random ids and documents, edge pieces inserted, one entry in five batches broken), comparing
each answer of ``hashes`` and ``sent`` with its reference, and each recorded batch's ids looked up in small random
tables by ``seen`` as by its reference; a memory error aborts the process, a different answer exits 1. It
prints the entries hashed, recorded and looked up.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable, Sequence
from typing import Any

from auditlog.agent.digest import entry_hashes_py
from auditlog.agent.idrecord import seen_py, sent_py
from tests.support.sanitized import load

#: pieces that sit at the edges of what the two functions look for
EDGES = [b"\n", b'"_id":', b"}}\n", b"}}", b'"_id"', b"}"]


def entry(rnd: random.Random) -> bytes:
    """One entry as the shipper lays it out, with random bytes as its id and document and edge pieces inserted."""
    key = rnd.randbytes(rnd.choice((0, 1, rnd.randrange(64)))).replace(b"}}\n", b"")
    body = bytearray(rnd.randbytes(rnd.choice((0, 1, 2, rnd.randrange(4096)))))
    for _ in range(rnd.randrange(3)):
        at = rnd.randrange(len(body) + 1)
        body[at:at] = rnd.choice(EDGES)
    return b'{"create":{"_index":"x","_id":' + key + b"}}\n" + bytes(body) + rnd.choice((b"\n", b"", b"}"))


def mangled(rnd: random.Random, good: bytes) -> bytes:
    """An entry cut short or with its newline or ``_id`` removed (the references may refuse it)."""
    if rnd.random() < 0.5:
        return good[:rnd.randrange(len(good) + 1)]
    return good.replace(rnd.choice(EDGES), b"", 1)


def same(native: Callable[..., Any], reference: Callable[..., Any], *args: Sequence[bytes]) -> bool | None:
    """Whether both give the same answer (None: both refused with ValueError)."""
    try:
        expected = reference(*args)
    except ValueError:
        try:
            native(*args)
        except ValueError:
            return None
        return False
    return bool(native(*args) == expected)


def same_lookup(module: Any, rnd: random.Random, recorded: tuple[bytes, bytes, bytes]) -> bool:
    """Whether ``seen`` and its reference give the same answer and leave the same tables for one recorded batch
    (random small tables, some of the ids seen before with the same or another check)."""
    ids, crcs, lens = recorded
    count = len(crcs) // 4
    slots = rnd.randrange(2, 40)
    limit = rnd.randrange(1, slots)
    current = bytearray(8 * slots) if rnd.random() < 0.6 else bytearray(rnd.randbytes(8 * slots))  # full or not
    previous = None if rnd.random() < 0.3 else bytearray(rnd.randbytes(8 * rnd.randrange(1, 40)))
    args = (rnd.randrange(count + 1), rnd.randrange(limit + 1), limit, rnd.getrandbits(64))
    mine, theirs = bytearray(current), bytearray(current)
    try:
        expected = seen_py(theirs, previous, ids, crcs, lens, *args)
    except ValueError:
        try:
            module.seen(mine, previous, ids, crcs, lens, *args)
        except ValueError:
            return True
        return False
    return bool(module.seen(mine, previous, ids, crcs, lens, *args) == expected and mine == theirs)


def main(argv: list[str]) -> int:
    """Answer the batches; print how many entries were hashed, recorded and looked up."""
    module = load(argv[1], "_entries")
    rnd, hashed, recorded, looked = random.Random(int(argv[3])), 0, 0, 0
    for _ in range(int(argv[2])):
        batch = [entry(rnd) for _ in range(rnd.randrange(64))]
        if batch and rnd.random() < 0.2:  # one entry in the batch broken
            at = rnd.randrange(len(batch))
            batch[at] = mangled(rnd, batch[at])
        lines = [rnd.randbytes(rnd.randrange(2048)) for _ in batch]
        answers = (same(module.hashes, entry_hashes_py, batch), same(module.sent, sent_py, batch, lines))
        if False in answers:
            return 1
        hashed += len(batch) if answers[0] else 0
        recorded += len(batch) if answers[1] else 0
        if answers[1]:
            if not same_lookup(module, rnd, sent_py(batch, lines)):
                return 1
            looked += len(batch)
    print(hashed, recorded, looked)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
