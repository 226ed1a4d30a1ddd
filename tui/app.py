"""The Textual application: configuration, screens, and a command-palette entry for every key.

Entry point: ``auditlog tui`` (``auditlog.commands.tui``). Tests build ``AuditLogApp(AppConfig(...))`` directly
with their own client, index namespace, clock and time zone, so screenshots are stable.

Ending: ``q`` / ctrl+q, SIGTERM and SIGHUP (the terminal was closed) all end the app the same way, so the
terminal is restored (main screen, cooked mode, mouse reporting off) and the screens close their points in
time. Textual runs thread workers in asyncio's default executor, which ``asyncio.run`` and the interpreter
wait for at exit; the app makes that executor a :class:`~auditlog.core.background.DaemonExecutor`, so a
request hanging until its timeout does not keep the process alive after the app ended.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Iterable
from functools import partial
from typing import ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from auditlog.core.background import DaemonExecutor
from auditlog.tui.config import AppConfig
from auditlog.tui.screens.main import MainScreen
from auditlog.tui.terminal_input import tolerate_invalid_utf8

__all__ = ["AppConfig", "AuditLogApp"]

#: Signals that end the app like ``q`` does (SIGINT is a key in the app's raw terminal mode: ctrl+c).
EXIT_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class AuditLogApp(App[None]):
    """Browse, inspect and export audit events."""

    CSS_PATH = "app.tcss"
    TITLE = "auditlog"
    # priority: a dialog's own bindings and focused inputs see keys first, and ctrl+q must quit from any of them
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+q", "quit", "Quit", show=False, priority=True)]

    def __init__(self, config: AppConfig) -> None:
        super().__init__()
        tolerate_invalid_utf8()  # a byte the terminal sends that is not UTF-8 ended the app (tui/terminal_input.py)
        self.config = config
        if config.customer is not None:
            self.sub_title = f"{config.customer.tenant} (customer view)"
        #: The signal that ended the app (SIGTERM, SIGHUP), if one did; the exit code is then 128 + its number.
        self.ended_by: signal.Signals | None = None
        self._signals: list[signal.Signals] = []

    def on_load(self) -> None:
        # before any worker starts: every thread worker then runs in a daemon thread that the exit does not wait for
        asyncio.get_running_loop().set_default_executor(DaemonExecutor("auditlog-worker"))

    def on_mount(self) -> None:
        if not self.is_headless:  # tests (headless) share the test runner's process: its signals stay its own
            self._catch_signals()
        self.push_screen(MainScreen(self.config))

    def on_unmount(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in self._signals:  # back to the default: the app no longer runs to end it
            loop.remove_signal_handler(sig)
        self._signals.clear()

    def _catch_signals(self) -> None:
        """End the app cleanly on SIGTERM and SIGHUP (only the main thread may catch signals: elsewhere nothing)."""
        if threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()
        for sig in EXIT_SIGNALS:
            loop.add_signal_handler(sig, self.end_by_signal, sig)
            self._signals.append(sig)

    def end_by_signal(self, sig: signal.Signals) -> None:
        """Exit as ``q`` does, with the shell's code for a death by ``sig`` (128 + its number).

        Args:
            sig: the signal received.
        """
        self.ended_by = sig
        self.exit(return_code=128 + sig)

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """Offer every key binding of the active screen in the command palette, plus Textual's own."""
        yield from super().get_system_commands(screen)
        seen: set[str] = set()
        for key, active in screen.active_bindings.items():
            binding = active.binding
            if not binding.description or binding.action in seen or binding.action in ("app.quit", "quit"):
                continue
            seen.add(binding.action)
            shown = binding.key_display or self.get_key_display(binding)
            yield SystemCommand(binding.description, f"key: {shown or key}",
                                partial(self._run_binding, active.node, binding.action))

    async def _run_binding(self, node: object, action: str) -> None:
        await self.run_action(action, node)  # type: ignore[arg-type]
