"""Parser: one line of bytes -> a valid nested contract event, or the reason it is not one.

Checks: JSON (msgspec; when it fails, the reason tells NUL bytes (a copytruncate hole or binary
garbage), invalid UTF-8, numbers out of range and invalid JSON apart), a JSON object at the top, object nesting depth,
dotted-key expansion (:func:`agent.contract.expand_dotted`) and the contract
(:func:`agent.contract.validate`).
Rejections are values (:class:`Rejected`), never exceptions, so one bad line costs one dead letter.

Numbers: the line is decoded with msgspec, which keeps every integer exact (orjson would turn one beyond
64 bits into a rounded float and ship a different number). Numbers that Elasticsearch or the project's
readers (orjson: 64-bit integers, finite doubles) cannot round-trip are refused with a reason that starts
with :data:`NUMBER_OUT_OF_RANGE`: a literal that overflows a double (``1e400``, a 400-digit integer) and
the non-JSON tokens ``NaN`` / ``Infinity`` here; an integer beyond the 64-bit range
(``-2**63 .. 2**64-1``) when the enricher encodes the document (orjson refuses it; no extra walk per line).

Nesting: Elasticsearch refuses objects nested deeper than ``index.mapping.depth.limit`` (20 by
default; arrays do not count), so deeper events are rejected here with a clear reason. The exact depth
is computed only when the number of ``{`` in the line (an upper bound, one C-speed scan) exceeds it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import msgspec
import orjson

from auditlog.agent.contract import ContractError, expand_dotted, validate

DEFAULT_MAX_DEPTH = 20

#: the reason's first word for a number Elasticsearch or the readers cannot round-trip.
NUMBER_OUT_OF_RANGE = "number_out_of_range"

_decode = msgspec.json.Decoder().decode
# NaN / Infinity written as bare values (not inside a string): some serialisers emit them, JSON has no such token
_NON_FINITE_TOKEN = re.compile(rb'[:\[,]\s*[-+]?(?:NaN|Infinity|inf|nan)\b')


@dataclass(frozen=True, slots=True)
class Rejected:
    """Why a line cannot be shipped as it is."""

    reason: str
    stage: str = "parse"


#: blank line: nothing to ship, nothing to dead-letter.
BLANK = Rejected("blank line", "skip")


def _depth(value: Any) -> int:
    """Object nesting depth as Elasticsearch counts it (arrays add no level)."""
    if type(value) is dict:
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if type(value) is list:
        return max((_depth(v) for v in value), default=0)
    return 0


class Parser:
    """Callable turning a line (bytes, no newline) into an event dict or a :class:`Rejected`."""

    __slots__ = ("max_depth",)

    def __init__(self, max_depth: int = DEFAULT_MAX_DEPTH) -> None:
        """Fix the nesting limit.

        Raises:
            ValueError: when ``max_depth`` < 2 (an event has at least ``event.action``).
        """
        if max_depth < 2:
            raise ValueError(f"max_depth must be >= 2, got {max_depth}")
        self.max_depth = max_depth

    def __call__(self, line: bytes) -> dict[str, Any] | Rejected:
        """Parse and validate one line.

        Args:
            line: the line's bytes without the trailing newline.

        Returns:
            The nested event (a fresh dict the caller may mutate) or why it was rejected.
        """
        try:
            obj = _decode(line)  # a raw NUL byte is never valid JSON: found on the error path
        except (msgspec.DecodeError, RecursionError) as exc:
            return self._undecodable(line, exc)
        if type(obj) is not dict:
            return Rejected(f"not a JSON object: top-level {type(obj).__name__.replace('NoneType', 'null')}")
        if line.count(b"{") > self.max_depth:
            depth = _depth(obj)
            if depth > self.max_depth:
                return Rejected(f"object nesting depth {depth} exceeds the limit of {self.max_depth}")
        try:
            event = expand_dotted(obj)
        except ContractError as exc:
            return Rejected(f"contract: {exc}")
        problems = validate(event)
        if problems:
            return Rejected("contract: " + "; ".join(str(p) for p in problems))
        return event

    @staticmethod
    def _undecodable(line: bytes, exc: Exception) -> Rejected:
        if not line.strip():
            return BLANK
        nul = line.find(b"\x00")
        if nul >= 0:
            return Rejected(f"NUL byte in line at byte {nul}")
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as u:
            return Rejected(f"invalid UTF-8 at byte {u.start}")
        if "out of range" in str(exc):
            return Rejected(f"{NUMBER_OUT_OF_RANGE}: a number overflows a double (it would become infinity)")
        if _NON_FINITE_TOKEN.search(line):
            return Rejected(f"{NUMBER_OUT_OF_RANGE}: NaN and Infinity are not JSON numbers")
        try:  # orjson's messages say where the JSON breaks (line and column)
            orjson.loads(line)
        except orjson.JSONDecodeError as oexc:
            msg = str(oexc)
        else:
            msg = str(exc)
        if "depth limit" in msg or "recursion" in msg.lower():
            return Rejected(f"nesting too deep to parse: {msg}")
        return Rejected(f"invalid JSON: {msg}")
