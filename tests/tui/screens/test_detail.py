"""The detail view: what a digest's writer chose (its id, its agent name) is drawn as text in the Proof tab."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from elasticsearch import ConnectionError as ESConnectionError
from elasticsearch import Elasticsearch

from auditlog.indexer.tiers import TierTable
from auditlog.tui.rowview import EventRow
from auditlog.tui.screens.detail import DetailScreen
from auditlog.tui.summaries import Summarizer
from tests.tui.support import make_app, screen_text, settle

#: a clipboard write (OSC 52, ended by ST) and a colour, as a forged digest's id and agent name
HOSTILE = "\x1b]52;c;ZWNobyBvd25lZA==\x1b\\\x1b[31mRED"


async def test_the_proof_tab_shows_a_hostile_digest_id_and_agent_as_escapes(tmp_path: Path) -> None:
    """A digest id and agent name holding escape sequences reach the Proof tab as visible escapes, never as ESC."""
    client = Elasticsearch("http://127.0.0.1:1", request_timeout=1, max_retries=0)  # nothing listens: never asked
    app = make_app(client, TierTable(prefix="t-proof"), tmp_path)
    event = {"@timestamp": "2026-11-20T12:00:00Z", "event": {"id": "e1", "action": "update"},
             "audit": {"source": "settings"}}
    row = EventRow.from_event(event, ZoneInfo("UTC"), Summarizer("en"))
    proof = [("Proof", "bad digest signature"), ("Digest", f"{HOSTILE} (agent {HOSTILE}, seq 1)")]
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await app.push_screen(DetailScreen(0, row, 1, lambda _i: row, lambda _i: None, lambda _r: None,
                                           prove=lambda _r: proof))
        await settle(pilot)
        await pilot.press("4")
        await settle(pilot)
        text = screen_text(app)
    assert ("\x1b" in text, "\\x1b]52;c;" in text) == (False, True)


async def test_a_failed_move_is_notified_naming_the_cluster_url(tmp_path: Path) -> None:
    """Moving to an event the cluster cannot give is notified in the app's one line, naming the cluster's safe URL."""
    client = Elasticsearch("http://127.0.0.1:1", request_timeout=1, max_retries=0)  # nothing listens: never asked
    app = make_app(client, TierTable(prefix="t-move"), tmp_path, url="http://elastic:s3cret@127.0.0.1:1")
    event = {"@timestamp": "2026-11-20T12:00:00Z", "event": {"id": "e1", "action": "update"}}
    row = EventRow.from_event(event, ZoneInfo("UTC"), Summarizer("en"))

    def fetch(index: int) -> EventRow:
        if index == 0:
            return row
        raise ESConnectionError("Connection refused")

    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await app.push_screen(DetailScreen(0, row, 2, fetch, lambda _i: None, lambda _r: None,
                                           describe=app.config.describe))
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        shown = [n.message for n in app._notifications]
    assert any(m.startswith("cannot reach Elasticsearch at http://***@127.0.0.1:1: ") for m in shown), shown
