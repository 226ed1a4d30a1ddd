"""Detail of one event: Raw (old -> new per field), Meta (IP, URL, login type, user, agent), full JSON.

Previous/next walk the list without closing; rows not in memory are fetched in a worker through the
same callback the list uses, and the list's cursor follows, so closing returns to the event last seen.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static, TabbedContent, TabPane

from auditlog.core.contract import CONTRACT, Contract, F
from auditlog.indexer.decode import dumps_deep
from auditlog.indexer.errors import READ_ERRORS, describe_es_error
from auditlog.tui.diff import ChangeKind, diff_changes
from auditlog.tui.eventview import field
from auditlog.tui.rowview import EventRow
from auditlog.tui.values import display_value, printable

#: Fetches the row at an index (blocking; called in a worker thread); ``None`` past the end.
RowFetcher = Callable[[int], EventRow | None]

_KIND_STYLE = {ChangeKind.ADDED: "green", ChangeKind.REMOVED: "red", ChangeKind.CHANGED: "yellow",
               ChangeKind.UNCHANGED: "dim"}
_KIND_MARK = {ChangeKind.ADDED: "+ added", ChangeKind.REMOVED: "- removed", ChangeKind.CHANGED: "~ changed",
              ChangeKind.UNCHANGED: "= same"}
#: the Meta tab's order: labelled contract fields as support staff read them (where, who, whose, what).
_META_ORDER: tuple[str, ...] = (F.ip, F.url, F.login_type, F.worker_name, F.worker_id, F.worker_email,
                                F.worker_roles, F.user_agent, F.tenant_name, F.tenant, F.tier, F.outcome,
                                F.category, F.message, F.id)


def meta_fields(contract: Contract = CONTRACT) -> tuple[tuple[str, str], ...]:
    """Return the Meta tab's ``(label, path)`` rows: every labelled field of ``contract``, in ``_META_ORDER``
    first, then any other labelled field in the definition's order (a new field shows without an edit here)."""
    labels = {f.path: f.label or f.path for f in contract.labelled()}
    paths = [p for p in _META_ORDER if p in labels] + [p for p in labels if p not in _META_ORDER]
    return tuple((labels[p], p) for p in paths)


META_FIELDS: tuple[tuple[str, str], ...] = meta_fields()


def _shown(value: Any) -> str:
    return printable(display_value(value), multiline=True)


def raw_table(event: Mapping[str, Any]) -> Table | Text:
    """Return the Raw view: one line per changed field, kind marked by word and colour."""
    rows = diff_changes(field(event, F.changes))
    if not rows:
        return Text("This event records no changed values.", style="italic dim")
    table = Table(expand=True, box=None, header_style="bold")
    table.add_column("Field", ratio=2, min_width=14, overflow="fold")
    table.add_column("Change", width=10, no_wrap=True)
    table.add_column("Old", ratio=3, overflow="fold")
    table.add_column("New", ratio=3, overflow="fold")
    for row in rows:
        style = _KIND_STYLE[row.kind]
        old = Text(_shown(row.old), style="red" if row.kind is not ChangeKind.UNCHANGED else "")
        new = Text(_shown(row.new), style="green" if row.kind is not ChangeKind.UNCHANGED else "")
        if row.kind is ChangeKind.ADDED:
            old = Text("—", style="dim")
        if row.kind is ChangeKind.REMOVED:
            new = Text("—", style="dim")
        table.add_row(Text(printable(row.field)), Text(_KIND_MARK[row.kind], style=style), old, new)
    return table


def meta_table(event: Mapping[str, Any]) -> Table:
    """Return the Meta view: IP, URL, login type, user details, user agent and context."""
    table = Table(expand=True, box=None, show_header=False)
    table.add_column("key", style="bold", width=16, no_wrap=True)
    table.add_column("value", overflow="fold")
    for label, path in META_FIELDS:
        value = field(event, path)
        table.add_row(label, Text(_shown(value) if value is not None else "—",
                                  style="" if value is not None else "dim"))
    return table


class DetailScreen(Screen[int]):
    """One event's Raw, Meta and JSON; dismisses with the index last shown."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Back"),
        Binding("left,p", "step(-1)", "Previous"),
        Binding("right,n", "step(1)", "Next"),
        Binding("1", "tab('raw')", "Raw"),
        Binding("2", "tab('meta')", "Meta"),
        Binding("3", "tab('json')", "JSON"),
        Binding("4", "tab('proof')", "Proof"),
        Binding("d", "download", "Download"),
    ]
    DEFAULT_CSS = """
    DetailScreen #heading { height: auto; padding: 0 1; background: $boost; }
    DetailScreen TabbedContent { height: 1fr; }
    DetailScreen VerticalScroll { height: 1fr; }
    """

    def __init__(self, index: int, row: EventRow, total: int, fetch: RowFetcher,
                 on_move: Callable[[int], None], on_download: Callable[[EventRow], None], *,
                 prove: Callable[[EventRow], list[tuple[str, str]]] | None = None,
                 describe: Callable[[BaseException], str] = describe_es_error) -> None:
        """``prove`` (blocking, run in a worker) adds a Proof tab: the event's hash and its signed digest;
        ``describe`` turns a cluster error into the line shown (the app's names the cluster's URL)."""
        super().__init__()
        self.prove = prove
        self.describe = describe
        self.index = index
        self.row = row
        self.total = total
        self.fetch = fetch
        self.on_move = on_move
        self.on_download = on_download

    def compose(self) -> ComposeResult:
        yield Static(id="heading")
        with TabbedContent(initial="raw"):
            with TabPane("Raw", id="raw"), VerticalScroll():
                yield Static(id="raw-body")
            with TabPane("Meta", id="meta"), VerticalScroll():
                yield Static(id="meta-body")
            with TabPane("JSON", id="json"), VerticalScroll():
                yield Static(id="json-body")
            if self.prove is not None:
                with TabPane("Proof", id="proof"), VerticalScroll():
                    yield Static("checking…", id="proof-body")
        yield Footer(compact=True)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The Proof tab's key only where there is a Proof tab."""
        if action == "tab" and parameters == ("proof",):
            return self.prove is not None
        return True

    @work(thread=True, exclusive=True, group="proof", exit_on_error=False)
    def load_proof(self, row: EventRow) -> None:
        assert self.prove is not None
        try:
            rows = self.prove(row)
        except READ_ERRORS as exc:
            rows = [("Proof", f"not available: {self.describe(exc)}")]
        self.app.call_from_thread(self._show_proof, row, rows)

    def _show_proof(self, row: EventRow, rows: list[tuple[str, str]]) -> None:
        if row is not self.row:
            return
        table = Table(show_header=False, box=None)
        for label, value in rows:
            # the digest's id and agent name are whatever its writer chose: shown as text, escapes visible
            table.add_row(Text(printable(label), style="bold"), Text(printable(value)))
        self.query_one("#proof-body", Static).update(table)

    def on_mount(self) -> None:
        self.show(self.index, self.row)

    def show(self, index: int, row: EventRow) -> None:
        """Display ``row`` (at list position ``index``)."""
        self.index, self.row = index, row
        event = row.event
        heading = Text()
        heading.append(f"{row.time}  ", style="bold")
        heading.append(f"{row.source} · {row.action} · {row.worker or '—'}", style="bold")
        heading.append(f"   {index + 1:,} of {self.total:,}\n", style="dim")
        heading.append(row.summary)
        if row.problem:
            heading.append(f"\n{row.problem}", style="dim")
        self.query_one("#heading", Static).update(heading)
        self.query_one("#raw-body", Static).update(raw_table(event))
        self.query_one("#meta-body", Static).update(meta_table(event))
        text = printable(dumps_deep(event, indent=2, ensure_ascii=False, sort_keys=True, default=str), multiline=True)
        self.query_one("#json-body", Static).update(Syntax(text, "json", word_wrap=True, theme="ansi_dark"))
        if self.prove is not None:
            self.query_one("#proof-body", Static).update("checking…")
            self.load_proof(row)

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def action_step(self, delta: int) -> None:
        target = self.index + delta
        if 0 <= target < self.total:
            self.load(target)
        else:
            self.notify("No more events in this direction.", timeout=2)

    @work(thread=True, exclusive=True, group="detail", exit_on_error=False)
    def load(self, index: int) -> None:
        try:
            row = self.fetch(index)
        except READ_ERRORS as exc:
            self.app.call_from_thread(self._failed, self.describe(exc))
            return
        if row is not None:
            self.app.call_from_thread(self._moved, index, row)

    def _failed(self, message: str) -> None:
        self.notify(message, severity="error", markup=False)

    def _moved(self, index: int, row: EventRow) -> None:
        self.show(index, row)
        self.on_move(index)

    def action_download(self) -> None:
        self.on_download(self.row)

    def action_close(self) -> None:
        self.dismiss(self.index)
