"""Every `auditlog ...` and `make ...` line in README.md and docs/**/*.md names a command that exists.

What is extracted:

- **Command lines**: the lines of fenced blocks (no language, ``sh``, ``bash``, ``shell``, ``console``)
  that run ``auditlog`` (or ``/some/path/auditlog``) as a command, after ``\\`` continuations are
  joined, a leading ``$ `` prompt and a trailing ``# comment`` are dropped, and the line is cut at
  ``|``, ``&&``, ``;`` and redirections (``>> file``). Environment assignments before the command
  (``AUDITLOG_ES_PASSWORD_FILE=... auditlog setup``) must name a variable the command's ``--help``
  names. Each line
  is parsed with the CLI's own parser (``auditlog.cli.parse_args``, what ``main`` runs before the
  command) and must parse completely: an unknown flag, a missing required argument or a wrong
  subcommand fails the test named after the line, ``README.md:64``.
- **Inline code** spans that start with ``auditlog`` (``$ `` and assignments allowed) are usually a
  command's name in prose (`auditlog keys tenant`, `auditlog verify --pubkey`), so they are parsed
  as fragments: every word must be a subcommand, a flag of that subcommand or its value, but required
  arguments and a flag's value may be left out and values are not checked (`--port P`). A span
  ``auditlog X: ...`` quotes an error message and is not a command.
- ``make`` lines in fenced blocks and ``make ...`` inline spans name Makefile targets (and ``VAR=x``
  variables the Makefile defines).

The placeholder convention the docs follow (the only notation the extractor understands):

- ``[...]`` as a word of its own is optional: the line is parsed once with every optional group and
  once with none. ``[filters]`` stands for the filter flags every filtering command shares
  (:data:`FILTERS`: one of each).
- ``a|b`` inside a word (no spaces around ``|``) lists alternatives: the line is parsed once per
  alternative (``auditlog dlq list|replay --state-dir DIR``). ``` | ``` with spaces is a shell pipe.
- ``<words>`` is one placeholder value (``AUDITLOG_ES_API_KEY=<tenant key>``); so is any upper-case
  word (``ORG``, ``DIR``, ``ID...``): it is an argument like any other. In a fenced line a value
  that must be a number or one of a list is written as one (``--port 9200``, ``--print template``).
- ``...`` as a word of its own stands for flags shown elsewhere (``auditlog setup --api-keys --json
  ...``) and is dropped; it is never an option's value (write ``--kibana-api-key KEY``).
- a comment starts at `` #`` after the command: descriptions in a listing are written as comments.
- in a table row, ``|`` inside inline code is written ``\\|`` (GitHub splits the cell otherwise).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import re
import shlex
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import auditlog.cli as cli

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
#: fenced blocks in these languages are shell (no language: a listing of commands)
SHELL_LANGUAGES = frozenset({"", "sh", "bash", "shell", "console"})
#: what ``[filters]`` stands for: each shared filter flag once (auditlog/options/filters.py)
FILTERS = ("--tenant org-1001 --worker org-1001-w03 --action delete --source appointments "
           "--since 7d --until now --query moved")
OPERATORS = frozenset(";&|()<>")
REDIRECTIONS = frozenset({">", ">>", "<", "2>", "&>"})
ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=")
PLACEHOLDER = re.compile(r"<[A-Za-z][\w .-]*>")
OPTIONAL = re.compile(r"(?<!\S)\[([^\[\]]+)\](?!\S)")
FENCE = re.compile(r"^\s*```(\S*)\s*$")
INLINE = re.compile(r"(?<!`)`([^`]+)`(?!`)")


@dataclass(frozen=True)
class DocLine:
    """One command line of a doc: where it is, its text, and whether required arguments may be left out."""

    path: Path
    line: int
    text: str
    fragment: bool

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


@dataclass(frozen=True)
class Call:
    """One simple command of a line: its environment assignments and its argv."""

    env: tuple[str, ...]
    argv: tuple[str, ...]


def _fenced_lines(path: Path) -> Iterator[tuple[int, str]]:
    """The logical lines (``\\`` continuations joined) of the shell fenced blocks, with their first line number."""
    language: str | None = None
    pending: tuple[int, str] | None = None
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        fence = FENCE.match(line)
        if fence:
            language = fence.group(1) if language is None else None
            continue
        if language is None or language not in SHELL_LANGUAGES:
            continue
        start, text = pending if pending else (number, "")
        text += line.strip()
        if text.endswith("\\"):
            pending = (start, text[:-1] + " ")
            continue
        pending = None
        yield start, text


def _prose(path: Path) -> str:
    """The file with its fenced blocks blanked out (line numbers kept)."""
    out, inside = [], False
    for line in path.read_text().splitlines():
        if FENCE.match(line):
            inside = not inside
            out.append("")
            continue
        out.append("" if inside else line)
    return "\n".join(out)


def _without_comment(text: str) -> str:
    """``text`` up to a ``#`` that starts a word outside quotes."""
    quote = ""
    for i, char in enumerate(text):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or text[i - 1].isspace()):
            return text[:i].rstrip()
    return text


def variants(text: str) -> list[str]:
    """The concrete lines a documented line stands for (prompt, comment, optionals, alternatives, ``...``)."""
    text = _without_comment(text.removeprefix("$ ").strip())
    text = PLACEHOLDER.sub("PLACEHOLDER", text)
    text = OPTIONAL.sub(lambda m: "[" + (FILTERS if m.group(1) == "filters" else m.group(1)) + "]", text)
    optional = [OPTIONAL.sub("", text), OPTIONAL.sub(lambda m: m.group(1), text)]
    out: list[str] = []
    for line in dict.fromkeys(optional):
        words = [w for w in line.split() if w != "..."]
        choices = [w.split("|") if re.fullmatch(r"[^|'\"\s]+(\|[^|'\"\s]+)+", w) else [w] for w in words]
        out += [" ".join(combo) for combo in itertools.product(*choices)]
    return list(dict.fromkeys(out))


def simple_commands(text: str) -> list[list[str]]:
    """The simple commands of one shell line as word lists (redirection targets dropped)."""
    lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|()<>")
    lexer.whitespace_split = True
    lexer.commenters = ""
    commands: list[list[str]] = []
    words: list[str] = []
    skip_next = False
    try:
        tokens = [*lexer, ";"]
    except ValueError:  # an unclosed quote: the words as they stand, so the parser names the stray quote
        tokens = [*text.split(), ";"]
    for token in tokens:
        if token and set(token) <= OPERATORS:
            if words:
                commands.append(words)
            words, skip_next = [], token in REDIRECTIONS
            continue
        if skip_next:
            skip_next = False
            continue
        words.append(token)
    return commands


def auditlog_calls(text: str) -> list[Call]:
    """The ``auditlog`` commands of one concrete line."""
    calls = []
    for words in simple_commands(text):
        env = []
        while words and ASSIGNMENT.match(words[0]):
            env.append(words.pop(0).split("=", 1)[0])
        if words and (words[0] == "auditlog" or words[0].endswith("/auditlog")):
            calls.append(Call(tuple(env), tuple(words[1:])))
    return calls


def _is_message(text: str) -> bool:
    return bool(re.match(r"auditlog \S+:", text))


def doc_lines() -> list[DocLine]:
    """Every documented ``auditlog`` command line: fenced lines first, then inline spans, per file."""
    found: list[DocLine] = []
    for path in DOCS:
        found += [DocLine(path, number, text, fragment=False) for number, text in _fenced_lines(path)
                  if any(auditlog_calls(v) for v in variants(text))]
        prose = _prose(path)
        for match in INLINE.finditer(prose):
            text = " ".join(match.group(1).replace("\\|", "|").split())  # `a\|b` in a table row
            if _is_message(text) or not any(call.argv for v in variants(text) for call in auditlog_calls(v)):
                continue
            if not re.match(r"(\$ )?([A-Za-z_][A-Za-z0-9_]*=\S+ )*(\S*/)?auditlog( |$)", text):
                continue
            found.append(DocLine(path, prose.count("\n", 0, match.start()) + 1, text, fragment=True))
    return found


def make_lines() -> list[DocLine]:
    """Every documented ``make`` command: in fenced blocks and inline spans."""
    found: list[DocLine] = []
    for path in DOCS:
        found += [DocLine(path, number, text, fragment=False) for number, text in _fenced_lines(path)
                  if any(words[:1] == ["make"] for words in simple_commands(_without_comment(text)))]
        prose = _prose(path)
        found += [DocLine(path, prose.count("\n", 0, m.start()) + 1, " ".join(m.group(1).split()), fragment=True)
                  for m in INLINE.finditer(prose) if re.match(r"make [a-z]", " ".join(m.group(1).split()))]
    return found


def _relaxed(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """``parser`` with no argument, no subcommand and no flag's value required (for fragments)."""
    pending = [parser]
    while pending:
        current = pending.pop()
        for action in current._actions:
            action.required = False
            if isinstance(action, argparse._SubParsersAction):
                pending.extend(action.choices.values())
                continue
            action.type, action.choices = None, None  # `--port P`: a fragment's values are placeholders
            if action.option_strings and action.nargs is None and isinstance(
                    action, (argparse._StoreAction, argparse._AppendAction)):
                action.nargs = "?"  # `auditlog verify --pubkey` names the flag
    return parser


def parse_error(argv: list[str], *, fragment: bool, monkeypatch: pytest.MonkeyPatch) -> str | None:
    """argparse's error for ``auditlog ARGV`` as ``auditlog.cli.main`` parses it, or None when it parses."""
    if fragment:
        build = cli.build_parser
        monkeypatch.setattr(cli, "build_parser", lambda command=None: _relaxed(build(command)))
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            args = cli.parse_args(argv)
        if getattr(args, "missing_extra", False):  # a stub that takes any argument: nothing was checked
            return "not checked: the command's extra is not installed (pip install auditlog[all])"
    except SystemExit as exc:
        if exc.code == 0:  # --help, --version: printed, and the run ends as it should
            return None
        return f"exit {exc.code}: {stderr.getvalue().strip().splitlines()[-1:] or ''}"
    finally:
        monkeypatch.undo()
    return None


DOC_LINES = doc_lines()
MAKE_LINES = make_lines()


@pytest.mark.parametrize("doc", DOC_LINES, ids=[d.where for d in DOC_LINES])
def test_documented_command_parses(doc: DocLine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each concrete form of a documented `auditlog` line is accepted by the CLI's own parser."""
    failures = []
    for variant in variants(doc.text):
        for call in auditlog_calls(variant):
            error = parse_error(list(call.argv), fragment=doc.fragment, monkeypatch=monkeypatch)
            if error is not None:
                failures.append(f"{doc.where}: auditlog {shlex.join(call.argv)} -> {error}")
    assert [] == failures


def command_help(argv: list[str]) -> str:
    """The ``--help`` text of the (sub)command ``argv`` names (its leading subcommand words)."""
    parser = cli.build_parser(argv[0] if argv else None)
    for word in argv:
        sub = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
        if sub is None or word not in sub.choices:
            break
        parser = sub.choices[word]
    return " ".join(parser.format_help().split())


@pytest.mark.parametrize("doc", [d for d in DOC_LINES if any(c.env for v in variants(d.text)
                                                             for c in auditlog_calls(v))],
                         ids=lambda d: d.where)
def test_documented_environment_is_one_the_command_names(doc: DocLine) -> None:
    """An environment variable set before a documented `auditlog` command is one that command's --help names."""
    unknown = [f"{name} (auditlog {shlex.join(call.argv)})" for v in variants(doc.text)
               for call in auditlog_calls(v) for name in call.env if name not in command_help(list(call.argv))]
    assert [] == unknown


def _makefile() -> tuple[set[str], set[str]]:
    """The Makefile's targets and variables."""
    text = (ROOT / "Makefile").read_text()
    targets = {t for m in re.finditer(r"^([\w.-]+(?: [\w.-]+)*)\s*:(?!=)", text, re.M) for t in m.group(1).split()}
    variables = set(re.findall(r"^([A-Z_]+)\s*[?:]?=", text, re.M))
    return targets, variables


@pytest.mark.parametrize("doc", MAKE_LINES, ids=[d.where for d in MAKE_LINES])
def test_documented_make_target_exists(doc: DocLine) -> None:
    """A documented `make` command names Makefile targets and variables that exist."""
    targets, variables = _makefile()
    unknown = []
    for words in simple_commands(_without_comment(doc.text)):
        if words[:1] != ["make"]:
            continue
        for word in words[1:]:
            name = word.split("=", 1)[0]
            if name not in (variables if "=" in word else targets):
                unknown.append(word)
    assert [] == unknown, doc.where


def test_every_doc_with_a_command_block_yields_command_lines() -> None:
    """The extractor finds lines in each doc whose shell blocks run `auditlog` (it cannot silently find none)."""
    expected = {p.relative_to(ROOT).as_posix() for p in DOCS
                if any(re.match(r"(\$ )?(\S+=\S+ )*(\S*/)?auditlog ", t) for _, t in _fenced_lines(p))}
    found = {d.path.relative_to(ROOT).as_posix() for d in DOC_LINES if not d.fragment}
    assert (expected, True) == (found, {"README.md", "docs/elastic-admin.md", "docs/operations.md"} <= found)


def _fenced_blocks(path: Path) -> Iterator[list[tuple[int, str]]]:
    """The shell fenced blocks of a doc, each as its logical lines with their line numbers."""
    block: list[tuple[int, str]] = []
    language: str | None = None
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        fence = FENCE.match(line)
        if fence and language is None:
            language, block = fence.group(1), []
        elif fence:
            if language in SHELL_LANGUAGES:
                yield block
            language = None
        elif language is not None:
            block.append((number, line))


def test_a_block_that_runs_auditlog_by_its_path_runs_it_so_on_every_line() -> None:
    """A shell block that installs auditlog somewhere and runs it by that path (`/opt/auditlog/bin/auditlog`) never
    runs a bare `auditlog`, which is not on the PATH of whoever follows the block line by line."""
    mixed = []
    for path in DOCS:
        for block in _fenced_blocks(path):
            runs = {number: {words[0] for words in simple_commands(_without_comment(text))
                             if words[0] == "auditlog" or words[0].endswith("/auditlog")} for number, text in block}
            if len(set().union(*runs.values())) > 1:
                mixed += [f"{path.relative_to(ROOT)}:{number}" for number, run in runs.items() if "auditlog" in run]
    assert [] == mixed


def test_a_documented_agent_state_directory_is_the_sample_configs() -> None:
    """Every `auditlog agent ...` or `auditlog dlq ...` line that names an absolute --state-dir names the sample
    agent.toml's state.dir (the systemd unit's StateDirectory): `agent status` and `dlq` find what the agent wrote."""
    sample = tomllib.loads((ROOT / "deploy" / "agent.toml").read_text())["state"]["dir"]
    elsewhere = sorted({f"{doc.where}: {argv[i + 1]}" for doc in DOC_LINES for v in variants(doc.text)
                        for argv in (call.argv for call in auditlog_calls(v)) if argv[:1] in (("agent",), ("dlq",))
                        for i, word in enumerate(argv[:-1]) if word == "--state-dir" and argv[i + 1].startswith("/")
                        and argv[i + 1] != sample})
    assert [] == elsewhere


def test_the_placeholder_convention() -> None:
    """Optional groups, alternatives, placeholders, `...`, comments and `[filters]` expand as the docstring says."""
    assert [
        "auditlog dlq list --state-dir DIR",
        "auditlog dlq replay --state-dir DIR",
        "auditlog export -o x.xlsx",
        f"auditlog export {FILTERS} -o x.xlsx",
        "X=PLACEHOLDER auditlog setup --json",
        "auditlog retention enforce",
    ] == [
        *variants("auditlog dlq list|replay --state-dir DIR   # dead letters"),
        *variants("auditlog export [filters] -o x.xlsx"),
        *variants("$ X=<some key> auditlog setup --json ...  # {[...]}"),
        *variants("auditlog retention enforce # a|b [c]"),
    ]


def test_a_pipe_and_a_redirection_end_the_command() -> None:
    """`| jq ...` and `>> file` are not arguments of the `auditlog` command before them."""
    assert [Call((), ("dlq", "list")), Call(("A",), ("setup", "--print-roles"))] == [
        *auditlog_calls("/opt/bin/auditlog dlq list | jq -r .reason | sort"),
        *auditlog_calls("A=1 auditlog setup --print-roles >> /etc/roles.yml"),
    ]


def test_a_drifted_line_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """An unknown flag fails a full line and a fragment; a missing argument fails only a full line."""
    assert (True, True, True, False) == (
        parse_error(["retention", "status", "--dry-run"], fragment=False, monkeypatch=monkeypatch) is not None,
        parse_error(["retention", "status", "--dry-run"], fragment=True, monkeypatch=monkeypatch) is not None,
        parse_error(["keys", "tenant"], fragment=False, monkeypatch=monkeypatch) is not None,
        parse_error(["keys", "tenant"], fragment=True, monkeypatch=monkeypatch) is not None,
    )


def test_inline_code_in_a_table_row_escapes_its_pipes() -> None:
    """A `|` inside inline code of a table row is written `\\|` (unescaped, it splits the cell)."""
    broken = [f"{path.relative_to(ROOT)}:{number}: {span.group(0)}" for path in DOCS
              for number, line in enumerate(_prose(path).splitlines(), start=1) if line.lstrip().startswith("|")
              for span in INLINE.finditer(line) if re.search(r"(?<!\\)\|", span.group(1))]
    assert [] == broken
