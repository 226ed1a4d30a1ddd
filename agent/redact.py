"""Redaction of secrets before an event is written, shipped or dead-lettered.

Two rules, both configurable:

**By name** (at any depth inside ``audit.changes`` and inside fields the contract does not define): a
name is secret when its *normalised* form (lowercased, ``_ - .`` and spaces dropped) contains one of
the configured ``keys``, or when one of its *words* (split at non-letters and camelCase humps:
``dbPass`` -> ``db``, ``pass``) is one of the configured ``words``. So ``api_key`` catches ``apiKey``,
``X-Api-Key`` and ``smtp.api_key``; ``password`` catches ``new_password``; the word ``pass`` catches
``db_pass`` and ``smtpPass`` but not ``passenger`` or ``bypass``. Substring matching over-redacts a
little (``token`` also hides ``token_count``); for an audit log that is the safe side: a leaked secret
cannot be taken back, a hidden counter can be looked up elsewhere. ``mode="exact"`` matches whole
normalised names only, for deployments that need it (words match the same either way).

Values of a secret field become ``"[REDACTED]"``; a ``null`` stays ``null`` so the trail still shows
"password was set" versus "password was changed".

**By value shape**, under any name, in ``audit.changes``' strings, ``url.full``, ``message`` and the
strings of fields the contract does not define: ``Bearer`` / ``Basic`` credentials, JWTs, URL userinfo
(``scheme://user:pw@``: the password, or a userinfo without one, becomes ``[REDACTED]``), PEM blocks,
and a value assigned to a secret name:

* ``name=value`` and ``name = value`` (query parameters, cookies, ``password=...`` in a message);
* ``name: value``, where the colon is followed by a blank or a quote (so ``12:30``, ``host:8443`` and
  ``://`` are not assignments); an HTTP auth scheme before the value stays (``Authorization: Token
  [REDACTED]``);
* JSON-style ``"name": value`` (escapes in the name are decoded first: ``"pass\\u0077ord"`` is
  ``password``; a nested object's own pairs are looked at too) and ``'name': value`` (a Python dict);
* ``<name>value</name>`` (XML; attributes are not read);
* ``\\"name\\": value`` (JSON inside a JSON string: a request body logged as text, a dead letter's raw line).

A value may be bare (up to a blank or one of ``& # ; ,``) or quoted with ``"`` or ``'`` (then up to the
closing quote on the same line; the quotes stay). An empty value and ``null`` / ``None`` stay: they hide
nothing. Prose that only mentions a name ("the password field", "Forgot your password?") is left alone.
One exception keeps prose readable where a colon is ambiguous: after ``name:`` a *bare* value counts only
when the name matches one of the ``keys``, not when it is secret only by one of the ``words`` (``pass: 3
of 5`` and ``sid: 4`` are ordinary text; ``pin: "1234"``, ``pin=1234`` and ``password: x`` are not). It
over-redacts on the safe side too: ``Password: reset`` loses the word "reset". Only the secret part is
replaced; the rest of the text stays readable.

:meth:`Redactor.suspect_text` is the cheap question asked before the value-shape rules run: the
texts those rules read (``message``, ``url.full``, the strings in ``audit.changes``) joined into one
string, searched for the literal each rule needs (for the assignment rules ``=``, a colon, ``</``: then
those rules run, their answer decides). ``False`` guarantees the rules would change nothing
(a property test checks it), so only suspect events pay for the walk; the agent's pass-through asks the
same question about the same texts, so both paths decide alike.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from enum import Enum
from pathlib import PurePath
from typing import Any, Literal

import msgspec
import orjson

from auditlog.core.cache import BoundedCache
from auditlog.core.contract import CONTRACT

__all__ = ["DEFAULT_SECRET_KEYS", "DEFAULT_SECRET_WORDS", "REDACTED", "RedactionSettingError", "Redactor"]

#: secret field names redacted by default (ARCHITECTURE.md), matched as substrings once normalised.
DEFAULT_SECRET_KEYS: tuple[str, ...] = (
    "password", "passwd", "passphrase", "passwort", "kennwort", "pwd", "secret", "token", "api_key", "apikey",
    "authorization", "cookie", "credential", "dsn", "jwt", "private_key", "session_id", "sessid",
)
#: short secret names matched only as whole words of a name (``pass`` would otherwise hide ``passenger``).
DEFAULT_SECRET_WORDS: tuple[str, ...] = ("pass", "sid", "pin")

#: the value a redacted secret is replaced with.
REDACTED = "[REDACTED]"

_DROP = str.maketrans("", "", "_-. ")
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_CACHE_LIMIT = 4096  # distinct field names remembered; apps use a few dozen

# Value shapes. ASCII-only classes and flags on purpose: Redactor.suspect_text looks for a literal each
# pattern needs (case-folded for bearer/basic), which is only sound when the patterns match no more.
_PEM = re.compile(r"-----BEGIN ([A-Z0-9 ]{1,64})-----.*?(?:-----END \1-----|\Z)", re.S)
# A JWT: "eyJ", at least two more characters of its first segment, and two more segments. Read by
# Redactor._jwts, a run of segment characters at a time: a match from an "eyJ" must take the run to its end (a
# segment stops only at a character outside it), so the first "eyJ" of a run decides for every later one in it
# (they leave fewer characters before the same end); a run that holds no JWT is skipped whole, and a text of
# "eyJeyJeyJ..." is read once, not once per "eyJ" (a 300 KB message took 10 s, quadratically)
_JWT_HEAD = re.compile(r"eyJ[A-Za-z0-9_-]*+")
_JWT_TAIL = re.compile(r"\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*")
_AUTH = re.compile(r"\b(bearer|basic)( +)([A-Za-z0-9._~+/-]{8,}=*)", re.I | re.A)
# The scheme is tried only from the start of a run of scheme characters (its leading non-letters kept in group 1):
# from any letter of a run it reaches the same "://", so the run's first letter decides, and a long run without
# "://" after it is read once instead of once per letter (quadratic: 400 KB of letters before a "://" took 2 min)
_USERINFO = re.compile(r"(?<![A-Za-z0-9+.-])([0-9+.-]*+[A-Za-z][A-Za-z0-9+.-]*://)([^/\s?#@]*)@", re.A)
_NAME = r"[A-Za-z0-9_.\-\[\]]"
# a quoted value ends on its line: Redactor.suspect_text reads several texts joined by newlines, and a value
# running on into the next text could swallow a secret there that scrubbing that text alone would find
_QUOTED = r"\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*'"
# name=value and name = value (query parameters, cookies, key=value logs). The name is possessive ({1,64}+): ":",
# "=" and blanks are no name characters, so only a whole run can precede them, and without backtracking into
# every word a text of prose costs one pass instead of a retry per character of each word (5 us per message)
_EQ = re.compile(rf"(?<!{_NAME})({_NAME}{{1,64}}+)([ \t]*=[ \t]*)({_QUOTED}|[^\s&#;,\"']*)")
# name: value. A colon counts only before a blank or a quote: "12:30", "host:8443" and "://" are not
# assignments (the C line check, agent/_linescan.c, relies on it to leave those texts alone). An HTTP auth
# scheme before the value stays readable; a bare value never starts with another "name:", so "failed:
# password: x" still reaches the password (the match would otherwise swallow its name)
_SCHEME = r"(?i:bearer|basic|token|digest|negotiate)[ \t]+"
_COLON = re.compile(rf"(?<!{_NAME})({_NAME}{{1,64}}+)([ \t]*:(?=[ \t'\"])[ \t]*)"
                    rf"({_QUOTED}|(?:{_SCHEME})?(?!{_NAME}+[ \t]*:[ \t'\"])[^\s&#;,\"']*|)")
# "name": value (JSON; the name may hold escapes such as \u0077, decoded before it is judged)
# A value that opens an object the match cannot take whole (nested, or not closed) is left empty: the pairs
# inside are the next matches (Redactor._pairs), instead of a recursion per level that a text like '":{":{...'
# ran out of (RecursionError) after a thousand levels; _BARE then takes such a value when its name is secret
_PAIR = re.compile(r'"((?:[^"\\]|\\.){1,64})"(\s*:\s*)("(?:[^"\\]|\\.)*"|\{[^{}]*\}|(?!\{)[^\s,}\]]+|(?=\{))')
_BARE = re.compile(r"[^\s,}\]]+")
# 'name': value (a Python dict's repr). Blanks and tabs only before the colon, for the same reason as _QUOTED;
# a bare value stops before brackets and quotes, so "{'a': {'password': ..." still reaches the inner pair
_SQPAIR = re.compile(rf"'((?:[^'\\\n]|\\.){{1,64}})'([ \t]*:[ \t]*)({_QUOTED}|[^\s,{{}}\[\]'\"]+)")
# \"name\": value (JSON inside a JSON string: a payload logged as text, a dead letter's raw line)
_EPAIR = re.compile(r'\\"((?:[^"\\]|\\[^"]){1,64})\\"([ \t]*:[ \t]*)(\\"(?:[^"\\]|\\[^"])*\\"|[^\s,}\]\\"]+)')
# <name>value</name> (XML, SOAP faults); attributes are not read
_ELEMENT = re.compile(rf"<({_NAME}{{1,64}})>([^<]*)</\1>")
_USERINFO_HINT = re.compile(r"://[^/\s?#@]*@", re.A)  # what _USERINFO needs, with a literal to search for
_NAME_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-[]"  # _NAME's class, for rstrip
_NAME_REACH = 96  # characters looked at before an operator: a name of 64 and the blanks around it
_EQ_SIGN = re.compile("=")  # the operators of _EQ and _COLON, found before their names are looked for
_COLON_SIGN = re.compile(r":(?=[ \t'\"])")

#: the contract's own fields per object, from its one definition: strings there are not free text (ids,
#: names, verbs; the texts the value-shape rules read are named in the module doc); other keys are scrubbed.
#: The pass-through decodes against the same definition, so both paths leave the same fields alone.
_CONTRACT: dict[str, frozenset[str]] = {
    top: frozenset(f.leaf for f in CONTRACT.members(top) if f.leaf) for top in CONTRACT.tops() if CONTRACT.members(top)
}
_TOP = frozenset(CONTRACT.tops())
_decode = msgspec.json.Decoder().decode

#: the types of JSON's own scalars (what the agent decodes): the walks take them as they are. Anything else an app
#: hands the emitter (a tuple, a dataclass, an enum, a set, a subclass of str or dict) is read as the JSON the
#: emitter's renderer will write for it (:func:`_plain`), so a secret inside is seen before orjson writes it.
_SCALARS = frozenset({str, int, float, bool, type(None)})
_NOT_JSON: Any = object()


def json_default(value: Any) -> Any:
    """Serialise what orjson does not know natively, the way an auditor would read it (the emitter's renderer)."""
    if isinstance(value, Decimal | PurePath):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _plain(value: Any) -> Any:
    """``value`` as the JSON the renderer writes for it, decoded (``_NOT_JSON``: it cannot; the renderer refuses it)."""
    try:
        return orjson.loads(orjson.dumps(value, default=json_default))
    except (orjson.JSONEncodeError, orjson.JSONDecodeError):
        return _NOT_JSON


def _normalise(name: str) -> str:
    return name.lower().translate(_DROP)


def _unescaped(name: str) -> str:
    """A quoted name as its writer meant it: ``pass\\u0077ord`` is ``password`` (escapes must not hide a name)."""
    if "\\" not in name:
        return name
    try:
        decoded = orjson.loads(f'"{name}"')
    except orjson.JSONDecodeError:  # not a JSON escape (a single-quoted name's \\'): the backslashes go
        return name.replace("\\", "")
    return decoded if type(decoded) is str else name


def _texts(event: Mapping[str, Any]) -> list[str]:
    """The texts the value-shape rules read in an event: ``message``, ``url.full``, strings in ``audit.changes``."""
    texts: list[str] = []
    message = event.get("message")
    if type(message) is str:
        texts.append(message)
    elif isinstance(message, str):  # a subclass (markupsafe's Markup, Django's SafeString): its text
        texts.append(str(message))
    url = event.get("url")
    if type(url) is dict and isinstance(full := url.get("full"), str):
        texts.append(str(full))
    audit = event.get("audit")
    if type(audit) is dict and type(changes := audit.get("changes")) is dict:
        _strings(changes, texts)
    return texts


def _strings(value: Any, out: list[str]) -> None:
    """Append every string value found inside ``value`` (not the keys) to ``out``."""
    for item in value.values() if type(value) is dict else value:
        kind = type(item)
        if kind is str:
            out.append(item)
        elif kind is dict or kind is list:
            _strings(item, out)
        elif kind not in _SCALARS and (plain := _plain(item)) is not _NOT_JSON:  # a tuple, a dataclass, ...
            _strings([plain], out)


class RedactionSettingError(ValueError):
    """A :class:`Redactor` argument that cannot be used; ``argument`` names it (``keys``, ``words``, ...)."""

    def __init__(self, argument: str, message: str) -> None:
        super().__init__(message)
        #: the constructor argument at fault, for a caller that names its own setting (``redact.words``)
        self.argument = argument


class Redactor:
    """Callable that returns ``audit.changes`` with the values of secret fields replaced; see the module doc."""

    __slots__ = ("_cache", "_clean", "_keys", "_mode", "_words", "clean_names", "known", "replacement")

    def __init__(
        self,
        keys: Iterable[str] = DEFAULT_SECRET_KEYS,
        *,
        words: Iterable[str] = DEFAULT_SECRET_WORDS,
        mode: Literal["substring", "exact"] = "substring",
        replacement: str = REDACTED,
    ) -> None:
        """Check and normalise the configuration once.

        Args:
            keys: secret names (see the module doc for how they match).
            words: secret names matched only as whole words of a field name.
            mode: ``"substring"`` (default) or ``"exact"`` for ``keys``.
            replacement: the string secrets become.

        Raises:
            RedactionSettingError: (a ValueError naming the argument) when ``keys`` or ``words`` is a bare
                string, ``keys`` is empty, a name is not a string or empty once normalised, or ``mode`` is
                unknown.
        """
        normalised = self._names(keys, "keys")
        if not normalised:
            raise RedactionSettingError(
                "keys", "at least one secret key name is required (pass redact=False to turn redaction off)")
        if mode not in ("substring", "exact"):
            raise RedactionSettingError("mode", f"mode must be 'substring' or 'exact', got {mode!r}")
        if not isinstance(replacement, str):
            raise RedactionSettingError("replacement", f"replacement must be a string, got {replacement!r}")
        self._keys: tuple[str, ...] = tuple(dict.fromkeys(normalised))
        self._words: frozenset[str] = frozenset(self._names(words, "words"))
        self._mode = mode
        self.replacement = replacement
        self._cache: BoundedCache[str, bool] = BoundedCache(_CACHE_LIMIT)
        #: ``name -> bool | None``: the remembered answer of :meth:`is_secret` (``None``: not asked yet, or forgotten)
        self.known = self._cache.get
        self._clean: BoundedCache[str, bool] = BoundedCache(_CACHE_LIMIT)
        #: names :meth:`is_secret` found not secret (a live set-like view, bounded): ``changes.keys() <=
        #: clean_names`` clears every name of an event at once; a name missing from it has to be asked
        self.clean_names = self._clean.keys()

    @staticmethod
    def _names(names: Iterable[str], what: str) -> list[str]:
        if isinstance(names, str):
            raise RedactionSettingError(what, f"{what} must be a list of names, not the string {names!r}")
        out: list[str] = []
        for name in names:
            if not isinstance(name, str):
                raise RedactionSettingError(what, f"secret key names must be strings, got {name!r}")
            norm = _normalise(name)
            if not norm:
                raise RedactionSettingError(what, f"secret key name {name!r} is empty once normalised")
            out.append(norm)
        return out

    def __repr__(self) -> str:
        return f"Redactor(keys={list(self._keys)!r}, words={sorted(self._words)!r}, mode={self._mode!r})"

    # -- names ----------------------------------------------------------------------------------

    def is_secret(self, name: str) -> bool:
        """Return whether a field called ``name`` holds a secret."""
        hit = self._cache.get(name)
        if hit is None:
            hit = self._is_key(name)
            if not hit and self._words:
                hit = any(word.lower() in self._words for word in _WORDS.findall(name))
            self._cache.put(name, hit)
            if not hit:
                self._clean.put(name, True)
        return hit

    def _is_key(self, name: str) -> bool:
        """Whether ``name`` matches one of the configured ``keys`` (the words left out)."""
        norm = _normalise(name)
        return norm in self._keys if self._mode == "exact" else any(key in norm for key in self._keys)

    def __call__(self, changes: Mapping[str, Any]) -> Any:
        """Return ``changes`` with the values of secret-named fields replaced (names only; see :meth:`event`).

        Args:
            changes: ``{field: {"old": v, "new": v}}`` (other shapes are scrubbed as plain values).

        Returns:
            ``changes`` itself when nothing needed redaction, else a new dict (the input is never mutated).
        """
        out: dict[str, Any] | None = None
        known = self.known
        for name, change in changes.items():
            secret = known(name)
            if secret is None:
                secret = isinstance(name, str) and self.is_secret(name)
            if secret:
                new_value = self._blank(change)
            elif type(change) is dict and len(change) == 2:
                # the usual {"old", "new"} pair: only nested values can hide secrets (one loop over
                # the values costs less than two lookups and two type checks)
                for value in change.values():
                    if type(value) not in _SCALARS:  # a dict, a list, or a value the renderer turns into JSON
                        break
                else:
                    continue
                new_value = self._deep(change, text=False)
            elif isinstance(change, dict | list):
                new_value = self._deep(change, text=False)
            else:
                continue
            if new_value is not change:
                if out is None:
                    out = dict(changes)
                out[name] = new_value
        return changes if out is None else out

    def _blank(self, change: Any) -> Any:
        if isinstance(change, Mapping) and ("old" in change or "new" in change):
            blanked = dict(change)
            for side in ("old", "new"):
                if blanked.get(side) is not None:
                    blanked[side] = self.replacement
            return blanked
        return None if change is None else self.replacement

    def _deep(self, value: Any, *, text: bool, names: bool = True) -> Any:
        """Redact secret names (``names``) and value shapes in strings (``text``) at any depth; ``value`` when clean."""
        if type(value) is str:
            return self.scrub_text(value) if text else value
        if isinstance(value, dict):
            out: dict[Any, Any] | None = None
            for key, item in value.items():
                if names and isinstance(key, str) and self.is_secret(key):
                    replaced: Any = None if item is None else self.replacement
                elif isinstance(item, dict | list) or (text and type(item) is str) or type(item) not in _SCALARS:
                    replaced = self._deep(item, text=text, names=names)
                else:
                    continue
                if replaced is not item:
                    if out is None:
                        out = dict(value)
                    out[key] = replaced
            return value if out is None else out
        if isinstance(value, list):
            items = [self._deep(item, text=text, names=names) for item in value]
            return value if all(a is b for a, b in zip(items, value, strict=True)) else items
        if type(value) in _SCALARS:
            return value
        plain = _plain(value)  # a tuple, a dataclass, an enum, a set, a str subclass: read as it will be written
        if plain is _NOT_JSON:
            return value
        clean = self._deep(plain, text=text, names=names)
        return value if clean is plain else clean

    # -- value shapes ---------------------------------------------------------------------------

    def scrub_text(self, text: str) -> str:
        """Return ``text`` with value-shaped secrets replaced (``text`` itself when there is none)."""
        original = text
        if "-----BEGIN" in text:
            text = _PEM.sub(lambda m: f"-----BEGIN {m[1]}-----{self.replacement}-----END {m[1]}-----", text)
        if "eyJ" in text:
            text = self._jwts(text)
        low = text.lower()
        if "bearer" in low or "basic" in low:
            text = _AUTH.sub(self._auth, text)
        if "://" in text:
            text = _USERINFO.sub(self._userinfo, text)
        text = self._assignments(text)
        return original if text == original else text  # a sub that kept every match still copies

    def _assignments(self, text: str) -> str:
        """``text`` with the values assigned to secret names replaced (``=``, ``:``, JSON, dict and XML forms)."""
        if "=" in text:
            text = _EQ.sub(self._param, text)
        if ": " in text or ":\t" in text or ":'" in text or ':"' in text:  # what _COLON needs
            text = _COLON.sub(self._param, text)
        if '"' in text:
            text = self._pairs(text)
        if "'" in text:
            text = _SQPAIR.sub(self._sqpair, text)
        if "</" in text:
            text = _ELEMENT.sub(self._element, text)
        if '\\"' in text:
            text = _EPAIR.sub(self._epair, text)
        return text

    def _jwts(self, text: str) -> str:
        """``text`` with every JWT-shaped token replaced (what ``eyJ[seg]{2,}\\.[seg]{2,}\\.[seg]*`` finds, leftmost
        first), in time linear in the text (see :data:`_JWT_HEAD`)."""
        parts: list[str] = []
        last = pos = 0
        while (head := _JWT_HEAD.search(text, pos)) is not None:
            tail = _JWT_TAIL.match(text, head.end()) if head.end() - head.start() >= 5 else None
            if tail is None:
                pos = head.end()  # no later "eyJ" of this run can start one either
                continue
            parts += (text[last:head.start()], self.replacement)
            last = pos = tail.end()
        return text if not parts else "".join(parts) + text[last:]

    def _auth(self, m: re.Match[str]) -> str:
        credential = m[3]
        if credential.isalpha() and credential.islower():  # a word ("basic subscription"), not a credential
            return m[0]
        return f"{m[1]}{m[2]}{self.replacement}"

    def _userinfo(self, m: re.Match[str]) -> str:
        user, colon, _password = m[2].partition(":")
        return f"{m[1]}{user}:{self.replacement}@" if colon else f"{m[1]}{self.replacement}@"

    def _param(self, m: re.Match[str]) -> str:
        """A :data:`_EQ` or :data:`_COLON` match with its value redacted when it assigns a secret."""
        name, sep, value = m[1], m[2], m[3]
        if value[:1] in ("'", '"'):
            if len(value) > 2 and self.is_secret(name):
                return f"{name}{sep}{value[0]}{self.replacement}{value[0]}"  # the quotes stay: it reads as written
            # a quoted value the match took along may hold an assignment of its own (note="password=x")
            inner = m.re.sub(self._param, value[1:-1])
            return m[0] if inner == value[1:-1] else f"{name}{sep}{value[0]}{inner}{value[0]}"
        cut = max(value.rfind(" "), value.rfind("\t")) + 1  # after an auth scheme, which stays
        if cut == len(value) or not self.is_secret(name):
            return m[0]  # an empty value hides nothing
        if ":" in sep and not self._is_key(name):
            # after a colon a bare value is prose as often as an assignment ("pass: 3 of 5", "sid: 4"): there
            # only the configured keys count, not the short words, which are ordinary English too
            return m[0]
        return f"{name}{sep}{value[:cut]}{self.replacement}"

    def _pairs(self, text: str) -> str:
        """``text`` with the values of JSON-style ``"name": value`` pairs with a secret name replaced.

        A loop, not ``sub``: after a pair whose value is an object, the search goes on *inside* it, so a
        nested object's own pairs are looked at, at any depth, in one pass over the text.
        """
        parts: list[str] = []
        last = pos = 0
        while (m := _PAIR.search(text, pos)) is not None:
            value = m[3]
            if value != "null" and self.is_secret(_unescaped(m[1])):
                end = m.end() if value else _BARE.match(text, m.end()).end()  # type: ignore[union-attr]
                parts += (text[last:m.start()], f'"{m[1]}"{m[2]}"{self.replacement}"')
                last = pos = end
            elif not value or value[0] == "{":
                pos = m.start(3)  # an object (the "{" starts no pair): its own pairs are next
            else:
                pos = m.end()
        return text if not parts else "".join(parts) + text[last:]

    def _sqpair(self, m: re.Match[str]) -> str:
        if m[3] in ("None", "null", "''", '""') or not self.is_secret(_unescaped(m[1])):
            return m[0]
        quote = m[3][0] if m[3][0] in "\"'" else ""
        return f"'{m[1]}'{m[2]}{quote}{self.replacement}{quote}"

    def _epair(self, m: re.Match[str]) -> str:
        if m[3] == "null" or not self.is_secret(_unescaped(m[1].replace("\\\\", "\\"))):
            return m[0]
        return f'\\"{m[1]}\\"{m[2]}\\"{self.replacement}\\"'

    def _element(self, m: re.Match[str]) -> str:
        return f"<{m[1]}>{self.replacement}</{m[1]}>" if m[2] and self.is_secret(m[1]) else m[0]

    def suspect_text(self, text: str) -> bool:
        """Return whether :meth:`scrub_text` could change ``text`` (or any of several texts joined by newlines).

        ``False`` is a guarantee, ``True`` only means "look closer"; cheaper than scrubbing.
        """
        if "eyJ" in text or "-----BEGIN" in text or '"' in text:
            return True
        low = text.lower()
        if "bearer" in low or "basic" in low:
            return True
        if "@" in text and _USERINFO_HINT.search(text) is not None:
            return True
        # the assignment rules themselves, each behind its literal (most texts hold none): exact by
        # construction, and a text that holds one is rare enough for the substitution's copy
        # (one-character searches first: a two-character one costs several times more; the colon of a URL is
        # in most texts that get here, and a compiled search finds ": " or ":\t" faster than two `in`s)
        if "'" in text or ("<" in text and "</" in text):
            return self._assignments(text) != text  # rare shapes (dicts, XML): the substitution answers exactly
        # "=" and ": " are common in prose and log messages ("login failed: ..."): ask only whether a match names
        # a secret, without the substitution's callbacks and copies (a quoted value returned True above)
        if "=" in text and self._names_a_secret(_EQ_SIGN, text):
            return True
        return ":" in text and self._names_a_secret(_COLON_SIGN, text)

    def _names_a_secret(self, operator: re.Pattern[str], text: str) -> bool:
        """Whether a name before an ``operator`` (``=``, or ``:`` before a blank or quote) in ``text`` is secret.

        What :meth:`_param` needs before it changes an ``_EQ`` or ``_COLON`` match is a secret name (and a value:
        not asked, so "True" only means "look closer"). The name is found from the operator backwards, without
        the rules themselves: a regex tried at every character of a message cost about 1.3 us per text, and the
        operators are few. Only a whole run of name characters of at most 64 counts, as in the rules.
        """
        for m in operator.finditer(text):
            start = max(0, m.start() - _NAME_REACH)
            head = text[start:m.start()].rstrip(" \t")
            run = len(head) - len(head.rstrip(_NAME_CHARS))
            if run == len(head) and start > 0:
                return True  # the run may go on before the slice: let the rules decide
            if 0 < run <= 64 and self.is_secret(head[-run:]):
                return True
        return False

    # -- whole events and lines -----------------------------------------------------------------

    def event(self, event: Mapping[str, Any], *, text: bool | None = None) -> Any:
        """Return ``event`` with every secret redacted: names and value shapes; see the module doc.

        Args:
            event: a decoded event (nested; other shapes are handled without raising).
            text: apply the value-shape rules to ``message``, ``url.full`` and ``audit.changes``: always
                (``True``), never (``False``), or when :meth:`suspect_text` finds those texts suspect
                (``None``). Fields the contract does not define always get both rules.

        Returns:
            ``event`` itself when nothing changed, else a copy (the input is never mutated).
        """
        if text is None:
            text = self.suspect_text("\n".join(_texts(event)))
        out: Any = event
        audit = event.get("audit")
        if type(audit) is dict:
            changes = audit.get("changes")
            if type(changes) is dict and changes:
                new = self(changes)
                if text:
                    new = self._deep(new, text=True, names=False)
                if new is not changes:
                    out = dict(event)
                    out["audit"] = {**audit, "changes": new}
        if text:
            for obj, key in (("url", "full"), ("", "message")):
                holder = out.get(obj) if obj else out
                value = holder.get(key) if type(holder) is dict else None
                if isinstance(value, str):
                    scrubbed = self.scrub_text(value)
                    if scrubbed is not value:
                        out = dict(out) if out is event else out
                        if obj:
                            out[obj] = {**holder, key: scrubbed}
                        else:
                            out[key] = scrubbed
        if not out.keys() <= _TOP:
            for key in out.keys() - _TOP:
                value = out[key]
                replaced: Any
                if isinstance(key, str) and self.is_secret(key):
                    replaced = None if value is None else self.replacement
                else:
                    replaced = self._deep(value, text=True)
                if replaced is not value:
                    out = dict(out) if out is event else out
                    out[key] = replaced
        for name, known in _CONTRACT.items():
            obj = out.get(name)
            if type(obj) is dict and not obj.keys() <= known:
                extra = {k: obj[k] for k in obj.keys() - known}
                clean = self._deep(extra, text=True)
                if clean is not extra:
                    out = dict(out) if out is event else out
                    out[name] = {**obj, **clean}
        return out

    def line(self, line: bytes) -> bytes:
        """Return a raw line (e.g. for a dead letter) with its secrets redacted; ``line`` itself when clean.

        A JSON line is redacted as a whole event (:meth:`event`) and re-encoded; anything else (invalid
        JSON, a truncated preview, bytes that are not UTF-8) gets the value-shape rules over its text (all
        the assignment forms of the module doc included, ``"name": value`` with an escaped name too).
        """
        try:
            obj = _decode(line)
        except (msgspec.DecodeError, RecursionError):
            obj = None
        if obj is not None:
            clean = self.event(obj, text=True) if type(obj) is dict else self._deep(obj, text=True)
            if clean is obj:
                return line
            try:
                return orjson.dumps(clean)
            except orjson.JSONEncodeError:  # an integer beyond 64 bits: redact the text instead
                pass
        text = line.decode("utf-8", "surrogateescape")
        scrubbed = self.scrub_text(text)
        return line if scrubbed is text else scrubbed.encode("utf-8", "surrogateescape")
