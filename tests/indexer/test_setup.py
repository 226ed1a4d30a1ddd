"""Setup's security branch against a recording fake cluster: exact role requests and a degraded security store.

The API keys themselves are proven on the real secure node (tests/integration/test_security.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from auditlog.indexer.security import role_descriptors
from auditlog.indexer.setup import CREATED, SetupError, run_setup
from auditlog.indexer.tiers import TierTable
from tests.indexer.recording_es import not_found, one_node_reads, recording_client


def _secure_cluster(store_ok: bool = True) -> Any:
    """Answer like a cluster with security on and no ILM; the security index works only when ``store_ok``."""

    def respond(method: str, path: str, body: Any) -> tuple[int, Any]:
        if path == "/_security/_authenticate":
            return 200, {"username": "elastic", "roles": ["superuser"]}
        if (read := one_node_reads(method, path)) is not None:
            return read
        if path in ("/_nodes/_local/plugins", "/_nodes/plugins"):
            return 200, {"nodes": {"n1": {"modules": [{"name": "x-pack-security"}], "plugins": []}}}
        if path.startswith(("/_security/role/", "/_security/api_key")) and method in ("PUT", "POST"):
            if not store_ok:
                return 400, {"error": {"type": "illegal_argument_exception",
                                       "reason": "Unknown filter type [pattern_capture] for [email]"}, "status": 400}
            if path.startswith("/_security/api_key"):
                return 200, {"id": f"id-{body['name']}", "name": body["name"], "api_key": "s",
                             "encoded": f"enc-{body['name']}"}
            return 200, {"role": {"created": True}}
        if method == "PUT":
            return 200, {"acknowledged": True}
        return not_found(path)

    return respond


def test_roles_are_put_with_their_descriptors() -> None:
    """With security on, setup PUTs _security/role/<prefix>-writer and -reader with the descriptors as bodies."""
    client, log = recording_client(_secure_cluster())
    tiers = TierTable(prefix="s-audit")
    report = run_setup(client, tiers)
    puts = {r.path: r.body for r in log if r.method == "PUT" and r.path.startswith("/_security/role/")}
    expected = ({f"/_security/role/{name}": d for name, d in role_descriptors(tiers).items()}, [CREATED, CREATED])
    assert expected == (puts, [c.action for c in report.changes if c.kind == "role"])


def test_unusable_security_index_becomes_a_note() -> None:
    """When roles cannot be stored, setup still installs templates and says in a note to use --print-roles."""
    client, _ = recording_client(_secure_cluster(store_ok=False))
    report = run_setup(client, TierTable())
    notes = [n for n in report.notes if "--print-roles" in n]
    expected = (1, 8, True)  # 2 components, 3 event and 3 digest index templates
    templates = [c for c in report.changes if "template" in c.kind]
    assert expected == (len(notes), len(templates), "pattern_capture" in notes[0])


def test_api_keys_on_unusable_security_index_fail() -> None:
    """Asking for API keys where the security index cannot store them is a SetupError naming the reason."""
    client, _ = recording_client(_secure_cluster(store_ok=False))
    with pytest.raises(SetupError, match=r"pattern_capture.*API keys cannot be created"):
        run_setup(client, TierTable(), api_keys=True)
