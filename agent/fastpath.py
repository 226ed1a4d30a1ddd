"""Pass-through: ship a line byte for byte when it is plainly valid and needs nothing added.

Most lines come from the emitter, which has already validated, categorised, redacted and given them
an ``event.id``. For such a line the full path (decode to dicts, :func:`agent.contract.validate`,
:class:`agent.enrich.Enricher`, re-encode) produces the same document again, at about twice the cost
(docs/benchmarks.md sections 4 and 9 have the costs per line). This stage proves the same thing: one
typed decode with msgspec (in C) against the contract's own fields (structs made from
:mod:`auditlog.core.contract` by :func:`line_type`), a few checks that reuse the contract's and the
redactor's functions and remembered answers (valid verbs, addresses, change names found not secret:
one set comparison clears all of a line's names), and the line's bytes become the bulk document as they are.

Most lines get that answer in C: :mod:`agent.linescan` (``agent/_linescan.c``, built at install) reads the
line against the same contract table without making an object per field, and hands back what the rest
needs (id, time, tier, stream, sequence number, the id's place); wherever it is not sure it gives no
answer and the typed decode below decides, so both give the same answer for every line (property tests
and the ``passthrough`` fuzz target compare them). Where the extension is not built, the typed decode
answers every line. The pipeline's reader hands it a block's lines a run at a time (:meth:`PassThrough.run`):
the C side appends each line's entry, origin and stamp to the open batch and stops at the first line it is
not sure of, which then goes through :meth:`PassThrough.__call__` like any other (and is checked a second
time there); so no Python frame of ours runs per line it takes, apart from the redactor's regexes for a text
with '=', URL user info (``://user@``) or a colon after a name not cleared yet, and :func:`agent.contract.is_ip`
for an address other than a dotted quad or a plain hex-colon IPv6 address (docs/benchmarks.md sections 20 and
27). The reader tries a run again only after the per-line
pass-through took a line, so a file the pass-through keeps missing costs no run per line.

It never rejects a line on its own: any doubt returns ``None`` and the line takes the full path, which
alone decides and explains (the same split as ``validate``'s fast check). Doubt means: not a
``{...}`` object from the first byte to the last; anything msgspec refuses (invalid JSON or UTF-8, a
wrong type, a missing required field); any field the contract does not name, at any level (extra
fields are allowed, but may be dotted keys the full path expands or nest deeper than the depth limit;
with the contract's fields only, a line nests four objects deep at most); a missing ``event.id``,
``kind``, ``category``, ``type`` or ``audit.changed_fields`` (the enricher would add them); a change
whose name looks secret and whose values are not yet the redactor's replacement or ``null``, a change
whose value holds an object, or texts the redactor finds suspect of a
value-shaped secret (:meth:`~agent.redact.Redactor.suspect_text` over the same texts the full path
asks about: the redactor would act); an integer outside
the signed 64-bit range or a number that overflows a double (the full path names those); any value the
contract refuses. The one answer it gives besides an entry is the router's: an unknown tier is the same
:class:`~agent.parser.Rejected` either way.

Lines from other producers (no categories) miss every time; after :data:`MISS_STREAK` misses in a row
from one file only one line in :data:`RETRY_EVERY` of that file is tried, so they pay ~0.01 us instead
of ~2 us for the attempt, and another file's emitter lines keep their pass-through.

A line with only the contract's fields nests :data:`LINE_DEPTH` objects deep at most (line, ``audit``,
``changes``, one change); with ``inputs.max_depth`` below that the pass-through is off, so the parser's
depth limit applies to every line.

Because the document is the line itself, two things differ from a re-encoded document: numbers keep
their spelling (``1.50`` stays ``1.50``; the value is the same), and a line with a duplicate key reaches
Elasticsearch as written, which refuses it (``400``), so it is dead-lettered with Elasticsearch's reason
rather than shipped with the last value winning. Only the last copy of a duplicated key is checked here;
the earlier ones never reach an index (Elasticsearch refuses the line) and the dead-letter file keeps the
line as the source file already holds it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
import orjson

from auditlog.agent.batcher import Batch, Batcher, Stamp
from auditlog.agent.contract import ACTIONS_KNOWN, IP_KNOWN, action_ok, id_ok, is_ip, timestamp_ok
from auditlog.agent.enrich import Enricher
from auditlog.agent.harvester import Line
from auditlog.agent.linescan import Scan, Scanner, needed, scanner_for
from auditlog.agent.parser import DEFAULT_MAX_DEPTH, Parser, Rejected
from auditlog.agent.redact import Redactor
from auditlog.core.cache import BoundedCache
from auditlog.core.contract import CONTRACT, LONG_MAX, LONG_MIN, Contract, Field

# msgspec bounds ints to int64 only; larger ones (exact in the line) take the full path, which refuses
# those beyond 64 bits by name. Floats that overflow a double are refused by msgspec itself.
_Int = Annotated[int, msgspec.Meta(ge=LONG_MIN, le=LONG_MAX)]
_Scalar = str | _Int | float | bool | None

#: misses in a row (per file) after which attempts become rare, and how rare (one line in this many).
MISS_STREAK = 16
RETRY_EVERY = 256
#: object nesting depth of the deepest line the pass-through accepts (line > audit > changes > change).
LINE_DEPTH = 4
_STREAKS_LIMIT = 1024  # files remembered; a file forgotten starts its count afresh
ip_known = IP_KNOWN.get  # is_ip's remembered answers, looked up without the call
action_known = ACTIONS_KNOWN.get  # the same for action_ok's valid verbs


class _Change(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """Exactly ``{"old", "new"}``; values a redactor could not change (no objects inside)."""

    old: _Scalar | list[_Scalar]
    new: _Scalar | list[_Scalar]


#: fields whose pattern or format ``PassThrough._accept`` checks after the decode, with the validator's own
#: fast checks (id_ok, action_ok, timestamp_ok, is_ip); any other field's pattern is checked by msgspec.
CHECKED_AFTER_DECODE = frozenset({"@timestamp", "event.id", "event.action", "source.ip"})


def _value_type(f: Field) -> Any:
    """The msgspec type of one field's value (patterns and formats of :data:`CHECKED_AFTER_DECODE` aside).

    Raises:
        ValueError: for a type it has no msgspec type for, or a format outside :data:`CHECKED_AFTER_DECODE`
            (msgspec cannot check it).
    """
    checked_after = f.path in CHECKED_AFTER_DECODE
    if f.format is not None and not checked_after:
        raise ValueError(f"{f.path}: the pass-through has no check for the format {f.format!r}")
    if f.type == "integer":
        # the contract's range (a minimum narrows the 64-bit one, never replaces it: `audit.seq`, minimum 1,
        # once took any integer, so a 100-digit one was shipped as written while the full path refused it)
        low, high = f.bounds
        return Annotated[int, msgspec.Meta(ge=low, le=high)]
    if f.type == "string_list":
        return list[str]
    if f.type == "string_or_list":
        return str | list[str]
    if f.type == "changes":
        return dict[str, _Change]
    if f.type != "string":
        raise ValueError(f"{f.path}: the pass-through has no msgspec type for {f.type!r}")
    if f.enum:
        return Literal[f.enum]
    pattern = None if checked_after or f.pattern is None else f"^(?:{f.pattern})\\Z"
    if f.min_length is None and f.max_length is None and pattern is None:
        return str
    return Annotated[str, msgspec.Meta(min_length=f.min_length, max_length=f.max_length, pattern=pattern)]


def _struct(name: str, fields: list[tuple[str, Any, bool]]) -> Any:
    """A closed struct (unknown keys refused: they take the full path) of ``(key, type, required)`` fields."""
    specs: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    rename: dict[str, str] = {}
    for key, kind, required in fields:
        attr = key.lstrip("@")
        if attr != key:
            rename[attr] = key
        specs.append((attr, kind) if required else (attr, kind | None, None))
    return msgspec.defstruct(name, specs, kw_only=True, forbid_unknown_fields=True, gc=False, rename=rename or None,
                             module=__name__)


def line_type(contract: Contract = CONTRACT) -> Any:
    """Build the typed decode of a line the pass-through may ship as written, from the contract's definition.

    Only the contract's fields, nothing else, at any level. Required: the contract's required fields and
    what the enricher always adds (``event.id``, the ECS categories: absent, the full path must add them);
    a field the enricher adds only ``when`` another is present stays optional here and is checked after.

    Args:
        contract: the definition (:data:`auditlog.core.contract.CONTRACT`).

    Returns:
        The msgspec Struct type of one line (``@timestamp`` is its ``timestamp`` attribute).
    """
    top: list[tuple[str, Any, bool]] = []
    for key in contract.tops():
        members = contract.members(key)
        if not members:
            f = contract[key]
            top.append((key, _value_type(f), needed(contract, f)))
            continue
        inner = [(f.leaf or "", _value_type(f), needed(contract, f)) for f in members]
        holder = _struct(f"_{key.title().replace('_', '')}", inner)
        top.append((key, holder, any(needed for _, _, needed in inner)))
    return _struct("_Line", top)


_Line = line_type()


def _redactor_acts(redactor: Redactor, changes: dict[str, Any]) -> bool:
    """Whether the redactor would blank a change for its name: a secret name with a value not yet blanked.

    The emitter blanks secret-named changes before it writes them, so such a change already holds the
    replacement or ``null`` on each side, which blanking again leaves as it is.
    """
    blank = (None, redactor.replacement)
    is_secret = redactor.is_secret
    return any(is_secret(name) and (change.old not in blank or change.new not in blank)
               for name, change in changes.items())


class PassThrough:
    """Callable: line -> bulk ``create`` entry carrying the line itself, a routing rejection, or None (full path).

    After an entry, :attr:`stamp` holds its index, ``event.id``, ``@timestamp``, ``audit.stream`` and
    ``audit.seq`` (what tamper evidence needs, :mod:`agent.digest`), so nothing reads the entry again.
    """

    __slots__ = ("_decode", "_enabled", "_index_names", "_scan", "_scanner", "_streaks", "enricher", "stamp")

    def __init__(self, enricher: Enricher, max_depth: int = DEFAULT_MAX_DEPTH, *, native: bool = True) -> None:
        """Share the enricher's router and redaction rules; off when ``max_depth`` < :data:`LINE_DEPTH`.

        Args:
            enricher: the full path's enricher (router, redactor, shipper fields).
            max_depth: the parser's depth limit.
            native: check lines in C first where it is built (:mod:`agent.linescan`); ``False``: the Python
                path alone (the reference the tests compare the C check with).
        """
        self.enricher = enricher
        self._enabled = max_depth >= LINE_DEPTH
        self._decode = msgspec.json.Decoder(_Line).decode
        # the same check in C for the lines it is sure of (agent/linescan.py); None where it is not built
        redactor = enricher.redactor
        self._scanner: Scanner | None = None
        if native:
            self._scanner = scanner_for(None if redactor is None else redactor.clean_names,
                                        "" if redactor is None else redactor.replacement)
        self._scan: Scan | None = None if self._scanner is None else self._scanner.scan
        # file identity -> [misses in a row, lines left to skip]
        self._streaks: BoundedCache[str, list[int]] = BoundedCache(_STREAKS_LIMIT)
        # the router's action-line prefix -> its index name
        self._index_names: BoundedCache[bytes, str] = BoundedCache(_STREAKS_LIMIT)
        self.stamp: Stamp | None = None

    def __call__(self, line: bytes, key: str = "") -> bytes | Rejected | None:
        """Return ``{"create":...}\\n<line>\\n`` when the full path would ship ``line`` unchanged.

        Args:
            line: the line's bytes without the trailing newline.
            key: the identity of the file it came from (misses are counted per file).

        Returns:
            The bulk entry; the router's rejection (unknown tier); or ``None``: take the full path.
        """
        if not self._enabled:
            return None
        streak = self._streaks.get(key)
        if streak is None:
            streak = self._streaks.put(key, [0, 0])
        if streak[1]:
            streak[1] -= 1
            return None
        entry = self._accept(line)
        if entry is None:
            streak[0] += 1
            if streak[0] >= MISS_STREAK:
                streak[1] = RETRY_EVERY - 1
        else:
            streak[0] = 0
        return entry

    def run(self, lines: list[Line], start: int, key: str, path: str, block_end: int,
            batcher: Batcher) -> tuple[int, Batch | None]:
        """Feed the open batch the entries of a run of ``lines`` from ``start`` that the C check takes whole.

        The same entries, origins and stamps as calling this pass-through line by line and feeding each
        entry, without a Python frame per line (:meth:`agent.linescan.Scanner.run`); ``event.ingested`` is
        read once per run (a run is at most a batch: a few milliseconds of lines) rather than per line.
        A file whose lines keep missing (:data:`MISS_STREAK`) is left to the per-line path, which decides
        when to try again.

        Args:
            lines: a block's ``(offset, line)`` items.
            start: the index to begin at.
            key: the file's identity (the entries' origins).
            path: the file's path (the entries' origins).
            block_end: the offset the block ends at (an unterminated last line completes at most that).
            batcher: whose open batch the entries join.

        Returns:
            The index of the first line not taken (the caller runs it through :class:`EntryMaker`, which
            decides it as before), and the batch sealed when the run filled it, else ``None``.
        """
        scanner = self._scanner
        shipper = self.enricher.shipper
        if scanner is None or shipper is None or not self._enabled:
            return start, None
        streak = self._streaks.get(key)
        if streak is not None and streak[1]:  # skipping: the per-line path counts the skip down
            return start, None
        entries, origins, stamps, room_events, room_bytes = batcher.room()
        ingested, suffix = shipper.parts_now()
        redactor = self.enricher.redactor
        at, added, nbytes, end = scanner.run(lines, start, key, path, block_end, room_events, room_bytes, ingested,
                                             suffix, None if redactor is None else redactor.suspect_text, is_ip,
                                             entries, origins, stamps)
        if not added:
            return start, None
        if streak is not None:
            streak[0] = 0
        return at, batcher.took(key, added, nbytes, end)

    def _accept(self, line: bytes) -> bytes | Rejected | None:
        """The C line check's answer (:mod:`agent.linescan`), or the Python path's where it has none."""
        scan = self._scan
        found = None if scan is None else scan(line)
        if found is None:
            return self._decoded(line)
        event_id, timestamp, tier, stream, seq, id_json, id_end, ip, texts, prefix, index = found
        # texts is set when one holds '=', '://user@' or the like: the redactor's regexes decide, as on the Python path
        if texts is not None and self.enricher.redactor.suspect_text(texts):  # type: ignore[union-attr]
            return self._decoded(line)
        if ip is not None and not (ip_known(ip) or is_ip(ip)):  # None: no address, or one checked in C
            return None
        if prefix is None:  # the route memo had no answer: the router decides, and the memo learns it
            prefix = self.enricher.route(tier, timestamp)
            if type(prefix) is not bytes:
                return prefix
            index = self._index_names.get(prefix)
            if index is None:
                index = self._index_name(prefix)
            self._remember_route(tier, timestamp, prefix, index)
        shipper = self.enricher.shipper
        if shipper is None:
            entry = b"".join((prefix, id_json, b"}}\n", line, b"\n"))
        else:
            entry = shipper.entry_at(prefix, line, id_json, id_end)
        self.stamp = (index, event_id, timestamp, stream, seq)
        return entry

    def _remember_route(self, tier: str, timestamp: str, prefix: bytes, index: str) -> None:
        """Give the C check's route memo the router's answer and the window it holds in (a "...Z" timestamp only:
        the router converts other offsets first; without bounds the router has no window)."""
        enricher = self.enricher
        bounds = enricher.bounds
        if bounds is not None and timestamp[-1] == "Z" and self._scanner is not None:
            self._scanner.remember_route(tier, timestamp, prefix, index, enricher, enricher.bounds_window)

    def _decoded(self, line: bytes) -> bytes | Rejected | None:
        """The pass-through in Python: the reference, and the answer wherever the C check is not sure."""
        if line[:1] != b"{" or line[-1:] != b"}":
            return None
        try:
            e = self._decode(line)
        except (msgspec.DecodeError, ValueError):  # ValidationError included; invalid UTF-8 is a ValueError
            return None
        ev = e.event
        event_id = ev.id
        action = ev.action
        if not (id_ok(event_id) and (action_known(action) or action_ok(action)) and timestamp_ok(e.timestamp)):
            return None
        audit = e.audit
        changes = audit.changes
        if changes and audit.changed_fields is None:
            return None
        redactor = self.enricher.redactor
        if redactor is not None:
            # the texts the value-shape rules read, as decoded, in the order the full path joins them
            message = e.message
            texts = [message] if message is not None else []
            url = e.url
            if url is not None and url.full is not None:
                texts.append(url.full)
            if changes:
                # names cleared before need no look-up each; any other is asked (and cleared for next time)
                if not changes.keys() <= redactor.clean_names and _redactor_acts(redactor, changes):
                    return None
                add = texts.append
                for change in changes.values():
                    value = change.old  # unrolled: a loop over (old, new) costs more than the checks
                    if type(value) is str:
                        add(value)
                    elif type(value) is list:
                        texts += [v for v in value if type(v) is str]
                    value = change.new
                    if type(value) is str:
                        add(value)
                    elif type(value) is list:
                        texts += [v for v in value if type(v) is str]
            if redactor.suspect_text("\n".join(texts)):
                return None
        source = e.source
        if source is not None and (ip := source.ip) is not None and not (ip_known(ip) or is_ip(ip)):
            return None
        prefix = self.enricher.route(audit.tier, e.timestamp)
        if type(prefix) is not bytes:
            return prefix
        shipper = self.enricher.shipper
        entry: bytes | None
        if shipper is None:
            entry = b"".join((prefix, orjson.dumps(event_id), b"}}\n", line, b"\n"))
        else:  # the same fields the full path adds (agent.shipper), spliced while the entry is built
            user = e.user
            entry = shipper.entry(prefix, line, orjson.dumps(event_id), event_id, e.organization.id,
                                  user.id if user is not None else None)
            if entry is None:
                return None
        index = self._index_names.get(prefix)
        if index is None:
            index = self._index_name(prefix)
        self.stamp = (index, event_id, e.timestamp, audit.stream, audit.seq)
        return entry

    def _index_name(self, prefix: bytes) -> str:
        """The index a ``{"create":{"_index":<name>,"_id":`` prefix names (remembered, bounded)."""
        index = str(orjson.loads(prefix[prefix.index(b":", 10) + 1:prefix.rindex(b",")]))
        return self._index_names.put(prefix, index)


class EntryMaker:
    """Line -> bulk entry or rejection: the pass-through when it applies, else parse, validate and enrich.

    After an entry, :attr:`stamp` is the pass-through's :attr:`PassThrough.stamp` for it, or ``None``
    when the full path made it (then :func:`agent.digest.record_of` reads the document).
    """

    __slots__ = ("enricher", "parser", "passthrough", "stamp")

    def __init__(self, parser: Parser, enricher: Enricher) -> None:
        """Combine the full path's stages with a pass-through sharing the enricher."""
        self.parser = parser
        self.enricher = enricher
        self.passthrough = PassThrough(enricher, parser.max_depth)
        self.stamp: Stamp | None = None

    def __call__(self, line: bytes, key: str, offset: int) -> bytes | Rejected:
        """Return the bulk entry for one line, or why it cannot be shipped.

        Args:
            line: the line's bytes without the trailing newline.
            key: the identity of the file the line came from (for a derived ``event.id``).
            offset: the line's byte offset in that file.

        Returns:
            ``{"create":...}\\n<document>\\n`` or a :class:`~agent.parser.Rejected`.
        """
        passthrough = self.passthrough
        entry = passthrough(line, key)
        if type(entry) is bytes:
            self.stamp = passthrough.stamp
            return entry
        self.stamp = None
        if entry is None:
            ev = self.parser(line)
            entry = ev if isinstance(ev, Rejected) else self.enricher(ev, key, offset)
        return entry
