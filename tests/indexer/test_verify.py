"""Verify's report: the summary line and one line per problem."""

from __future__ import annotations

from auditlog.indexer.verify import Problem, Report


def test_summary_counts_problems_and_says_keys_are_not_pinned() -> None:
    """The summary line starts with the verdict and warns when no key was pinned."""
    report = Report(problems=[Problem("deleted", "audit-basic-x", "gone", "e1")], events=3, proven=2)
    assert report.summary().startswith("1 problem: 3 events, 2 proven")
    assert "keys not pinned" in report.summary()


def test_problem_line_names_kind_index_and_event() -> None:
    """One problem is one line: kind, index, event id, detail."""
    assert Problem("altered", "audit-basic-x", "hash differs", "e9").line() == "altered audit-basic-x e9: hash differs"
