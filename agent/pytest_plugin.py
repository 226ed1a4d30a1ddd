"""The pytest plugin of ``auditlog-pipeline`` (registered as a ``pytest11`` entry point): ``audit_events``.

::

    def test_moving_is_audited(audit_events):
        move_appointment(4711, "11:00")
        assert ["update"] == [e["event"]["action"] for e in audit_events]
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from auditlog.agent.testing import capture_audit_events


@pytest.fixture
def audit_events() -> Iterator[list[dict[str, Any]]]:
    """Every audit event the test emits, as the dicts the emitter would have written (no file)."""
    with capture_audit_events() as events:
        yield events
