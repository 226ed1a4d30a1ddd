"""The ``audit_events`` fixture the distribution's pytest plugin provides."""

from __future__ import annotations

from typing import Any

from auditlog.agent.emitter import get_audit_logger

audit = get_audit_logger(tenant="org-4711", tier="enterprise", source="login")


def test_audit_events_fixture_records_the_tests_events(audit_events: list[dict[str, Any]]) -> None:
    """An event written through a module-level logger appears in the fixture's list."""
    audit.auth("signed in", outcome="success")
    assert [("auth", "success")] == [(e["event"]["action"], e["event"]["outcome"]) for e in audit_events]
