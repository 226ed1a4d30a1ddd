"""The tenant box's text as the filter's tenants (the TUI reads it; the TUI benchmark waits for it)."""

from __future__ import annotations

from auditlog.indexer.query import Filter, tenants_in, values_problem
from auditlog.indexer.query.filter import MAX_VALUES


def test_an_empty_tenant_box_is_no_tenant_filter() -> None:
    """An emptied box means no tenants, as a fresh filter has (the TUI benchmark waited for (None,) and timed out)."""
    assert tenants_in("") == tenants_in(" , ") == Filter().tenants == ()


def test_one_tenant_is_the_only_tenant() -> None:
    """One id typed is a filter holding just that tenant."""
    assert tenants_in("org-1") == ("org-1",)


def test_tenants_split_on_commas_and_spaces_each_once() -> None:
    """Several ids, separated by commas or spaces, keep their order and appear once."""
    assert tenants_in("org-2, org-1 org-2") == ("org-2", "org-1")


def test_a_dimension_past_the_terms_limit_is_named_and_one_at_it_is_searched() -> None:
    """More values than Elasticsearch's index.max_terms_count in one dimension is a one-line problem naming it; as
    many as the limit is none."""
    at = Filter(workers=tuple(f"w{i}" for i in range(MAX_VALUES)))
    past = Filter(tenants=tuple(f"t{i}" for i in range(MAX_VALUES + 1)))
    problem = values_problem(past)
    assert (values_problem(at), problem is not None and problem.startswith("too many tenants: at most 65,536")) == (
        None, True)
