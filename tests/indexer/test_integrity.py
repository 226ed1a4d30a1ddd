"""Shared tamper-evidence rules: ranges, digest bodies, hashes."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from auditlog.agent.signing import load_key
from auditlog.indexer.integrity import (
    Record,
    digest_body,
    digest_hash,
    digest_hashes,
    digest_id,
    holes,
    load_public_keys,
    merge_ranges,
    seq_ranges,
)


def _records() -> list[Record]:
    return [Record("audit-basic-x", f"e{i}", bytes([i]) * 32, f"2026-12-02T10:00:0{i}Z", "s", i) for i in (1, 2, 4)]


def test_seq_ranges_compress_runs() -> None:
    """Numbers become sorted inclusive runs."""
    assert seq_ranges([5, 1, 2, 3, 9, 10]) == [[1, 3], [5, 5], [9, 10]]


def test_merge_ranges_joins_touching_runs() -> None:
    """Touching and overlapping runs merge into one."""
    assert merge_ranges([[1, 3], [8, 9]], [[4, 5]], [[9, 12]]) == [[1, 5], [8, 12]]


def test_holes_are_the_missing_runs() -> None:
    """The runs between merged ranges are what never arrived."""
    assert holes([[1, 5], [7, 7], [10, 12]]) == [(6, 6), (8, 9)]


def test_digest_body_lists_ids_hashes_and_streams() -> None:
    """A digest lists ids in order, the concatenated hashes, its time span and the stream ranges."""
    body = digest_body(agent="a", public_key="k", seq=3, prev="p", prev_index="i", index="audit-basic-x",
                       records=_records(), delivered={"s": [[1, 4]]})
    assert (body["ids"], body["first"], body["last"], body["streams"]) == (
        ["e1", "e2", "e4"], "2026-12-02T10:00:01Z", "2026-12-02T10:00:04Z",
        {"s": {"seqs": [[1, 2], [4, 4]], "delivered": [[1, 4]]}})
    assert digest_hashes(body) == [r.hash for r in _records()]


def test_digest_hash_ignores_key_order() -> None:
    """The chain link is over sorted-key JSON, so a re-serialised digest links the same."""
    body = digest_body(agent="a", public_key="k", seq=1, prev=None, prev_index=None, index="x", records=_records())
    assert digest_hash(dict(reversed(list(body.items())))) == digest_hash(body)


def test_digest_hashes_refuses_a_wrong_length() -> None:
    """Hashes that do not match the ids are an error, not a silent truncation."""
    body = {"ids": ["a", "b"], "hashes": base64.b64encode(b"\0" * 33).decode()}
    with pytest.raises(ValueError, match="do not match"):
        digest_hashes(body)


def test_digest_ids_sort_by_seq() -> None:
    """Digest ids are zero-padded so they sort in chain order."""
    assert sorted([digest_id("a", 10), digest_id("a", 9)]) == [digest_id("a", 9), digest_id("a", 10)]


def test_public_keys_are_read_from_pem(tmp_path: Path) -> None:
    """Two concatenated PEM keys give both raw keys."""
    a, b = load_key(tmp_path / "a"), load_key(tmp_path / "b")
    assert load_public_keys((a.public_pem() + b.public_pem()).encode()) == [a.public_raw, b.public_raw]


def test_text_without_a_key_is_refused() -> None:
    """A file without a PEM public key is a usage error, not an empty pin list."""
    with pytest.raises(ValueError, match="no PEM public key"):
        load_public_keys(b"hello")
