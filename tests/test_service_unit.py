"""deploy/auditlog-agent.service: a valid, hardened systemd unit that runs the real agent command."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from auditlog.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "deploy" / "auditlog-agent.service"


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    """Parse a unit file into section -> key -> values (keys may repeat, as systemd allows)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"key outside a section: {line}"
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


@pytest.fixture(scope="module")
def unit() -> dict[str, dict[str, list[str]]]:
    """The parsed unit."""
    return parse_unit(UNIT.read_text())


def _analyze(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run systemd-analyze on a copy of the unit whose ExecStart points at this checkout's auditlog."""
    tool = shutil.which("systemd-analyze")
    assert tool, "systemd-analyze is needed to verify the unit (apt-get install systemd)"
    auditlog = Path(shutil.which("auditlog") or ROOT / ".venv" / "bin" / "auditlog")
    copy = tmp_path / UNIT.name
    copy.write_text(UNIT.read_text().replace("/opt/auditlog/bin/auditlog", str(auditlog)))
    return subprocess.run([tool, *args, str(copy)], capture_output=True, text=True, timeout=60)


def test_runs_the_agent_as_non_root_with_restart_policy(unit: dict[str, dict[str, list[str]]]) -> None:
    """User is a dedicated non-root account, restarts are automatic, bad config (exit 2) is not retried."""
    service = unit["Service"]
    assert service["User"] == ["auditlog"]
    assert service["Restart"] == ["always"]
    assert service["RestartPreventExitStatus"] == ["2"]
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]


def test_a_failure_that_lasts_never_stops_the_restarts(unit: dict[str, dict[str, list[str]]]) -> None:
    """No start limit: after a full disk at start clears, the next restart ships again without an operator."""
    assert (unit["Unit"].get("StartLimitIntervalSec"), unit["Service"]["RestartSec"]) == (["0"], ["5"])


def test_execstart_parses_with_the_real_cli(unit: dict[str, dict[str, list[str]]]) -> None:
    """ExecStart is `auditlog agent --config ...` and the real parser accepts its arguments."""
    argv = shlex.split(unit["Service"]["ExecStart"][0])
    assert argv[0].endswith("/auditlog")
    args = build_parser().parse_args(argv[1:])
    assert args.command == "agent"
    assert str(args.config) == "/etc/auditlog/agent.toml"


def test_state_directory_matches_sample_config(unit: dict[str, dict[str, list[str]]]) -> None:
    """systemd's StateDirectory is the sample agent.toml's state.dir and the --state-dir flag."""
    state_dir = f"/var/lib/{unit['Service']['StateDirectory'][0]}"
    sample = tomllib.loads((ROOT / "deploy" / "agent.toml").read_text())
    assert state_dir == sample["state"]["dir"]
    assert f"--state-dir {state_dir}" in unit["Service"]["ExecStart"][0]


def test_stop_timeout_exceeds_agent_shutdown_timeout(unit: dict[str, dict[str, list[str]]]) -> None:
    """systemd waits longer than the agent's own shutdown.timeout before SIGKILL."""
    sample = tomllib.loads((ROOT / "deploy" / "agent.toml").read_text())
    assert int(unit["Service"]["TimeoutStopSec"][0]) > sample["shutdown"]["timeout"]


def test_hardening_options_present(unit: dict[str, dict[str, list[str]]]) -> None:
    """The sandboxing options that matter for a log shipper are on."""
    service = unit["Service"]
    expected = {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
                "RestrictSUIDSGID": "yes", "CapabilityBoundingSet": ""}
    assert expected == {key: service[key][-1] for key in expected}


def test_systemd_verify_reports_nothing(tmp_path: Path) -> None:
    """`systemd-analyze verify` accepts the unit without a single warning (e.g. no misspelt key)."""
    result = _analyze(tmp_path, "verify")
    assert (result.returncode, result.stderr.strip()) == (0, "")


def test_systemd_security_exposure_is_low(tmp_path: Path) -> None:
    """`systemd-analyze security` rates the unit's exposure at most 2.0 (0 = locked down, 10 = none)."""
    result = _analyze(tmp_path, "security", "--offline=yes")
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert match, result.stdout[-500:] + result.stderr
    assert float(match.group(1)) <= 2.0


def _operations_systemd_steps() -> str:
    text = (ROOT / "docs" / "operations.md").read_text()
    section = text.split("### systemd\n", 1)[1]
    return section.split("```\n", 2)[1]


def test_operations_guide_installs_from_the_wheel_alone() -> None:
    """The guide's systemd steps take agent.toml and the unit from the installed command, not a checkout."""
    steps = _operations_systemd_steps()
    assert ("deploy/" not in steps, "auditlog agent --print-config" in steps, "auditlog agent --print-unit" in steps) \
        == (True, True, True)


def test_operations_guide_auditlog_steps_parse() -> None:
    """Every `auditlog ...` step of the guide's systemd block is accepted by the real parser."""
    from tests.test_compose import auditlog_calls

    steps = _operations_systemd_steps().replace("/opt/auditlog/bin/auditlog", "auditlog")
    calls = auditlog_calls(steps)
    failures = []
    for argv in calls:
        try:
            build_parser().parse_args(argv[1:])
        except SystemExit as exc:
            failures.append((argv, exc.code))
    assert (3, []) == (len(calls), failures)  # --print-config, --print-unit, agent check
