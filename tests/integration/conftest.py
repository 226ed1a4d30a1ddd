"""Fixtures shared by several integration test modules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.node import SecureNodeInfo
from tests.support.tenant import TenantSetup, tenant_namespace


@pytest.fixture(scope="module")
def tenant_setup(secure_node: SecureNodeInfo) -> Iterator[TenantSetup]:
    """The TUI's 600 events on the secure node and a tenant key for org-1001 made by `auditlog keys tenant --json`."""
    with tenant_namespace(secure_node) as setup:
        yield setup
