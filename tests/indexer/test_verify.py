"""Verify's report: the summary line and one line per problem; giving a verification up."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from auditlog.core.background import Cancelled
from auditlog.indexer import verify as verify_module
from auditlog.indexer.tiers import TierTable
from auditlog.indexer.verify import Problem, Report, split_hole


def test_summary_counts_problems_and_says_keys_are_not_pinned() -> None:
    """The summary line starts with the verdict and warns when no key was pinned."""
    report = Report(problems=[Problem("deleted", "audit-basic-x", "gone", "e1")], events=3, proven=2)
    assert report.summary().startswith("1 problem: 3 events, 2 proven")
    assert "keys not pinned" in report.summary()


def test_problem_line_names_kind_index_and_event() -> None:
    """One problem is one line: kind, index, event id, detail."""
    assert Problem("altered", "audit-basic-x", "hash differs", "e9").line() == "altered audit-basic-x e9: hash differs"


@pytest.mark.parametrize(("stored", "runs"), [
    ([], [(5, 10, False)]),
    ([5, 6, 7, 8, 9, 10], [(5, 10, True)]),
    ([1, 6, 7, 9, 20], [(5, 5, False), (6, 7, True), (8, 8, False), (9, 9, True), (10, 10, False)]),
    ([4, 5], [(5, 5, True), (6, 10, False)]),
    ([10, 11], [(5, 9, False), (10, 10, True)]),
], ids=["none-stored", "all-stored", "alternating", "stored-run-starts-before", "stored-run-ends-after"])
def test_a_hole_is_cut_into_stored_and_never_seen_runs(stored: list[int], runs: list[tuple[int, int, bool]]) -> None:
    """A stream's hole 5..10 splits into runs of numbers stored in no digest and numbers never seen, in order."""
    assert split_hole(5, 10, stored) == runs


def test_a_cancelled_verification_stops_at_its_next_page(monkeypatch: pytest.MonkeyPatch) -> None:
    """A verification whose flag is set while it reads digests raises Cancelled without asking for another page."""
    tiers = TierTable(prefix="t-cancel")
    flag = threading.Event()
    pages: list[int] = []

    def endless_scan(*_args: Any, **_kwargs: Any) -> Iterator[tuple[list[Any], list[Any]]]:
        while True:
            pages.append(len(pages))
            flag.set()  # the user moved on while this page was read
            yield [], []

    monkeypatch.setattr(verify_module, "existing_indices",
                        lambda _client, pattern: {tiers.digest_index_for_day("enterprise", date(2026, 1, 1))}
                        if pattern == tiers.digest_pattern else set())
    monkeypatch.setattr(verify_module, "scan", endless_scan)
    with pytest.raises(Cancelled):
        verify_module.verify(None, tiers, cancel=flag)  # type: ignore[arg-type]
    assert pages == [0]


def _template_mapping(**features: bool) -> dict[str, Any]:
    from auditlog.indexer.templates import MappingFeatures, render_component_templates

    rendered = render_component_templates(TierTable(), features=MappingFeatures(**features))[1].body
    mapping: dict[str, Any] = rendered["template"]["mappings"]
    return mapping


@pytest.mark.parametrize("features", [{}, {"match_only_text": True, "wildcard": True}, {"wildcard": True}])
def test_a_mapping_made_by_our_template_is_no_problem(features: dict[str, bool]) -> None:
    """Our template's mapping on any cluster, and with a parameter Elasticsearch leaves out at its default."""
    mapping = _template_mapping(**features)
    del mapping["properties"]["audit"]["properties"]["changes"]["depth_limit"]  # 20: GET _mapping omits it
    assert verify_module.mapping_problem(mapping, {"index": {"query": {}}}) is None


def test_a_template_field_no_search_selects_by_may_be_missing_from_an_older_index() -> None:
    """A field outside the searched ones (one a later template may have added) missing from an index is no problem;
    a searched one missing is."""
    mapping = _template_mapping()
    del mapping["properties"]["host"]  # the shipper fields came to the template later than the contract's
    searched = _template_mapping()
    del searched["properties"]["organization"]["properties"]["id"]
    why = verify_module.mapping_problem(searched) or ""
    assert (verify_module.mapping_problem(mapping), "organization.id unmapped" in why) == (None, True)


def test_a_mapping_that_lets_searches_read_other_than_the_stored_events_is_a_problem() -> None:
    """A runtime field, a lowered ignore_above, an unmapped field, an analyzer param, a default analyzer: each named."""
    mapping = _template_mapping()
    mapping["runtime"] = {"organization.id": {"type": "long"}}
    mapping["properties"]["organization"]["properties"]["id"]["ignore_above"] = 1
    del mapping["properties"]["event"]["properties"]["action"]
    mapping["properties"]["message"]["search_analyzer"] = "stop"
    why = verify_module.mapping_problem(mapping, {"index": {"analysis": {"analyzer": {"default_search": {}}}}}) or ""
    assert all(part in why for part in ("runtime fields organization.id", "organization.id {", "event.action unmapped",
                                        "message {", "and 1 more"))
