"""Hostile stored documents for the readers' tests, written with raw index requests (no agent in the way).

Each document is what a hostile or broken producer could get into Elasticsearch: a 400-digit integer
inside ``audit.changes``, a lone UTF-16 surrogate escape, names and ids that look like Textual/Rich
markup, and a 512-character id. They are sent as JSON text, so nothing on the way can reject them first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from elasticsearch import Elasticsearch

from auditlog.indexer.setup import install_templates
from auditlog.indexer.tiers import TierTable

BIG = int("9" * 400)
MARKUP_NAMES = ("Anna [Admin]", "[/]", "[b]x", "[link=https://evil.example]click[/link]")
LONG_ID = "L" * 512
MARKUP_ID = "[b]evil[/b]"
MARKUP_TENANT = "[red]org[/]"


@dataclass(frozen=True)
class Hostile:
    """One hostile document: its id and its source."""

    id: str
    source: dict[str, Any]


def _event(event_id: str, at: datetime, **extra: Any) -> dict[str, Any]:
    source: dict[str, Any] = {
        "@timestamp": at.isoformat().replace("+00:00", "Z"),
        "event": {"id": event_id, "action": "update", "outcome": "success"},
        "audit": {"source": "slots", "tier": "enterprise"},
        "organization": {"id": "org-hostile", "name": "Hostile AG"},
        "message": "hostile",
    }
    for key, value in extra.items():
        source[key] = {**source.get(key, {}), **value} if isinstance(value, dict) else value
    return source


def hostile_documents(now: datetime) -> list[Hostile]:
    """Return the corpus, newest first, every event in the hour before ``now``."""
    at = [now - timedelta(minutes=n + 1) for n in range(20)]
    docs = [
        Hostile("big-int", _event("big-int", at[0], audit={"changes": {"n": {"old": 1, "new": BIG}}})),
        Hostile("surrogate", _event("surrogate", at[1], message="a\ud800b")),
        Hostile(MARKUP_ID, _event(MARKUP_ID, at[2], user={"id": "w-mark", "name": "[b]x"})),
        Hostile(LONG_ID, _event(LONG_ID, at[3], user={"id": "w-long", "name": "Long Id"})),
        Hostile("tenant", _event("tenant", at[4], organization={"id": MARKUP_TENANT, "name": "[/]"})),
    ]
    for n, name in enumerate(MARKUP_NAMES):
        docs.append(Hostile(f"name-{n}", _event(f"name-{n}", at[5 + n], user={"id": f"w-{n}", "name": name},
                                                audit={"source": name, "changes": {name: {"old": name,
                                                                                          "new": "[/]"}}})))
    return docs


def index_hostile(client: Elasticsearch, tiers: TierTable, now: datetime) -> list[Hostile]:
    """Index the corpus into ``tiers`` (templates first) with one raw request per document, then refresh."""
    install_templates(client, tiers)
    docs = hostile_documents(now)
    for doc in docs:
        index = tiers.index_for("enterprise", datetime.fromisoformat(doc.source["@timestamp"].replace("Z", "+00:00")))
        body = json.dumps(doc.source)  # ensure_ascii: the lone surrogate travels as the escape \ud800
        client.perform_request("POST", f"/{index}/_create/{_quote(doc.id)}", body=body.encode(),
                               headers={"content-type": "application/json", "accept": "application/json"})
    client.indices.refresh(index=tiers.read_pattern)
    return docs


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")
