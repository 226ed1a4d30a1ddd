"""Render the one-line summary of an event from Jinja2 templates, never failing.

Template lookup, first hit wins, per language folder (``en``, ``de`` shipped here; a user folder
``DIR/<lang>/`` is searched before the shipped one, so any template can be overridden or added):

1. ``<source>.<action>.j2`` (e.g. ``appointments.update.j2``)
2. ``<source>.j2``
3. ``_<action>.j2`` (e.g. ``_delete.j2``: any source)
4. ``_default.j2``
5. a built-in sentence in Python ("Anna Keller update appointments (start, end)").

A template that is missing, does not compile, or fails while rendering (it runs with
``StrictUndefined`` so a reference to absent data is a failure, not an empty hole in the sentence)
is skipped and the next one is tried: the summary is never an error. Templates run in Jinja2's
sandbox because users may bring their own. Source and action names that are not plain identifiers
skip straight to the generic templates (no path tricks through event data).

Template context: ``worker`` (name, else email, else id), ``org``, ``source``, ``action``,
``outcome``, ``login_type``, ``object_id`` (last path segment of ``url.full`` when it looks like an id,
else ``None``), ``changes`` (``tui.diff.ChangeRow`` list), ``change`` (the first row or ``None``),
``fields`` (changed field names), ``e`` (the whole event). Filter ``v`` renders a value short and
unambiguous (``display_value``, cut at 40 characters); ``changelist`` renders rows as
``field: old → new``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from auditlog.tui.diff import ChangeKind, ChangeRow, diff_changes
from auditlog.tui.eventview import event_worker, object_id
from auditlog.tui.values import display_value

LANGUAGES: tuple[str, ...] = ("en", "de")
_SHIPPED = Path(__file__).with_name("templates")
_NAME_OK = re.compile(r"^[a-z0-9_][a-z0-9_.-]{0,63}$")
_SPACE = re.compile(r"\s+")
_VALUE_WIDTH = 40
_FALLBACK_SOMEONE = {"en": "someone", "de": "jemand"}


def _short(value: Any) -> str:
    text = _SPACE.sub(" ", display_value(value)).strip()
    if value == "":
        return '""'
    return text if len(text) <= _VALUE_WIDTH else text[: _VALUE_WIDTH - 1] + "…"


def _changelist(rows: list[ChangeRow], limit: int = 3) -> str:
    parts = []
    for row in rows[:limit]:
        if row.kind is ChangeKind.ADDED:
            parts.append(f"{row.field}: {_short(row.new)}")
        elif row.kind is ChangeKind.REMOVED:
            parts.append(f"{row.field}: {_short(row.old)} → ∅")
        else:
            parts.append(f"{row.field}: {_short(row.old)} → {_short(row.new)}")
    if len(rows) > limit:
        parts.append(f"+{len(rows) - limit}")
    return ", ".join(parts)


def _get(event: Mapping[str, Any], group: str, key: str) -> Any:
    value = event.get(group)
    return value.get(key) if isinstance(value, Mapping) else None


class _Environment(SandboxedEnvironment):
    """The sandbox with flat template globals (our globals are fixed before any template loads)."""

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        # Jinja's default is a ChainMap over the environment's globals; every render copies it into
        # a fresh context, and a ChainMap copy costs a quarter of a one-line summary. Jinja itself
        # advises against changing globals once a template is loaded, and this class never does.
        return {**self.globals, **(d or {})}


class Summarizer:
    """Summaries in one language, from shipped templates optionally overridden by a user folder."""

    def __init__(self, lang: str = "en", override_dir: Path | str | None = None) -> None:
        """Set up the template lookup for ``lang``.

        Args:
            lang: language folder (``en`` or ``de`` shipped; others only when ``override_dir`` has them).
            override_dir: folder with ``<lang>/*.j2`` templates that take precedence over the shipped ones.

        Raises:
            ValueError: when the language is neither shipped nor present in ``override_dir``.
        """
        folders: list[Path] = []
        if override_dir is not None and (Path(override_dir) / lang).is_dir():
            folders.append(Path(override_dir) / lang)
        if (_SHIPPED / lang).is_dir() and lang in LANGUAGES:
            folders.append(_SHIPPED / lang)
        if not folders:
            raise ValueError(f"no summary templates for language {lang!r} (shipped: {', '.join(LANGUAGES)})")
        self.lang = lang
        self._env = _Environment(
            loader=jinja2.FileSystemLoader([str(f) for f in folders]),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
        )
        self._env.filters["v"] = _short
        self._env.filters["changelist"] = _changelist
        self._chains: dict[tuple[str, str], list[jinja2.Template]] = {}

    def _chain(self, source: str, action: str) -> list[jinja2.Template]:
        key = (source, action)
        chain = self._chains.get(key)
        if chain is None:
            names = []
            if _NAME_OK.match(source) and _NAME_OK.match(action):
                names += [f"{source}.{action}.j2", f"{source}.j2"]
            if _NAME_OK.match(action):
                names.append(f"_{action}.j2")
            names.append("_default.j2")
            chain = []
            for name in names:
                try:
                    chain.append(self._env.get_template(name))
                except (jinja2.TemplateError, OSError, UnicodeDecodeError):
                    continue  # missing or broken: the next, more generic template will do
            self._chains[key] = chain
        return chain

    def summarize(self, event: Mapping[str, Any], rows: list[ChangeRow] | None = None) -> str:
        """Return the one-line summary of ``event`` (never raises, never empty).

        Args:
            event: a nested contract-v1 event (an Elasticsearch ``_source``).
            rows: ``diff_changes`` of the event's ``audit.changes`` when the caller has it already.

        Returns:
            The summary without line breaks.
        """
        audit = event.get("audit") if isinstance(event.get("audit"), Mapping) else {}
        assert isinstance(audit, Mapping)
        source = str(audit.get("source") or "")
        action = str(_get(event, "event", "action") or "")
        if rows is None:
            rows = diff_changes(audit.get("changes"))
        context = {
            "e": event,
            "worker": event_worker(event) or _FALLBACK_SOMEONE.get(self.lang, "someone"),
            "org": _get(event, "organization", "name") or _get(event, "organization", "id"),
            "source": source,
            "action": action,
            "outcome": _get(event, "event", "outcome"),
            "login_type": audit.get("login_type"),
            "object_id": object_id(event),
            "changes": rows,
            "change": rows[0] if rows else None,
            "fields": [row.field for row in rows],
        }
        for template in self._chain(source, action):
            try:
                text = _SPACE.sub(" ", template.render(context)).strip()
            except Exception:  # any template failure means "try the next one"
                continue
            if text:
                return text
        fields = f" ({', '.join(context['fields'])})" if rows else ""
        return f"{context['worker']} {action or '?'} {source or '?'}{fields}"
