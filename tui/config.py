"""What the TUI app needs to run: client, namespace, zone, summaries, customer view, clock and timings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from elasticsearch import Elasticsearch

from auditlog.indexer.client import safe_url
from auditlog.indexer.errors import describe_es_error
from auditlog.indexer.query.pit import DEFAULT_KEEP_ALIVE
from auditlog.indexer.tiers import TierTable
from auditlog.tui.access import CustomerView
from auditlog.tui.summaries import Summarizer


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class AppConfig:
    """Everything the app needs; injectable for tests (clock, zone, namespace)."""

    client: Elasticsearch
    tiers: TierTable = field(default_factory=TierTable)
    zone: str = "UTC"
    summarizer: Summarizer = field(default_factory=Summarizer)
    customer: CustomerView | None = None
    export_dir: Path = field(default_factory=lambda: Path("."))
    clock: Callable[[], datetime] = _utc_now
    live_interval: float = 2.0
    page_size: int = 100
    #: Seconds between touches of the listing's snapshot while the list is open (well under keep_alive).
    keepalive_interval: float = 60.0
    #: How long a listing's snapshot outlives its last use (Elasticsearch time unit).
    snapshot_keep_alive: str = DEFAULT_KEEP_ALIVE
    #: A client returning raw response bytes (``indexer.verify.raw_client_options``): turns on the
    #: background verification (status badge, ``v``, proof tab, export metadata). ``None``: off.
    verify_client: Elasticsearch | None = None
    #: The cluster's URL as the user gave it: named, in its safe form (no credentials), in every error shown.
    url: str | None = None

    def describe(self, exc: BaseException) -> str:
        """One line for a cluster error, naming the cluster's URL as the command line does.

        Args:
            exc: the error a request raised.

        Returns:
            ``indexer.errors.describe_es_error``'s line, with ``at URL`` (the safe form) where it names the cluster.
        """
        return describe_es_error(exc, url=self.url)

    @property
    def shown_url(self) -> str | None:
        """The cluster's URL without credentials, for the status line (``None`` when not given)."""
        return safe_url(self.url) if self.url else None
