"""The root command: --version, unknown arguments, and commands whose optional extra is not installed."""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
from pathlib import Path

import pytest

from auditlog import __version__
from auditlog.cli import main

UNREACHABLE = "http://127.0.0.1:9"  # discard port: a parsed command fails at connecting


def _run_without(module: str, *argv: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a child interpreter where importing ``module`` fails as if it were not installed."""
    code = (f"import sys; sys.modules[{module!r}] = None\n"
            "from auditlog.cli import main\n"
            f"sys.exit(main({list(argv)!r}))\n")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_version_prints_the_distribution_version(capsys: pytest.CaptureFixture[str]) -> None:
    """auditlog --version prints the installed distribution's version."""
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert (0, f"auditlog {__version__}") == (exc.value.code, capsys.readouterr().out.strip())


def test_unknown_argument_still_exits_2() -> None:
    """An argument no command knows is a usage error (exit 2)."""
    with pytest.raises(SystemExit) as exc:
        main(["show", "some-id", "--no-such-flag"])
    assert 2 == exc.value.code


def test_unknown_argument_of_a_subcommand_shows_that_subcommands_usage(capsys: pytest.CaptureFixture[str]) -> None:
    """`agent check --path GLOB` exits 2 with `agent check`'s usage and error line, not the top-level usage."""
    with pytest.raises(SystemExit) as exc:
        main(["agent", "check", "--path", "/tmp/*.log"])
    err = capsys.readouterr().err.splitlines()
    expected = (2, True, "auditlog agent check: error: unrecognized arguments: --path /tmp/*.log")
    assert expected == (exc.value.code, err[0].startswith("usage: auditlog agent check "), err[-1])


def test_setup_without_elasticsearch_names_the_agent_extra() -> None:
    """Without the Elasticsearch client, setup exits 1 with one line naming the [agent] extra."""
    done = _run_without("elasticsearch", "setup", "--kibana", "http://kibana:5601", "--api-keys")
    assert (1, ["auditlog setup: not installed (no module 'elasticsearch'): pip install 'auditlog-pipeline[agent]'"]) \
        == (done.returncode, done.stderr.splitlines())


def test_tui_without_textual_names_the_tui_extra() -> None:
    """Without Textual, tui exits 1 with one line naming the [tui] extra."""
    done = _run_without("textual", "tui")
    assert (1, ["auditlog tui: not installed (no module 'textual'): pip install 'auditlog-pipeline[tui]'"]) \
        == (done.returncode, done.stderr.splitlines())


def test_help_lists_commands_whose_extra_is_missing() -> None:
    """auditlog --help still lists setup when its extra is missing, with what to install."""
    done = _run_without("elasticsearch", "--help")
    assert (0, True) == (done.returncode, "setup     (needs: pip install 'auditlog-pipeline[agent]')" in done.stdout)


def _leaf_parsers() -> dict[str, argparse.ArgumentParser]:
    """Every command and subcommand of the real CLI by its full name ('agent status', 'dlq list', ...)."""
    from auditlog.cli import build_parser

    found: dict[str, argparse.ArgumentParser] = {}

    def walk(prefix: str, parser: argparse.ArgumentParser) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    full = f"{prefix} {name}".strip()
                    found[full] = child
                    walk(full, child)

    walk("", build_parser())
    return found


def test_every_list_and_status_command_has_json() -> None:
    """Each `... list` and `... status` command takes --json."""
    missing = sorted(name for name, parser in _leaf_parsers().items()
                     if name.split()[-1] in ("list", "status")
                     and not any("--json" in a.option_strings for a in parser._actions))
    names = sorted(n for n in _leaf_parsers() if n.split()[-1] in ("list", "status"))
    assert ([], ["agent status", "dlq list", "es status", "keys list", "retention status"]) == (missing, names)


def test_a_command_imports_only_its_own_area() -> None:
    """Running `auditlog agent --help` imports the agent's command module and no other area's."""
    code = ("import sys\nfrom auditlog.cli import main\n"
            "try:\n    main(['agent', '--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith('auditlog.commands.')))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert ["auditlog.commands.agent"] == ast.literal_eval(done.stdout.splitlines()[-1])


def test_a_command_parses_alike_alone_and_among_all() -> None:
    """Each command's parser built for it alone takes the same options as in the full parser."""
    from auditlog.cli import build_parser
    from auditlog.extras import AREAS

    def options(root: argparse.ArgumentParser, command: str) -> list[list[str]]:
        sub = next(a for a in root._actions if isinstance(a, argparse._SubParsersAction))
        return sorted(a.option_strings for a in sub.choices[command]._actions)

    full = build_parser()
    for command in (c for area in AREAS for c in area.commands):
        assert (command, options(full, command)) == (command, options(build_parser(command), command))


def test_a_password_that_starts_with_a_dash_is_the_password() -> None:
    """`--password -r_9l...` (a generated password may start with '-') parses as that password, not as an option."""
    from auditlog.cli import build_parser, glue_dash_values

    parser = build_parser("setup")
    args = parser.parse_args(glue_dash_values(parser, ["setup", "--user", "elastic", "--password", "-r_9l-x",
                                                       "--prefix", "p"]))
    assert ("-r_9l-x", "p") == (args.es_password, args.prefix)


def test_an_option_after_a_one_value_option_is_still_a_missing_value(capsys: pytest.CaptureFixture[str]) -> None:
    """`--password --user x` still exits 2 saying --password has no value: a known option is never taken as one."""
    with pytest.raises(SystemExit) as exc:
        main(["setup", "--password", "--user", "x"])
    assert (2, True) == (exc.value.code, "argument --password: expected one argument" in capsys.readouterr().err)


def test_arguments_after_double_dash_are_left_alone() -> None:
    """Nothing after `--` is joined: it ends the options."""
    from auditlog.cli import build_parser, glue_dash_values

    argv = ["keys", "revoke", "--", "--password", "-x"]
    assert argv == glue_dash_values(build_parser("keys"), argv)


@pytest.mark.parametrize("argv", [["show", "-a1b2c3", "--es", UNREACHABLE], ["show", "--es", UNREACHABLE, "-a1b2c3"],
                                  ["keys", "tenant", "-org1", "--es", UNREACHABLE]])
def test_an_operand_that_starts_with_a_dash_is_an_operand(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """An event id or tenant starting with '-' parses as the operand: the command gets as far as connecting (exit 1)."""
    code = main(argv)
    assert (1, True) == (code, "cannot reach Elasticsearch" in capsys.readouterr().err)


def test_an_unknown_short_flag_is_still_refused_by_its_name(capsys: pytest.CaptureFixture[str]) -> None:
    """`show x -z` exits 2 with 'unrecognized arguments: -z' (no '--' of the rewrite in the message)."""
    with pytest.raises(SystemExit) as exc:
        main(["show", "x", "-z"])
    assert (2, True) == (exc.value.code, "unrecognized arguments: -z\n" in capsys.readouterr().err)


def test_a_short_option_with_its_value_attached_stays_an_option() -> None:
    """`-oout.xlsx` is export's -o with its value, not an operand."""
    from auditlog.cli import build_parser, glue_dash_values

    argv = ["export", "-oout.xlsx", "--since", "-1h"]
    assert ["export", "-oout.xlsx", "--since=-1h"] == glue_dash_values(build_parser("export"), argv)


def test_an_error_line_shows_an_escape_sequence_instead_of_sending_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A command's one-line error holding ESC (here from a path) reaches stderr as the text '\\x1b', not the byte."""
    code = main(["agent", "status", "--state-dir", str(tmp_path / "x\x1b]0;owned\x07")])
    err = capsys.readouterr().err
    assert (1, False, True) == (code, "\x1b" in err, "x\\x1b]0;owned\\x07" in err)


def test_the_streams_are_given_back_after_a_command() -> None:
    """main() restores sys.stdout and sys.stderr, also when the command fails."""
    before = (sys.stdout, sys.stderr)
    main(["agent", "status", "--state-dir", "/nonexistent-auditlog-state"])
    assert before == (sys.stdout, sys.stderr)


@pytest.mark.parametrize("argv", [
    ["show", "x", "--prefix", "a\udcff"],
    ["show", "x", "--api-key", "schlüssel"],
    ["show", "x", "--es", "http://127.0.0.1:9", "--ca-certs", "/etc/ssl/ca.crt"],
])
def test_a_hostile_option_value_is_refused_with_one_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """A value no request can carry exits 2 with one error line (after --api-key's usual warning), never a traceback."""
    code = main(argv)
    err = [line for line in capsys.readouterr().err.strip().splitlines() if not line.startswith("auditlog: warning:")]
    assert (2, 1, False) == (code, len(err), "Traceback" in "".join(err))


def test_a_path_the_system_refuses_is_one_line_not_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    """A state directory whose name is too long exits 1 with one short line saying so."""
    code = main(["agent", "status", "--state-dir", "x" * 5000])
    err = capsys.readouterr().err.strip().splitlines()
    assert (1, 1, True, True) == (code, len(err), "File name too long" in err[0], len(err[0]) <= 300)


def test_a_malformed_url_in_the_environment_is_one_line(monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """AUDITLOG_ES_URL=http://[::1 (an unclosed bracket) exits 2 with one line naming the es url."""
    monkeypatch.setenv("AUDITLOG_ES_URL", "http://[::1")
    code = main(["show", "x1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert (2, 1, True) == (code, len(err), "es url needs a host" in err[0])


@pytest.mark.parametrize("argv", [["show", "x1", "--user", "u", "--password-file", "/dev/zero"],
                                  ["verify", "--pubkey", "/dev/zero"], ["agent", "check", "--config", "/dev/zero"]])
def test_an_endless_file_is_refused_in_one_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """/dev/zero named as a secret, key or config file exits 2 saying it is too large (it used to read for ever)."""
    code = main([*argv, "--es", UNREACHABLE])
    captured = capsys.readouterr()
    assert (2, True) == (code, "/dev/zero is larger than" in captured.err + captured.out)


def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path: Path) -> None:
    """`auditlog dlq list | head -1`: the closed pipe ends the command with exit 1 and nothing on stderr."""
    from auditlog.agent.deadletter import DeadLetter, DeadLetterWriter

    writer = DeadLetterWriter(tmp_path)
    for i in range(5000):  # far more than a pipe buffer holds
        writer.write(DeadLetter("invalid JSON", b"{" * 100, i, "/f", "id1"))
    writer.close()
    child = subprocess.Popen([sys.executable, "-m", "auditlog.cli", "dlq", "list", "--state-dir", str(tmp_path)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert child.stdout is not None and child.stderr is not None
    first = child.stdout.readline()
    child.stdout.close()
    err = child.stderr.read()
    assert (True, 1, b"") == (first.startswith(b"{"), child.wait(60), err)


def test_dlq_list_escapes_what_a_terminal_would_obey_in_file_names_and_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """C1 controls and a bidi override in a dead letter's file name and line reach the terminal as JSON escapes."""
    from auditlog.agent.deadletter import DeadLetter, DeadLetterWriter

    writer = DeadLetterWriter(tmp_path)
    writer.write(DeadLetter("invalid JSON", "x\u009b2J\u202e".encode(), 0, "/logs/a\u009d0;t\u009c.jsonl", "id1"))
    writer.close()
    assert main(["dlq", "list", "--state-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert ([c for c in out if 0x80 <= ord(c) < 0xA0 or c == "\u202e"], out.count("\\u009")) == ([], 3)
