"""Verify's pure parts: finding each hit's raw _source, reading pinned keys, the report's lines."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from auditlog.agent.signing import load_key
from auditlog.indexer.verify import Problem, Report, _source_spans, load_public_keys


def test_source_spans_are_the_stored_bytes() -> None:
    """Each hit's span is its _source exactly as Elasticsearch sent it, spacing and escapes included."""
    first, second = b'{"a":  1.50, "b":"\\u00e9", "c":{"sort":[1]}}', b'{"sort":[2],"_source":{}}'
    raw = (b'{"hits":{"hits":[{"_index":"i","_id":"1","_score":null,"_source":' + first + b',"sort":[0]},'
           b'{"_index":"i","_id":"2","_score":null,"_source":' + second + b',"sort":[1]}]}}')
    hits = orjson.loads(raw)["hits"]["hits"]
    assert [bytes(s) if s is not None else None for s in _source_spans(raw, hits)] == [first, second]


def test_public_keys_are_read_from_pem(tmp_path: Path) -> None:
    """Two concatenated PEM keys give both raw keys."""
    a, b = load_key(tmp_path / "a"), load_key(tmp_path / "b")
    assert load_public_keys((a.public_pem() + b.public_pem()).encode()) == [a.public_raw, b.public_raw]


def test_text_without_a_key_is_refused() -> None:
    """A file without a PEM public key is a usage error, not an empty pin list."""
    with pytest.raises(ValueError, match="no PEM public key"):
        load_public_keys(b"hello")


def test_summary_counts_problems_and_says_keys_are_not_pinned() -> None:
    """The summary line starts with the verdict and warns when no key was pinned."""
    report = Report(problems=[Problem("deleted", "audit-basic-x", "gone", "e1")], events=3, proven=2)
    assert report.summary().startswith("1 problem: 3 events, 2 proven")
    assert "keys not pinned" in report.summary()


def test_problem_line_names_kind_index_and_event() -> None:
    """One problem is one line: kind, index, event id, detail."""
    assert Problem("altered", "audit-basic-x", "hash differs", "e9").line() == "altered audit-basic-x e9: hash differs"
