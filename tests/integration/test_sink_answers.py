"""The sink's client against the real node: the answer for created events is the one it knows by its bytes."""

from __future__ import annotations

from typing import Any

import pytest

from auditlog.agent.sink import FILTER_PATH, _BulkAnswers, client_options
from auditlog.indexer.client import ConnectionSettings, make_client
from auditlog.indexer.tiers import TierTable


def test_the_nodes_answer_for_created_events_is_known_without_parsing(
        es_url: str, namespace: TierTable, monkeypatch: pytest.MonkeyPatch) -> None:
    """Elasticsearch 9 answers three creates, filtered as the sink asks, with exactly the bytes the fast path knows;
    then one create of an id it holds answers 409, which is parsed."""
    answers: list[bytes] = []
    loads = _BulkAnswers.loads

    def recorded(self: _BulkAnswers, data: bytes) -> Any:
        answers.append(data)
        return loads(self, data)

    monkeypatch.setattr(_BulkAnswers, "loads", recorded)
    index = f"{namespace.prefix}-enterprise-2026.12.05"
    body = b"".join(b'{"create":{"_index":"%s","_id":"e%d"}}\n{"message":"m"}\n' % (index.encode(), n)
                    for n in range(3))
    client = make_client(ConnectionSettings(url=es_url), **client_options())
    try:
        # a ready body as bytes, as the sink sends it (the client's types name only lists of actions)
        created = client.bulk(operations=body, filter_path=FILTER_PATH).body  # type: ignore[arg-type]
        first = body[:body.index(b"\n", body.index(b"\n") + 1) + 1]
        again = client.bulk(operations=first, filter_path=FILTER_PATH).body  # type: ignore[arg-type]
    finally:
        client.close()
    assert (answers[0], created, again["items"][0]["create"]["status"]) == (
        _BulkAnswers()._all_created(3), {"errors": False, "items": [None] * 3}, 409)
