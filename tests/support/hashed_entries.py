"""Hash random bulk entries with a build of the C entry hashes (run by tests/agent/test_entryhash.py under ASan).

``python -m tests.support.hashed_entries SO_PATH BATCHES SEED`` loads the extension at ``SO_PATH`` (a build
with sanitizers, beside the installed one) and hashes ``BATCHES`` batches of entries of random lengths (a
newline at the start, the end or nowhere; empty documents; a refused entry mid-batch), comparing each answer
with the reference; a memory error aborts the process, a different answer exits 1. It prints the entries hashed.
"""

from __future__ import annotations

import random
import sys

from auditlog.agent.digest import entry_hashes_py
from tests.support.sanitized import load


def entry(rnd: random.Random) -> bytes:
    """One entry: random bytes around a newline at a random place (or none, one time in fifty)."""
    size = rnd.choice((0, 1, 2, rnd.randrange(4096)))
    body = bytearray(rnd.randbytes(size).replace(b"\n", b" "))
    if rnd.random() > 0.02:
        body.insert(rnd.randrange(len(body) + 1), 10)
    return bytes(body)


def main(argv: list[str]) -> int:
    """Hash the batches; print how many entries were hashed."""
    documents = load(argv[1], "_entryhash").documents
    rnd, hashed = random.Random(int(argv[3])), 0
    for _ in range(int(argv[2])):
        batch = [entry(rnd) for _ in range(rnd.randrange(64))]
        try:
            expected = entry_hashes_py(batch)
        except ValueError:
            try:
                documents(batch)
            except ValueError:
                continue
            return 1
        if documents(batch) != expected:
            return 1
        hashed += len(batch)
    print(hashed)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
