"""Decode Elasticsearch's JSON answers so that no single stored document can make a whole answer unreadable.

orjson decodes fast but is strict where Elasticsearch is not: a lone UTF-16 surrogate escape
(``"\\ud800"``) anywhere in one document's ``_source`` makes it reject the whole response, an integer
beyond 64 bits but within float range comes back as a rounded float, and one beyond float range is an
error. Elasticsearch stores all of those (numbers up to 1,000 digits), so with orjson alone one hostile
event would break every listing and export that touched it.

``TolerantJsonSerializer`` keeps orjson for the common case and decodes with the standard library,
which keeps integers exact (and a float literal beyond a double's range as its text) and accepts lone
surrogates, when the body holds a run of 20 digits (found by one C-level translate and substring search)
or orjson refuses it. ``dumps_deep`` encodes such documents back (``auditlog show``, the TUI's JSON
tab). What a reader does with odd values (escape a surrogate, write a huge integer as text) is the
reader's job (``tui.values.printable``, ``tui.sanitize``).
When neither decoder can read the body, the error says so in one line, without the body.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any

import orjson
from elastic_transport import SerializationError
from elasticsearch.serializer import OrjsonSerializer

#: Every digit becomes "0", every other byte " ": a run of 20 digits (a number orjson would round or
#: refuse, or digits inside a string) is then one substring search, far cheaper than the decode itself
#: (and than a regex). A match inside a string only costs the exact path.
_DIGITS = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_LONG_RUN = b"0" * 20

#: Above this many digits ``int()`` refuses (Python's int/str conversion limit); keep the digits as text.
_MAX_INT_DIGITS = 4_000


#: Elasticsearch stores documents nested up to 1,000 arrays and objects deep (its JSON parser's limit) and an
#: answer wraps each in a few more levels; the standard library's decoder spends one level of Python's
#: recursion limit (1,000 by default) per nesting level, so such an answer needs more room.
_ANSWER_DEPTH = 1_100


def _exact_int(text: str) -> int | str:
    return int(text) if len(text) <= _MAX_INT_DIGITS else text


def _exact_float(text: str) -> float | str:
    # a literal beyond a double's range (1e400, stored by Elasticsearch as written) keeps its text, not "inf"
    value = float(text)
    return text if math.isinf(value) else value


def _make_room(levels: int) -> None:
    """Raise Python's recursion limit (never lower it) so that ``levels`` more nested calls fit here."""
    depth, frame = 0, sys._getframe()
    while frame.f_back is not None:
        depth, frame = depth + 1, frame.f_back
    # Only raised, never restored: a reader thread may be decoding such an answer at the same moment.
    sys.setrecursionlimit(max(sys.getrecursionlimit(), depth + levels + 100))


def exact_loads(data: bytes | str) -> Any:
    """Decode JSON with exact integers and lone surrogates kept (the standard library's decoder).

    Args:
        data: a JSON document (bytes are read as UTF-8; invalid bytes become U+FFFD).

    Returns:
        The decoded value.

    Raises:
        SerializationError: when the text is not JSON; the message is one line without the text.
    """
    text = data.decode("utf-8", "replace") if isinstance(data, bytes | bytearray) else data
    try:
        try:
            return json.loads(text, parse_int=_exact_int, parse_float=_exact_float)
        except RecursionError:  # a deeply nested document Elasticsearch accepted: rare, so only then make room
            _make_room(_ANSWER_DEPTH)
            return json.loads(text, parse_int=_exact_int, parse_float=_exact_float)
    except (ValueError, TypeError, RecursionError) as exc:
        raise SerializationError(
            message=f"Elasticsearch's answer ({len(data):,} bytes) is not valid JSON: {str(exc)[:120]}",
            errors=(exc,),
        ) from None


def dumps_deep(value: Any, **options: Any) -> str:
    """``json.dumps(value, **options)``, also for a document nested as deep as Elasticsearch stores them.

    The standard library's encoder (the pure-Python one with ``indent``) spends a level or two of
    Python's recursion limit per nesting level; such a document gets the room it needs.

    Args:
        value: the value to encode.
        **options: ``json.dumps`` keyword arguments.

    Returns:
        The JSON text.
    """
    try:
        return json.dumps(value, **options)
    except RecursionError:
        _make_room(2 * _ANSWER_DEPTH)
        return json.dumps(value, **options)


class TolerantJsonSerializer(OrjsonSerializer):
    """orjson for speed; the exact standard-library decoder when orjson would fail or lose digits."""

    def loads(self, data: bytes) -> Any:
        """Decode one response body (see the module docs).

        Raises:
            SerializationError: when no decoder can read it (one line, never the body).
        """
        if data == b"":
            return None
        raw = data if isinstance(data, bytes | bytearray) else data.encode()
        if _LONG_RUN not in raw.translate(_DIGITS):
            try:
                return orjson.loads(data)
            except orjson.JSONDecodeError:
                pass  # e.g. a lone surrogate escape in one document: the exact decoder accepts it
        return exact_loads(data)
