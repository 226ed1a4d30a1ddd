"""Decoding Elasticsearch's answers (indexer.decode): exact where orjson would fail or round, one-line errors."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
from elastic_transport import SerializationError

from auditlog.indexer.decode import TolerantJsonSerializer, dumps_deep, exact_loads


@pytest.fixture
def default_recursion_limit() -> Iterator[None]:
    """Python's default recursion limit during the test (an earlier one may have raised it), restored after."""
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    yield
    sys.setrecursionlimit(before)


def test_a_400_digit_integer_is_decoded_exactly() -> None:
    """A 400-digit integer (orjson: out of range) comes back as the exact Python int."""
    big = int("9" * 400)
    assert {"hits": [{"n": big}, {"n": 1}]} == TolerantJsonSerializer().loads(
        b'{"hits":[{"n":' + str(big).encode() + b'},{"n":1}]}')


def test_a_25_digit_integer_is_not_rounded() -> None:
    """An integer beyond 64 bits but within float range keeps every digit (orjson would round it)."""
    assert [1234567890123456789012345] == TolerantJsonSerializer().loads(b"[1234567890123456789012345]")


def test_a_lone_surrogate_escape_does_not_spoil_the_answer() -> None:
    """A lone surrogate escape in one document decodes, and the other documents with it."""
    assert ["a\ud800b", "ok"] == TolerantJsonSerializer().loads(b'["a\\ud800b","ok"]')


@pytest.mark.usefixtures("default_recursion_limit")
def test_a_document_nested_1000_levels_next_to_a_big_integer_decodes() -> None:
    """An answer with a 996-deep array (Elasticsearch's nesting limit) and a 25-digit integer decodes in full."""
    deep = b"[" * 996 + b"]" * 996
    body = b'{"hits":[{"_source":{"extra":' + deep + b'}},{"n":1234567890123456789012345}]}'
    answer = TolerantJsonSerializer().loads(body)
    inner, levels = answer["hits"][0]["_source"]["extra"], 1
    while inner:
        inner, levels = inner[0], levels + 1
    assert (996, 1234567890123456789012345) == (levels, answer["hits"][1]["n"])


def test_a_float_literal_beyond_a_double_keeps_its_text() -> None:
    """1e400 (Elasticsearch stores it as written) comes back as the text "1e400", not as infinity."""
    assert [{"n": "1e400"}, 1.5] == TolerantJsonSerializer().loads(b'[{"n":1e400},1.5]')


@pytest.mark.usefixtures("default_recursion_limit")
def test_a_document_nested_1000_levels_deep_encodes_with_indent() -> None:
    """dumps_deep writes a 1,000-deep array with indent=2 and it reads back the same."""
    deep: list[object] = []
    for _ in range(999):
        deep = [deep]
    assert deep == exact_loads(dumps_deep(deep, indent=2))


def test_ordinary_answers_are_decoded() -> None:
    """A plain answer decodes to the same value as ever."""
    assert {"a": [1, 2.5, "x", None, True]} == TolerantJsonSerializer().loads(b'{"a":[1,2.5,"x",null,true]}')


def test_digits_inside_strings_are_kept_as_text() -> None:
    """A long digit run inside a string stays a string on the exact path."""
    assert {"phone": ",12345678901234567890123"} == TolerantJsonSerializer().loads(
        b'{"phone":",12345678901234567890123"}')


def test_invalid_json_fails_in_one_short_line() -> None:
    """A body that is not JSON raises a SerializationError whose message holds no body and no line break."""
    with pytest.raises(SerializationError) as caught:
        exact_loads(b"{" + b"x" * 100_000)
    message = str(caught.value.message)
    assert (True, False) == (len(message) < 300, "\n" in message)
