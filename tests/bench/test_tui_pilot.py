"""The TUI latency harness waits for the listing the box asked for, "no tenant" included."""

from __future__ import annotations

from auditlog.indexer.query import Filter
from bench.tui_pilot import tenants_of


def test_an_empty_tenant_box_waits_for_the_unfiltered_listing() -> None:
    """Entering no tenant is awaited as a filter without tenants (it waited for (None,) and timed out)."""
    assert tenants_of(None) == Filter().tenants == ()


def test_a_tenant_is_awaited_as_the_only_tenant() -> None:
    """Entering one tenant is awaited as a filter holding just that tenant."""
    assert tenants_of("org-1") == ("org-1",)
