"""Describe a ``Filter`` for people: the export's metadata sheet and the TUI's status line (pure)."""

from __future__ import annotations

from datetime import datetime, tzinfo

from auditlog.indexer.query.filter import Filter


def _when(moment: datetime | None, tz: tzinfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z").strip() if moment else "any"


def describe_filter(flt: Filter, tz: tzinfo) -> list[tuple[str, str]]:
    """Return the filter as (label, value) pairs, every dimension listed, "any" when not restricted.

    Args:
        flt: the filter.
        tz: zone in which to show the time range.

    Returns:
        Pairs in a fixed order: tenant, workers, types, sources, since, until, text.
    """
    return [
        ("Tenants", ", ".join(flt.tenants) or "any"),
        ("Workers", ", ".join(flt.workers) or "any"),
        ("Types", ", ".join(flt.actions) or "any"),
        ("Sources", ", ".join(flt.sources) or "any"),
        ("Since", _when(flt.since, tz)),
        ("Until", _when(flt.until, tz)),
        ("Text", flt.text or "any"),
    ]
