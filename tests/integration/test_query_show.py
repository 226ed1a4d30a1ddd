"""``auditlog show ID`` against the real node: prints the event, or one clear line and exit 1."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from elasticsearch import Elasticsearch

from auditlog.cli import main
from auditlog.indexer.tiers import TierTable
from tests.support.seed import realistic_events, seed_events

START = datetime(2026, 11, 15, tzinfo=UTC)
END = datetime(2026, 11, 16, tzinfo=UTC)


def test_show_prints_the_event_json(es: Elasticsearch, es_url: str, namespace: TierTable,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    """The event is printed as JSON equal to what was indexed, exit 0."""
    events = list(realistic_events(20, seed=9, start=START, end=END))
    seed_events(es, namespace, (dict(e) for e in events))
    wanted = events[7]
    status = main(["show", wanted["event"]["id"], "--prefix", namespace.prefix, "--es", es_url])
    out = capsys.readouterr().out
    assert status == 0
    assert wanted == json.loads(out)


def test_show_unknown_id_exits_1_with_a_line(es: Elasticsearch, es_url: str, namespace: TierTable,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """An id no index holds exits 1 and says it was not found where."""
    seed_events(es, namespace, realistic_events(3, seed=9, start=START, end=END))
    status = main(["show", "nope-123", "--prefix", namespace.prefix, "--es", es_url])
    err = capsys.readouterr().err
    assert status == 1
    assert f"auditlog show: event 'nope-123' not found in {namespace.read_pattern}\n" == err


def test_show_cluster_down_exits_1_with_a_line(capsys: pytest.CaptureFixture[str]) -> None:
    """An unreachable cluster exits 1 with one line naming the URL."""
    status = main(["show", "some-id", "--es", "http://127.0.0.1:9"])
    err = capsys.readouterr().err
    assert status == 1
    assert err.startswith("auditlog show: cannot reach Elasticsearch at http://127.0.0.1:9")
    assert len(err.strip().splitlines()) == 1


def test_show_bad_prefix_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """A malformed prefix is a usage error naming --prefix."""
    status = main(["show", "some-id", "--prefix", "Bad*Prefix"])
    assert status == 2
    assert "--prefix" in capsys.readouterr().err
