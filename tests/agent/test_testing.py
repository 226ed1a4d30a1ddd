"""capture_audit_events(): events recorded as dicts without a file, the previous emitter restored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from auditlog.agent.contract import ContractError, validate
from auditlog.agent.emitter import clear_audit_context, configure, current_emitter, get_audit_logger, shutdown
from auditlog.agent.redact import REDACTED
from auditlog.agent.testing import capture_audit_events

TENANT = {"tenant": "org-4711", "tier": "enterprise", "source": "slots"}

# A module-level logger, made before any configure(), as apps do.
audit = get_audit_logger(**TENANT)


@pytest.fixture(autouse=True)
def _clean_emitter() -> Iterator[None]:
    """Every test starts without a configured emitter or bound audit context."""
    shutdown()
    clear_audit_context()
    yield
    shutdown()
    clear_audit_context()


def test_capture_records_contract_events_without_configure() -> None:
    """Without any configure(), the captured events are complete contract events."""
    with capture_audit_events() as events:
        audit.update("moved", changes={"start": ("10:00", "11:00")})
    assert ([], {"start": {"old": "10:00", "new": "11:00"}}) == (validate(events[0]), events[0]["audit"]["changes"])


def test_capture_keeps_the_call_order() -> None:
    """Events are recorded in call order, one dict per call."""
    with capture_audit_events() as events:
        audit.create("a")
        audit.delete("b")
    assert [("create", "a"), ("delete", "b")] == [(e["event"]["action"], e["message"]) for e in events]


def test_capture_writes_nothing_to_the_configured_file(tmp_path: Path) -> None:
    """Inside the block the configured file stays empty; after it the same emitter writes again."""
    log = tmp_path / "audit.jsonl"
    emitter = configure(path=log, strict=True)
    with capture_audit_events() as events:
        audit.update("captured")
    audit.update("written")
    written = [orjson.loads(line)["message"] for line in log.read_bytes().splitlines()]
    assert (["captured"], ["written"], emitter) == ([e["message"] for e in events], written, current_emitter())


def test_capture_uses_the_configured_redaction(tmp_path: Path) -> None:
    """The configured emitter's redaction settings apply to captured events."""
    configure(path=tmp_path / "audit.jsonl", strict=True, redact_keys=["pin"], redact_mode="exact")
    with capture_audit_events() as events:
        audit.update("pin changed", changes={"pin": ("1234", "5678"), "password": ("a", "b")})
    assert ({"old": REDACTED, "new": REDACTED}, {"old": "a", "new": "b"}) == (
        events[0]["audit"]["changes"]["pin"], events[0]["audit"]["changes"]["password"])


def test_capture_is_strict_by_default() -> None:
    """A bad audit call inside the block raises ContractError and records nothing."""
    with capture_audit_events() as events, pytest.raises(ContractError):
        audit.update("bad", outcome="maybe")
    assert [] == events


def test_capture_restores_an_unconfigured_emitter() -> None:
    """After the block, a process that had no emitter has none again."""
    with capture_audit_events():
        pass
    assert None is current_emitter()
