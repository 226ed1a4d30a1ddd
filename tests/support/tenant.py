"""A seeded namespace on the secure node with a tenant key for one tenant, and the oracle of who owns what.

Shared by the tenant-key tests (``tests/integration/test_tenant_keys.py``) and the attacks on the key
(``tests/integration/test_tenant_boundary.py``); the module-scoped ``tenant_setup`` fixture lives in
``tests/integration/conftest.py``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from unittest import mock

from elasticsearch import ApiError, Elasticsearch

from auditlog.cli import main
from auditlog.indexer.tiers import TierTable
from tests.support.node import SecureNodeInfo
from tests.support.seed import SeedSummary, seeded_namespace
from tests.tui.support import seed_events as tui_events

#: The tenant the key is made for (an enterprise tenant of the TUI's seed).
TENANT = "org-1001"


def status_of(call: Callable[[], object]) -> int:
    """Return the status Elasticsearch answers ``call`` with (200 when it succeeds)."""
    try:
        call()
    except ApiError as exc:
        return exc.meta.status
    return 200


@dataclass(frozen=True)
class TenantSetup:
    """A seeded namespace on the secure node, a tenant key for ``TENANT`` and what the oracle says."""

    node: SecureNodeInfo
    tiers: TierTable
    admin: Elasticsearch
    key: dict[str, Any]
    summary: SeedSummary
    tier_of: dict[str, str]
    ids_of: dict[str, set[str]]

    def client(self) -> Elasticsearch:
        """A client authenticating with the tenant key."""
        return Elasticsearch(self.node.url, api_key=self.key["encoded"], ca_certs=self.node.ca_certs,
                             request_timeout=30, max_retries=0)

    def cli(self, *args: str, key: str | None = None, user: tuple[str, str] | None = None) -> tuple[int, str, str]:
        """Run `auditlog ARGS` against the node (admin credentials, ``key``, or ``user``'s name and password); return
        status, stdout, stderr."""
        # secrets through the environment, as the docs recommend (a flag would add a `ps` warning)
        username, password = user or (self.node.username, self.node.password)
        secrets = {"AUDITLOG_ES_API_KEY": key} if key else {"AUDITLOG_ES_USERNAME": username,
                                                            "AUDITLOG_ES_PASSWORD": password}
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), mock.patch.dict(os.environ, secrets):
            code = main([*args, "--es", self.node.url, "--ca-certs", self.node.ca_certs, "--prefix", self.tiers.prefix])
        return code, out.getvalue(), err.getvalue()

    def other_enterprise(self) -> str:
        """An enterprise tenant other than ``TENANT``."""
        return sorted(t for t, tier in self.tier_of.items() if tier == "enterprise" and t != TENANT)[0]

    def of_tier(self, tier: str) -> str:
        """Some tenant on ``tier``."""
        return sorted(t for t, found in self.tier_of.items() if found == tier)[0]


@contextlib.contextmanager
def tenant_namespace(node: SecureNodeInfo) -> Iterator[TenantSetup]:
    """The TUI's 600 events on the secure node and a tenant key for ``TENANT`` made by `auditlog keys tenant --json`.

    Args:
        node: the secure node (document-level security needs its trial licence).

    Yields:
        The setup; the namespace is deleted and its keys revoked afterwards.
    """
    admin = Elasticsearch(node.url, basic_auth=(node.username, node.password), ca_certs=node.ca_certs,
                          request_timeout=60)
    events = tui_events()
    tier_of = {e["organization"]["id"]: e["audit"]["tier"] for e in events}
    ids_of: dict[str, set[str]] = {}
    for event in events:
        ids_of.setdefault(event["organization"]["id"], set()).add(event["event"]["id"])
    try:
        with seeded_namespace(admin, events, label="tenant") as (tiers, summary):
            setup = TenantSetup(node, tiers, admin, {}, summary, tier_of, ids_of)
            code, out, err = setup.cli("keys", "tenant", TENANT, "--expires", "1d", "--json")
            assert code == 0, err
            setup.key.update(json.loads(out))
            try:
                yield setup
            finally:
                admin.options(ignore_status=404).security.invalidate_api_key(name=f"{tiers.prefix}-*")
    finally:
        admin.close()
