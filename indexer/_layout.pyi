"""Types of the C extension indexer/_layout.c (the digest seal's bookkeeping; see indexer/integrity.py).

Every function takes any sequence and answers None for what it does not read exactly (a column that is not a
list, a bound or step that is not an int included), which the caller's Python path then does. Only a wrong
number of arguments raises (TypeError), or MemoryError.
"""

from collections.abc import Sequence
from typing import Any

# (runs, by_id, joined, first, last); joined is None only when hashes is None
_Laid = tuple[list[tuple[str, list[int]]], list[int], Any, str | None, str | None]

def window(at: Sequence[int] | None, lo: int, hi: int, streams: Sequence[Any], seqs: Sequence[Any],
           hashes: Sequence[Any] | None, times: Sequence[Any] | None, /) -> _Laid | None: ...
def ranges(streams: Sequence[Any], seqs: Sequence[Any], /) -> list[tuple[str, list[list[int]]]] | None: ...
def seal(parts: Sequence[Sequence[Sequence[Any]]], step: int, /) -> tuple[
    list[tuple[str, int, _Laid]], list[tuple[str, list[list[int]]]]] | None: ...
