"""The main screen's cluster errors name the cluster's URL (its safe form), as the command line does."""

from __future__ import annotations

from pathlib import Path

from elasticsearch import Elasticsearch

from auditlog.indexer.tiers import TierTable
from auditlog.tui.screens.main import MainScreen
from tests.tui.support import make_app, screen_text, settle

#: what the user passed as --es: nothing listens there, and the password must never be shown
URL = "http://elastic:s3cret@127.0.0.1:9"


async def _failed_main_screen(tmp_path: Path) -> tuple[str, str]:
    """The main screen's last error and its visible text after the first query met no cluster."""
    client = Elasticsearch("http://127.0.0.1:9", request_timeout=2, max_retries=0)
    app = make_app(client, TierTable(prefix="t-unreachable"), tmp_path, url=URL)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, MainScreen)
        return screen.last_error or "", screen_text(app)


async def test_the_notification_names_the_cluster_url(tmp_path: Path) -> None:
    """An unreachable cluster is notified as `cannot reach Elasticsearch at URL: ...`, the URL without its password."""
    error, _ = await _failed_main_screen(tmp_path)
    assert error.startswith("cannot reach Elasticsearch at http://***@127.0.0.1:9: "), error


async def test_the_status_line_names_the_cluster_url(tmp_path: Path) -> None:
    """The status line says which cluster is unreachable."""
    _, text = await _failed_main_screen(tmp_path)
    assert "✖ cluster at http://***@127.0.0.1:9 unreachable" in text, text


async def test_the_password_in_the_url_is_never_shown(tmp_path: Path) -> None:
    """Neither the error nor anything on the screen holds the URL's password."""
    error, text = await _failed_main_screen(tmp_path)
    assert ("s3cret" in error, "s3cret" in text) == (False, False)
