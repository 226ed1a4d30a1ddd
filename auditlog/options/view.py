"""Options shared by ``auditlog tui`` and ``auditlog export``: index namespace, time zone, language.

- ``--prefix`` / ``AUDITLOG_INDEX_PREFIX`` (default ``audit``): the index namespace, resolved by
  ``indexer.tiers.tiers_from_args`` like every other command.
- ``--tz`` / ``AUDITLOG_TZ`` / ``TZ`` (an IANA name such as ``Europe/Zurich``), default ``UTC``: the zone
  times are shown and exported in. A named zone is required (Excel dates carry none, so the header
  names it); offsets like ``+01:00`` are refused because they ignore daylight saving.
- ``--lang`` / ``AUDITLOG_LANG`` (``en`` or ``de``) and ``--templates DIR`` / ``AUDITLOG_TEMPLATES``:
  the summaries' language and the user's template folder (see ``tui.summaries``).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from auditlog.core.errors import UsageError
from auditlog.options.tiers import add_prefix_arg
from auditlog.tui.summaries import Summarizer


def add_view_args(parser: argparse.ArgumentParser) -> None:
    """Add ``--prefix``, ``--tz``, ``--lang`` and ``--templates`` to a command's parser."""
    group = parser.add_argument_group("display")
    group.add_argument("--tz", metavar="ZONE", help="IANA time zone for times (env AUDITLOG_TZ or TZ, default UTC)")
    group.add_argument("--lang", metavar="LANG", help="language of the summaries: en or de (env AUDITLOG_LANG)")
    group.add_argument("--templates", metavar="DIR",
                       help="folder with your own summary templates, DIR/<lang>/*.j2 (env AUDITLOG_TEMPLATES)")
    add_prefix_arg(parser)


def _pick(args: argparse.Namespace, attr: str, env: Mapping[str, str], *names: str) -> str | None:
    value = getattr(args, attr, None)
    if value:
        return str(value)
    for name in names:
        if env.get(name):
            return env[name]
    return None



def zone_from_args(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> str:
    """Return the chosen IANA zone name.

    Raises:
        UsageError: when the zone is unknown (the message names ``--tz``).
    """
    env = os.environ if env is None else env
    explicit = _pick(args, "tz", env, "AUDITLOG_TZ")
    zone = explicit or env.get("TZ", "").lstrip(":") or "UTC"
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file name
        if explicit:
            shown = zone if len(zone) <= 80 else f"{zone[:60]}... ({len(zone):,} characters)"
            raise UsageError(f"--tz: unknown time zone {shown!r} (use an IANA name like Europe/Zurich)") from None
        return "UTC"  # an odd TZ variable of the shell is not the user's choice here
    return zone


def summarizer_from_args(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> Summarizer:
    """Return the summarizer for the chosen language and template folder.

    Raises:
        UsageError: on a language without templates or a template folder that does not exist.
    """
    env = os.environ if env is None else env
    lang = _pick(args, "lang", env, "AUDITLOG_LANG") or "en"
    folder = _pick(args, "templates", env, "AUDITLOG_TEMPLATES")
    if folder is not None and not Path(folder).is_dir():
        raise UsageError(f"--templates: {folder!r} is not a folder")
    try:
        return Summarizer(lang, folder)
    except ValueError as exc:
        raise UsageError(f"--lang: {exc}") from None
