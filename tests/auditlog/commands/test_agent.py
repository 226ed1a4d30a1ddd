"""CLI of the shipper: argument errors exit 2, status and dlq list read the state directory."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from auditlog.agent import config
from auditlog.agent.deadletter import DeadLetter, DeadLetterWriter
from auditlog.agent.identity import FileIdentity
from auditlog.agent.registry import FileState, Registry
from auditlog.cli import build_parser, main
from auditlog.commands import agent as agent_command


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


def test_a_state_dir_others_may_write_exits_1_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`auditlog agent` on a group-writable state directory stops with one line (exit 1) and writes nothing there."""
    state = tmp_path / "state"
    state.mkdir()
    state.chmod(0o775)
    code = main(["agent", "--path", str(tmp_path / "*.log"), "--state-dir", str(state),
                 "--metrics-port", "0", "--es", "http://127.0.0.1:1"])
    err = capsys.readouterr().err
    assert (1, True, 1, []) == (code, "other users may write it (mode 775)" in err, len(err.strip().splitlines()),
                                list(state.iterdir()))


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


def _registry_with_one_file(tmp_path: Path, name: str = "a.log") -> Path:
    """A state directory whose registry knows one file (``name``), 40 of 100 bytes shipped."""
    log = tmp_path / name
    log.write_bytes(b"x" * 100)
    st = log.stat()
    reg = Registry(tmp_path / "state")
    reg.add(FileState(FileIdentity(st.st_dev, st.st_ino, 100, "fp"), str(log), 40, 100))
    reg.close()
    return tmp_path / "state"


def _dead_letter_dir(tmp_path: Path) -> Path:
    """A state directory with one dead letter."""
    state = tmp_path / "state"
    w = DeadLetterWriter(state)
    w.write(DeadLetter("invalid JSON: x", b"{oops", 12, "/f.log", "id"))
    w.close()
    return state


def test_status_takes_the_state_dir_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """agent status without --state-dir uses AUDITLOG_AGENT_STATE_DIR, as its help says."""
    monkeypatch.setenv("AUDITLOG_AGENT_STATE_DIR", str(_registry_with_one_file(tmp_path)))
    assert (0, [60]) == (main(["agent", "status", "--json"]),
                         [r["lag_bytes"] for r in json.loads(capsys.readouterr().out)])


def test_status_takes_the_state_dir_from_the_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """agent status --config FILE reads state.dir from the file."""
    state = _registry_with_one_file(tmp_path)
    cfg = tmp_path / "agent.toml"
    cfg.write_text(f'[state]\ndir = "{state}"\n')
    assert (0, [40]) == (main(["agent", "status", "--config", str(cfg), "--json"]),
                         [r["offset"] for r in json.loads(capsys.readouterr().out)])


def test_status_without_any_state_dir_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --state-dir, AUDITLOG_AGENT_STATE_DIR or --config, status is a usage error naming all three."""
    monkeypatch.delenv("AUDITLOG_AGENT_STATE_DIR", raising=False)
    assert 2 == main(["agent", "status"])
    assert "--state-dir: required without --config or AUDITLOG_AGENT_STATE_DIR" in capsys.readouterr().err


def test_agent_takes_the_state_dir_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The agent accepts AUDITLOG_AGENT_STATE_DIR instead of --state-dir (then it asks for paths, not state)."""
    monkeypatch.setenv("AUDITLOG_AGENT_STATE_DIR", str(tmp_path))
    assert 2 == main(["agent"])
    err = capsys.readouterr().err
    assert ("inputs.paths" in err, "--state-dir" in err) == (True, False)


def test_dlq_list_takes_the_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """dlq list --config FILE reads the dead letters of the file's state.dir."""
    state = _dead_letter_dir(tmp_path)
    cfg = tmp_path / "agent.toml"
    cfg.write_text(f'[state]\ndir = "{state}"\n')
    assert (0, "invalid JSON: x") == (main(["dlq", "list", "--config", str(cfg)]),
                                      json.loads(capsys.readouterr().out)["reason"])


def test_dlq_list_says_a_warning_of_the_config_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """dlq list --config FILE with a password in a file others may read warns about it once, not once per load."""
    state = _dead_letter_dir(tmp_path)
    cfg = tmp_path / "agent.toml"
    cfg.write_text(f'[state]\ndir = "{state}"\n[elasticsearch]\nusername = "u"\npassword = "pw"\n')
    cfg.chmod(0o644)
    assert (0, 1) == (main(["dlq", "list", "--config", str(cfg)]),
                      capsys.readouterr().err.count("holds elasticsearch.password"))


def test_dlq_list_json_prints_one_array(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """dlq list --json prints the dead letters as one JSON array."""
    state = _dead_letter_dir(tmp_path)
    assert (0, [12]) == (main(["dlq", "list", "--state-dir", str(state), "--json"]),
                         [r["offset"] for r in json.loads(capsys.readouterr().out)])


def test_dlq_list_on_a_folder_that_is_no_state_dir_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """dlq list on a folder without registry or dead letters exits 1 with one line."""
    code = main(["dlq", "list", "--state-dir", str(tmp_path)])
    err = capsys.readouterr().err.splitlines()
    assert (1, 1, True) == (code, len(err), "is not an agent state directory" in err[0])


@pytest.mark.parametrize("argv", [["dlq", "list"], ["dlq", "replay", "--es", "http://127.0.0.1:9", "--timeout", "1"]],
                         ids=["list", "replay"])
def test_dlq_on_a_dead_letter_file_that_is_a_link_is_one_line_naming_it(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """A link in place of the dead-letter file (say to /etc/passwd): dlq list and replay exit 1 with one line;
    nothing of the target is listed or replayed."""
    target = tmp_path / "passwd"
    target.write_text("root:x:0:0:root:/root:/bin/bash\n")
    (tmp_path / "deadletter.jsonl").symlink_to(target)
    code = main([*argv, "--state-dir", str(tmp_path)])
    out, err = capsys.readouterr()
    assert (code, out, len(err.splitlines()), "deadletter.jsonl is a symbolic link" in err) == (1, "", 1, True)


def test_dlq_list_of_a_dead_letter_file_that_is_a_fifo_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """A FIFO in place of the dead-letter file exits 1 at once with one line saying what it is."""
    os.mkfifo(tmp_path / "deadletter.jsonl")
    code = main(["dlq", "list", "--state-dir", str(tmp_path)])
    err = capsys.readouterr().err.splitlines()
    assert (code, len(err), "deadletter.jsonl is a FIFO, not a regular file" in err[0]) == (1, 1, True)


def test_dlq_list_of_a_state_dir_without_dead_letters_is_empty(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A state directory with a registry and no dead letters lists nothing and exits 0."""
    state = _registry_with_one_file(tmp_path)
    assert (0, "") == (main(["dlq", "list", "--state-dir", str(state)]), capsys.readouterr().out)


def test_status_shows_a_hostile_file_name_as_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file name with an escape sequence and a line break is one row with both shown as escapes."""
    state = _registry_with_one_file(tmp_path, "a\x1b]0;owned\x07\nfake row.log")
    assert main(["agent", "status", "--state-dir", str(state)]) == 0
    out = capsys.readouterr().out
    assert (2, False, True) == (len(out.splitlines()), "\x1b" in out, "a\\x1b]0;owned\\x07\\x0afake row.log" in out)


@pytest.mark.parametrize("timeout", ["inf", "nan", "0", "86401"])
def test_dlq_replay_refuses_a_timeout_it_would_wait_for_ever(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], timeout: str,
) -> None:
    """--timeout must be a finite number of seconds up to a day: inf retried for ever, nan is no number."""
    DeadLetterWriter(tmp_path).close()
    code = main(["dlq", "replay", "--state-dir", str(tmp_path), "--es", "http://127.0.0.1:9", "--timeout", timeout])
    assert (code, "--timeout: must be > 0 and <= 86400 seconds" in capsys.readouterr().err) == (2, True)


def test_agent_check_reports_a_malformed_api_key_as_its_failing_config_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """An api_key Elasticsearch could never have issued is the check's own `FAIL config` line (exit 2), on stdout."""
    config = tmp_path / "agent.toml"
    config.write_text(f'[inputs]\npaths = ["{tmp_path}/*.jsonl"]\n[elasticsearch]\napi_key = "not base64 \u00e4"\n')
    code = main(["agent", "check", "--config", str(config)])
    out = capsys.readouterr().out
    assert (code, out.startswith("FAIL  config"), "api key must be printable ASCII" in out) == (2, True, True)


def test_agent_check_takes_the_config_password_for_a_user_name_from_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """AUDITLOG_ES_USERNAME beside a config holding the password uses that password: the config line passes."""
    config = tmp_path / "agent.toml"
    config.write_text('[elasticsearch]\nurl = "http://127.0.0.1:9"\nusername = "u"\npassword = "from-file"\n')
    config.chmod(0o600)
    monkeypatch.setenv("AUDITLOG_ES_USERNAME", "u")
    monkeypatch.delenv("AUDITLOG_ES_PASSWORD", raising=False)
    main(["agent", "check", "--config", str(config)])
    assert capsys.readouterr().out.startswith("OK    config")


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_password_typed_at_start_is_kept_for_a_reload(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The password asked for --user at start stays in the arguments, so a reload (no terminal asked) keeps it."""
    monkeypatch.setattr("sys.stdin", _Tty())
    monkeypatch.setattr("getpass.getpass", lambda prompt: "typed")
    for var in ("AUDITLOG_ES_PASSWORD", "AUDITLOG_ES_PASSWORD_FILE", "AUDITLOG_ES_API_KEY", "AUDITLOG_ES_API_KEY_FILE"):
        monkeypatch.delenv(var, raising=False)
    args = build_parser("agent").parse_args(["agent", "--state-dir", str(tmp_path), "--user", "u"])
    started = agent_command._load(args)
    reloaded = config.load(None, args)
    assert ("typed", "typed") == (started["elasticsearch.password"], reloaded["elasticsearch.password"])


def test_agent_key_with_an_empty_state_dir_exits_2_writing_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """agent key --state-dir '' is a usage error naming the flag, and writes no key into the working directory."""
    monkeypatch.chdir(tmp_path)
    code = main(["agent", "key", "--public", "--state-dir", ""])
    assert (2, True, []) == (code, capsys.readouterr().err.startswith("auditlog agent: --state-dir: "),
                             list(tmp_path.iterdir()))


def test_agent_key_on_a_folder_without_a_key_says_it_made_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """agent key --public on a state directory that holds no key yet (a first start to come, or a mistyped path)
    prints the new key's public half and says on stderr that it was made there, not found."""
    code = main(["agent", "key", "--public", "--state-dir", str(tmp_path / "typo")])
    out, err = capsys.readouterr()
    assert (0, True, True) == (code, out.startswith("-----BEGIN PUBLIC KEY-----"),
                               f"{tmp_path / 'typo'} held no signing key: made a new one" in err)


def test_agent_key_on_a_folder_with_a_key_prints_only_its_public_half(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """agent key --public a second time on the same state directory prints the same key and nothing on stderr."""
    main(["agent", "key", "--public", "--state-dir", str(tmp_path)])
    first = capsys.readouterr().out
    code = main(["agent", "key", "--public", "--state-dir", str(tmp_path)])
    assert (0, (first, "")) == (code, capsys.readouterr())


def test_agent_check_prints_a_config_name_with_a_line_feed_on_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """A config path holding a line feed is escaped in the check's FAIL line, which stays one line (exit 2)."""
    monkeypatch.chdir(tmp_path)
    code = main(["agent", "check", "--config", "a\nb"])
    assert (2, ["FAIL  config      cannot read config a\\x0ab: No such file or directory"]) == (
        code, capsys.readouterr().out.splitlines())


def _long_dead_letter_dir(tmp_path: Path, line_bytes: int) -> Path:
    """A state directory with one dead letter of ``line_bytes`` bytes, written by an agent whose
    inputs.max_line_bytes keeps it."""
    from auditlog.agent.deadletter import record_limit

    state = tmp_path / "state"
    w = DeadLetterWriter(state, limit=record_limit(2 * line_bytes))
    w.write(DeadLetter("mapping conflict", b"x" * line_bytes, 12, "/f.log", "id"))
    w.close()
    return state


@pytest.mark.parametrize("argv", [["dlq", "list"], ["dlq", "replay", "--es", "http://127.0.0.1:9", "--timeout", "0.5"]],
                         ids=["list", "replay"])
def test_dlq_without_the_config_reads_records_as_long_as_the_agent_wrote(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """Without --config, dlq list and replay read an 8 MiB record an agent with a longer inputs.max_line_bytes
    wrote (over the default's 7 MiB bound) as the record, not as an over-long one."""
    state = _long_dead_letter_dir(tmp_path, 8 << 20)
    main([*argv, "--state-dir", str(state)])
    out = capsys.readouterr().out
    assert [12] == [json.loads(row).get("offset") for row in out.splitlines()]  # an over-long one has none


def test_dlq_list_with_an_unsound_recorded_bound_warns_once_and_reads_with_the_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """A deadletter.limit that holds no record limit is one warning line; the records are read with the default
    bound (the 8 MiB one is over-long, the bound not raised) and the command exits 0."""
    state = _long_dead_letter_dir(tmp_path, 8 << 20)
    (state / "deadletter.limit").write_text('{"record_limit": 99999999999999}')
    code = main(["dlq", "list", "--state-dir", str(state)])
    out, err = capsys.readouterr()
    rec = json.loads(out)
    assert (0, 1, True, "over-long dead-letter record", 7 << 20) == (
        code, len(err.splitlines()), "deadletter.limit holds no record limit" in err, rec["reason"], rec["limit"])
