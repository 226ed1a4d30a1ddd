"""Every option of every command takes hostile values with a clear outcome: a result, one line, never a traceback.

Each command runs in-process against an address where nothing answers (so a parsed command ends at
connecting), from a temporary working directory with its own home, once per option and value: empty,
a lone dash, 5,000 characters, an escape sequence, non-numbers and overflowing numbers, an impossible
date, ``=`` forms, a glob, malformed URLs, bytes that are not UTF-8, a folder where a file belongs,
a file where a folder belongs, files of binary or UTF-16 content, and /dev/zero. Commands that start a server, a
daemon or a UI (``es start``, ``es stop``, ``demo run``, ``agent`` itself, ``tui``) are left out: their
options are parsed by the same code and checked elsewhere.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditlog.cli import build_parser
from tests.support.cli_run import run_for_findings

UNREACHABLE = "http://127.0.0.1:9"  # discard port: nothing answers
LEFT_OUT = {("es", "start"), ("es", "stop"), ("demo", "run"), ("agent",), ("tui",)}
VALUES = ["", "-", "x" * 5000, "\x1b[2J\x1b]0;owned\x07", "nan", "-1", "0", "1e309", os.fsdecode(b"\xff\xfe"),
          "2026-13-45", "9999-12-31T00:00:00Z", "=", "a=b=c", "enterprise=99999999999999999999", "*", "http://[::1",
          "https://x:99999", "/dev/zero"]


def _commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...],
                                                                                                  argparse.ArgumentParser]]:
    """Every leaf command (``('keys', 'revoke')``) with its parser."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for action in subs:
        for name, sub in action.choices.items():
            yield from _commands(sub, (*prefix, name))
    if not subs:
        yield prefix, parser


COMMANDS = {" ".join(name): parser for name, parser in _commands(build_parser()) if name not in LEFT_OUT}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_option_takes_hostile_values_without_a_traceback(
        command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each option of the command, given each hostile value, ends in an exit status, never an exception."""
    monkeypatch.chdir(tmp_path)
    for var in [v for v in os.environ if v.startswith("AUDITLOG_")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("AUDITLOG_ES_URL", UNREACHABLE)
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "binary").write_bytes(bytes(range(256)) * 16)
    (tmp_path / "utf16").write_bytes("[inputs]\n".encode("utf-16"))
    parser = COMMANDS[command]
    operands = ["x1"] if any(not a.option_strings for a in parser._actions) else []
    state = ["--state-dir", str(tmp_path / "state")] if any("--state-dir" in a.option_strings
                                                            for a in parser._actions) else []
    found = []
    for action in parser._actions:
        if not action.option_strings or isinstance(action, argparse._HelpAction):
            continue
        flag = action.option_strings[-1]
        values = [None] if action.nargs == 0 else [*VALUES, *(str(tmp_path / name) for name in
                                                               ("", "a-file", "binary", "utf16"))]
        for value in values:
            argv = [*command.split(), *operands, *([flag] if value is None else [flag, value])]
            if flag != "--state-dir":
                argv += state
            problem = run_for_findings(argv)
            if problem is not None:
                found.append(f"{flag} {value!r:.40}: {problem}")
    assert [] == found
