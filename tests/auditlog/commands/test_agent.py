"""CLI of the shipper: argument errors exit 2, status and dlq list read the state directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditlog.agent.deadletter import DeadLetter, DeadLetterWriter
from auditlog.agent.identity import FileIdentity
from auditlog.agent.registry import FileState, Registry
from auditlog.cli import main


def test_agent_without_paths_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Starting the agent with nothing to ship is a usage error naming inputs.paths."""
    assert main(["agent", "--state-dir", str(tmp_path)]) == 2
    assert "inputs.paths" in capsys.readouterr().err


def test_bad_config_key_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown key in the config file exits 2 and names the key."""
    cfg = tmp_path / "a.toml"
    cfg.write_text("[inputs]\npath = []\n")
    assert main(["agent", "--config", str(cfg)]) == 2
    assert "inputs.path: unknown key" in capsys.readouterr().err


def test_malformed_flag_exits_2() -> None:
    """argparse rejects a non-numeric port with exit status 2."""
    with pytest.raises(SystemExit) as exc:
        main(["agent", "--metrics-port", "x"])
    assert exc.value.code == 2


def test_status_json_reports_lag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """agent status --json lists path, identity, offset, size and lag of each file."""
    log = tmp_path / "a.log"
    log.write_bytes(b"x" * 100)
    st = log.stat()
    reg = Registry(tmp_path / "state")
    ident = FileIdentity(st.st_dev, st.st_ino, 100, "fp")
    reg.add(FileState(ident, str(log), 40, 100))
    reg.close()
    assert main(["agent", "status", "--state-dir", str(tmp_path / "state"), "--json"]) == 0
    assert [{"path": str(log), "identity": ident.key, "offset": 40, "size": 100, "lag_bytes": 60,
             "state": "active"}] == json.loads(capsys.readouterr().out)


def test_status_without_registry_exits_1(tmp_path: Path) -> None:
    """Status on an empty directory is a command error, not a crash."""
    assert main(["agent", "status", "--state-dir", str(tmp_path)]) == 1


def test_dlq_list_prints_json_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """dlq list prints one JSON object per dead letter with reason, file, offset, time and line."""
    w = DeadLetterWriter(tmp_path)
    w.write(DeadLetter("invalid JSON: x", b"{oops", 12, "/f.log", "id"))
    w.close()
    assert main(["dlq", "list", "--state-dir", str(tmp_path)]) == 0
    rec = json.loads(capsys.readouterr().out.strip())
    assert (rec["reason"], rec["file"], rec["offset"], rec["line"]) == ("invalid JSON: x", "/f.log", 12, "{oops")
    assert "time" in rec


def test_unusable_state_dir_exits_1_with_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A state directory that cannot be created is a one-line command error, not a traceback."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    code = main(["agent", "--path", str(tmp_path / "*.log"), "--state-dir", str(blocker / "state"),
                 "--metrics-port", "0", "--es", "http://127.0.0.1:1"])
    assert (code, "cannot use state directory" in capsys.readouterr().err) == (1, True)


@pytest.mark.parametrize(("flag", "sample"), [("--print-config", "agent.toml"),
                                              ("--print-unit", "auditlog-agent.service")])
def test_print_sample_writes_the_deploy_file(flag: str, sample: str, capsys: pytest.CaptureFixture[str]) -> None:
    """--print-config / --print-unit write deploy/agent.toml / deploy/auditlog-agent.service unchanged."""
    deploy = Path(__file__).resolve().parents[3] / "deploy"
    assert (0, (deploy / sample).read_text()) == (main(["agent", flag]), capsys.readouterr().out)


def test_print_config_and_unit_together_exit_2() -> None:
    """The two print flags exclude each other."""
    with pytest.raises(SystemExit) as exc:
        main(["agent", "--print-config", "--print-unit"])
    assert 2 == exc.value.code
