"""Inclusive ``[first, last]`` runs of ascending numbers: sequence numbers in digests, code points in a regex class.

Pure and at the bottom layer, so the indexer's integrity code and the terminal's escaping share one copy.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Sequence


def ascending_ranges(ns: Sequence[int]) -> list[list[int]]:
    """Return strictly ascending numbers as inclusive ``[first, last]`` runs.

    The breaks are found by C-level maps, not a Python loop per number (digests hold thousands of numbers).

    Args:
        ns: strictly ascending integers.

    Returns:
        The runs, in order (``[]`` for none).
    """
    if not ns:
        return []
    if ns[-1] - ns[0] == len(ns) - 1:  # strictly ascending numbers spanning just their count are one run
        return [[ns[0], ns[-1]]]
    # a range starts wherever a number is not its predecessor + 1
    starts = [0, *itertools.compress(range(1, len(ns)), map(operator.ne, ns[1:], map((1).__add__, ns))), len(ns)]
    return [[ns[a], ns[b - 1]] for a, b in itertools.pairwise(starts)]
