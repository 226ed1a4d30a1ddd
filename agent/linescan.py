"""The pass-through's line check in C: the field table it reads, built from the contract, and its loading.

``agent/_linescan.c`` answers the pass-through's question (may this line be shipped as written?) for the
lines the emitter writes, in one C call that makes no Python object per field: with it the whole
pass-through takes less than half the instructions per line of the pure-Python path (docs/benchmarks.md
section 16). It is narrower than the Python
path (:mod:`agent.fastpath`) by design: a string with an escape, whitespace between tokens, a duplicate
key, a number it does not parse exactly, a change name the redactor has not cleared yet, a text the
redactor's cheap checks flag: any of them returns ``None`` and the Python path decides, as before.
:meth:`Scanner.run` asks the same question for a run of a block's lines in one call and stops at the
first line it would answer ``None`` for (or whose route, texts or address Python must decide). So it
never rejects a line and never ships one the Python path would not ship differently; tests/agent/
test_linescan.py and the fuzz target ``passthrough`` hold the two equal.

It is built at install (a C compiler and Python's headers; ``pip install`` builds it, the extension is
optional): where it could not be built, :func:`scanner_for` returns ``None`` and the Python path does
all the work at its own cost. ``make bench`` says which one it measured; the tests require the C one
(:data:`AVAILABLE`), so CI measures and compares what users run.

The table is the contract's one definition (:data:`auditlog.core.contract.CONTRACT`) in the C side's
terms; the only shapes written in C are the three the Python path also checks by hand
(:data:`NATIVE_PATTERNS`) and the dotted-quad address of :func:`agent.contract.is_ip` (any other address
goes back to it), and building the table fails for a contract that gives any other field a pattern or
format the C side does not check.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from auditlog.core.contract import CONTRACT, Contract, Field

try:
    from auditlog.agent._linescan import Scanner as _Scanner
except ImportError:  # not built here (no compiler at install): the Python path does the work
    _Scanner = None

#: whether the C scanner is built in this installation.
AVAILABLE = _Scanner is not None

# field kinds and roles: the C side's enums, same order
KIND_STR, KIND_INT, KIND_STRLIST, KIND_STR_OR_LIST, KIND_CHANGES, KIND_TIMESTAMP, KIND_ID, KIND_ACTION = range(8)
_KINDS = {"integer": KIND_INT, "string_list": KIND_STRLIST, "string_or_list": KIND_STR_OR_LIST,
          "changes": KIND_CHANGES}
#: the fields whose value the caller gets back (or which the C side treats specially), by path
ROLES = {path: number for number, path in enumerate(
    ("", "event.id", "@timestamp", "audit.tier", "audit.stream", "audit.seq", "organization.id", "user.id",
     "source.ip", "message", "url.full", "audit.changes", "audit.changed_fields")) if path}
#: the patterns written in C (the same checks as :func:`agent.contract.id_ok`, ``action_ok`` and
#: ``timestamp_ok``); a contract that changes one of them no longer builds a table
NATIVE_PATTERNS = {
    "@timestamp": (KIND_TIMESTAMP, CONTRACT["@timestamp"].pattern),
    "event.id": (KIND_ID, r"[!-~]{1,512}"),
    "event.action": (KIND_ACTION, r"[a-z0-9][a-z0-9_.:-]{0,127}"),
}
#: the one format the caller checks with the value it gets back (``source.ip``: :func:`agent.contract.is_ip`)
CHECKED_BY_CALLER = frozenset({"source.ip"})

Spec = tuple[bytes, int, int, bool, int, int, int, int, tuple[bytes, ...]]


class Scan(Protocol):
    """Line -> ``(event_id, timestamp, tier, stream, seq, id_json, id_end, ip, texts, prefix, index)`` or ``None``.

    ``id_json`` is the id as the line spells it (quotes included), ``id_end`` the offset after it; ``ip`` is
    ``None`` for an address checked in C (a dotted quad, a plain hex-colon IPv6 address); ``texts`` the
    redactor's texts joined, when its regexes must look; ``prefix`` and ``index`` the route memo's answer
    (:meth:`Scanner.remember_route`), or ``None`` for both:
    route in Python.
    """

    def __call__(self, line: bytes, /) -> tuple[Any, ...] | None: ...


class Scanner(Protocol):
    """The C line check for one field table and redactor state, with its route memo."""

    scan: Scan

    def run(self, lines: list[Any], start: int, key: str, path: str, block_end: int, room_events: int,
            room_bytes: int, ingested: bytes, suffix: bytes, suspect: Callable[[str], bool] | None,
            ip_ok: Callable[[str], bool], entries: list[bytes], origins: list[Any], stamps: list[Any],
            /) -> tuple[int, int, int, int]:
        """The pass-through for a run of a block's ``(offset, line)`` items from ``lines[start]``, in one C call.

        Per line, what :meth:`agent.fastpath.PassThrough.__call__` and the pipeline's per-line loop do: the
        check of :attr:`scan`, ``suspect(texts)`` where the redactor's regexes must look (``None``: no
        redactor), ``ip_ok(address)`` for an address C does not check itself, the route memo's answer, and
        the entry spliced with ``ingested`` and ``suffix`` (:meth:`agent.shipper.ShipperFields.parts_now`).
        Its entry, its origin ``(key, path, offset, line)`` and its stamp are appended to the three lists,
        until ``room_events`` entries or ``room_bytes`` bytes were appended.

        Returns:
            ``(next, added, nbytes, end)``: the index of the first line not taken (one the check is not
            sure of, the memo has no route for, a question said no to, or anything failed on: the per-line
            path decides it), the entries appended and their bytes, and the file offset the last one
            completes (at most ``block_end``; -1 when none was appended).

        A negative ``start`` counts as 0. A question that raises an ``Exception`` ends the run at its line (the
        per-line path asks again and meets it); any other exception (``KeyboardInterrupt``) is raised, with
        everything the run appended taken back off the lists.

        Raises:
            TypeError: when ``lines`` or the three lists are not exactly lists, or ``ingested`` and ``suffix``
                not exactly bytes.
            OverflowError: for an integer argument beyond the platform's range.
        """
        ...

    def remember_route(self, tier: str, timestamp: str, prefix: bytes, index: str, owner: Any,
                       window: tuple[str, str, float], /) -> bool:
        """Keep the router's answer for ``tier`` and the UTC day of the "...Z" ``timestamp``, and its window.

        From then on :attr:`scan` hands ``prefix`` and ``index`` back for a line of that tier and day whose
        "...Z" second lies from ``earliest`` to ``latest`` of ``window`` while ``owner.bounds_window`` is still
        that very tuple and ``owner.bounds.clock()`` is below its ``until``: exactly when the router
        (:meth:`agent.enrich.Enricher.route`) would answer from its cache without asking the bounds. :attr:`scan`
        reads the clock per answer, as the router does; :attr:`run` reads it (and ``owner.bounds_window``) for its
        first routed line and again after each question it asks, which runs Python that may move the window.
        Whatever Python does meanwhile (the attribute reads and the clock run
        Python), an answer comes only from a memo unchanged across those calls; a failing clock gets no
        answer (the router reads it again). The memo keeps the 16 tier-and-day keys given last. The texts and
        the prefix must be exactly ``str`` and ``bytes`` and the window a ``tuple``.

        Returns:
            False when the window's bounds are not ``YYYY-MM-DDTHH:MM:SS``, the timestamp does not end in
            "Z" or the tier is too long to keep exactly: then the memo forgets everything and answers
            nothing until the next call.

        Raises:
            TypeError: for an argument of another type (a subclass included).
        """
        ...


def needed(contract: Contract, f: Field) -> bool:
    """Whether a line the pass-through ships must carry ``f``: required, or always added by the enricher.

    A field the enricher adds only ``when`` another one is present is checked by the caller instead.
    """
    rule = contract.enriched().get(f.path)
    return f.required or (rule is not None and rule.when is None)


def _field(contract: Contract, f: Field, key: str) -> Spec:
    """One field in the C side's terms.

    Raises:
        ValueError: for a pattern or format the C side does not check, or a type it does not know.
    """
    kind = KIND_STR
    if f.path in NATIVE_PATTERNS:
        kind, pattern = NATIVE_PATTERNS[f.path]
        if f.pattern != pattern:
            raise ValueError(f"{f.path}: the C line check knows the pattern {pattern!r}, "
                             f"the contract says {f.pattern!r}")
    elif f.pattern is not None or (f.format is not None and f.path not in CHECKED_BY_CALLER):
        raise ValueError(f"{f.path}: the C line check has no check for its pattern or format")
    elif f.type != "string":
        if f.type not in _KINDS:
            raise ValueError(f"{f.path}: the C line check has no kind for the type {f.type!r}")
        kind = _KINDS[f.type]
    low, high = f.bounds
    return (key.encode(), kind, ROLES.get(f.path, 0), needed(contract, f), f.min_length or 0,
            -1 if f.max_length is None else f.max_length, low, high, tuple(v.encode() for v in f.enum))


def table(contract: Contract = CONTRACT) -> tuple[tuple[Spec, tuple[Spec, ...] | None], ...]:
    """The contract's fields as the C scanner reads them: per top-level key, the field or the object's members.

    Args:
        contract: the definition.

    Returns:
        ``((key spec, member specs or None), ...)`` in the contract's order; an object's own spec says
        whether the line must hold it (when any member is needed).

    Raises:
        ValueError: when a field has a shape the C side does not check (see :func:`_field`).
    """
    tops: list[tuple[Spec, tuple[Spec, ...] | None]] = []
    for key in contract.tops():
        members = contract.members(key)
        if not members:
            tops.append((_field(contract, contract[key], key), None))
            continue
        inner = tuple(_field(contract, f, f.leaf or "") for f in members)
        required = any(spec[3] for spec in inner)
        tops.append(((key.encode(), KIND_STR, 0, required, 0, -1, 0, 0, ()), inner))
    return tuple(tops)


def scanner_for(clean_names: Any, replacement: str, contract: Contract = CONTRACT) -> Scanner | None:
    """The C line check for a redactor's state, or ``None`` when the extension is not built here.

    Args:
        clean_names: the redactor's container of change names found not secret (read live, so names the
            Python path clears count on the next line), or ``None`` when nothing is redacted.
        replacement: the redactor's replacement text (a change already holding it on both sides is blank),
            read once: a redactor's replacement is fixed when it is made.
        contract: the definition.

    Returns:
        The scanner, or ``None``.
    """
    if _Scanner is None:
        return None
    scanner: Scanner = _Scanner(_TABLE if contract is CONTRACT else table(contract), clean_names, replacement.encode())
    return scanner


_TABLE = table()  # built at import: a contract the C side cannot check fails here, not on the first line
