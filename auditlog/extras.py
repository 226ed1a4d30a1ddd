"""Which optional extra of ``auditlog-pipeline`` each command area needs, and the one line that says so.

The core distribution is the emitter alone (structlog, orjson); the commands that talk to
Elasticsearch or draw a terminal UI need an extra (see ``pyproject.toml``). A command whose imports
are missing is still listed by ``auditlog --help``; running it exits 1 with :func:`missing_extra_message`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Area:
    """One module of ``auditlog.commands``, the commands it registers and the extra it needs."""

    module: str
    commands: tuple[str, ...]
    extra: str


#: In ``auditlog --help`` order.
AREAS: tuple[Area, ...] = (
    Area("es", ("es",), "agent"),
    Area("admin", ("setup", "retention"), "agent"),
    Area("keys", ("keys",), "agent"),
    Area("show", ("show",), "agent"),
    Area("agent", ("agent", "dlq"), "agent"),
    Area("demo", ("demo",), "all"),
    Area("tui", ("tui", "export"), "tui"),
    Area("verify", ("verify",), "agent"),
)

#: Top-level import names the extras bring, with the extra that brings each.
MODULE_EXTRA: dict[str, str] = {
    "elasticsearch": "agent",
    "elastic_transport": "agent",
    "urllib3": "agent",  # elastic_transport's; indexer.client imports it directly (the request deadline)
    "watchdog": "agent",
    "jinja2": "agent",
    "cryptography": "agent",
    "textual": "tui",
    "rich": "tui",
    "openpyxl": "tui",
    "lxml": "tui",
}


def optional_module(exc: ModuleNotFoundError) -> str | None:
    """Return the top-level name of the missing module when an extra provides it, else None."""
    top = (exc.name or "").split(".", 1)[0]
    return top if top in MODULE_EXTRA else None


def missing_extra_message(extra: str, module: str) -> str:
    """One line telling the user what to install.

    Args:
        extra: the extra to install (``agent``, ``tui`` or ``all``).
        module: the import name that is missing.

    Returns:
        The message (no trailing newline).
    """
    return f"not installed (no module {module!r}): pip install 'auditlog-pipeline[{extra}]'"
