"""Comments and docstrings of the product's code say why, never which issue asked for something."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: the product's source folders (``auditlog/agent`` etc. are symlinks to the domain folders, read once)
FOLDERS = ("agent", "indexer", "tui", "auditlog")
ISSUE = re.compile(r"\bissues?\s*#?\d", re.IGNORECASE)


def _sources() -> Iterator[Path]:
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT)
            if rel.parts[0] == "auditlog" and rel.parts[1] in ("agent", "indexer", "tui"):
                continue
            yield path


def _prose(path: Path) -> Iterator[tuple[int, str]]:
    """Every comment and docstring of ``path`` with its line number."""
    text = path.read_text(encoding="utf-8")
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.COMMENT:
            yield token.start[0], token.string
    for node in ast.walk(ast.parse(text, str(path))):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            doc = ast.get_docstring(node, clean=False)
            if doc is not None:
                yield getattr(node, "lineno", 1), doc


def test_no_comment_or_docstring_names_an_issue_number() -> None:
    """No comment or docstring in agent/, indexer/, tui/ or auditlog/ refers to "issue N"."""
    found = [f"{path.relative_to(ROOT)}:{line}" for path in _sources() for line, text in _prose(path)
             if ISSUE.search(text)]
    assert [] == found


def test_the_check_sees_comments_and_docstrings(tmp_path: Path) -> None:
    """The scan finds an issue number in a comment and in a docstring (so the test above is not vacuous)."""
    sample = tmp_path / "sample.py"
    sample.write_text('"""Module, see issue 5."""\n\n\ndef f() -> None:\n    """Fine."""\n    # per issue #12\n')
    assert [1, 6] == sorted(line for line, text in _prose(sample) if ISSUE.search(text))
