"""Inclusive runs of ascending numbers, shared by digests and the terminal's escaping."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from auditlog.core.ranges import ascending_ranges


def test_runs_break_where_a_number_is_skipped() -> None:
    """1-3, 5 and 7-8 are three runs; nothing is no run; one number is a run of one."""
    assert [[1, 3], [5, 5], [7, 8]] == ascending_ranges([1, 2, 3, 5, 7, 8])
    assert [] == ascending_ranges([])
    assert [[4, 4]] == ascending_ranges([4])


@given(st.sets(st.integers(-50, 50)))
def test_runs_cover_exactly_the_numbers(numbers: set[int]) -> None:
    """The runs, expanded, are the numbers again, and two runs never touch."""
    runs = ascending_ranges(sorted(numbers))
    assert sorted(numbers) == [n for a, b in runs for n in range(a, b + 1)]
    assert all(b + 1 < c for (_, b), (c, _) in itertools.pairwise(runs))
