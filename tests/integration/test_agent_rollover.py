"""A day rollover under load: with the day's indices created ahead, the first events of a new UTC day
cost no longer request than any other moment of the run (the agent's own request latencies).

The agent runs in this process so that each latency it records (``Metrics.observe_bulk``) can be paired
with what its request carried: the sink records a request's latency on the thread that sent it, right
after the answer, so a client wrapper notes on that thread whether the body wrote into the new day.
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from elasticsearch import Elasticsearch

from auditlog.agent.config import load
from auditlog.agent.metrics import Metrics
from auditlog.agent.pipeline import Pipeline
from auditlog.agent.sink import client_options
from auditlog.indexer.ahead import create_ahead
from auditlog.indexer.client import make_client
from auditlog.indexer.setup import install_templates
from auditlog.indexer.tiers import TierTable
from tests.integration.agent_support import event_line, wait_count, write_config

LINES = 3000
SECONDS = 10.0  # written at a steady 300 lines/s, the timestamps advancing at the same pace
CHUNKS = 100
WARM_UP = 3  # the first requests open connections: not "normal" ones
FIRST_OF_DAY = 3  # requests into the new day's indices that would wait on index creation without create-ahead
_sent = threading.local()  # per sender thread: did its last request write into the new day?


class MarkingClient:
    """The agent's Elasticsearch client, noting per thread whether a bulk body writes into ``day``'s indices."""

    def __init__(self, client: Elasticsearch, day: bytes) -> None:
        self._client, self._day = client, day

    def options(self, **kw: Any) -> MarkingClient:
        return MarkingClient(self._client.options(**kw), self._day)

    def bulk(self, *, operations: bytes, filter_path: str) -> Any:
        _sent.new_day = self._day in operations
        return self._client.bulk(operations=operations, filter_path=filter_path)  # type: ignore[arg-type]


class RecordingMetrics(Metrics):
    """The agent's metrics, also keeping each request's latency and whether it wrote into the new day."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[tuple[bool, float]] = []
        self._lock_list = threading.Lock()

    def observe_bulk(self, seconds: float, *, answered: bool = True) -> None:
        with self._lock_list:
            self.requests.append((getattr(_sent, "new_day", False), seconds))
        super().observe_bulk(seconds, answered=answered)


def _warm_up(es: Elasticsearch) -> None:
    """Index a few thousand documents into a scratch index so a fresh node's first requests are not the measure."""
    name = f"warmup-{uuid.uuid4().hex[:8]}"
    body = b"".join(b'{"create":{"_index":"%s"}}\n%s' % (name.encode(), event_line(i)) for i in range(500))
    try:
        for _ in range(6):
            es.bulk(operations=body)  # type: ignore[arg-type]
    finally:
        es.indices.delete(index=name, ignore_unavailable=True)


def _lines(midnight: datetime) -> list[bytes]:
    """Event lines whose timestamps run from half the writing time before ``midnight`` to half after it."""
    first = midnight - timedelta(seconds=SECONDS / 2)
    out = []
    for i in range(LINES):
        event = orjson.loads(event_line(i))
        moment = first + timedelta(seconds=SECONDS * i / LINES)
        event["@timestamp"] = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
        out.append(orjson.dumps(event) + b"\n")
    return out


def test_rollover_under_load_stalls_no_request(es: Elasticsearch, es_url: str, namespace: TierTable,
                                               tmp_path: Path) -> None:
    """The new day's indices exist before the agent writes anything, and its first requests are not slower than
    twice the slowest other request of the run (or four median ones): the rollover has nothing to wait for."""
    now = datetime.now(UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    install_templates(es, namespace, ilm=False)  # what `auditlog setup` does, then the create-ahead job
    create_ahead(es, namespace, now)
    lines = _lines(midnight)
    _warm_up(es)
    log = tmp_path / "audit.jsonl"
    log.touch()
    config = write_config(tmp_path / "agent.toml", paths=[str(log)], state=tmp_path / "state", es_url=es_url,
                          prefix=namespace.prefix, metrics={"enabled": False}, batch={"max_events": 100})
    cfg = load(config)
    metrics = RecordingMetrics()
    client = make_client(cfg.connection(), **client_options())
    new_day = midnight.strftime("%Y.%m.%d").encode()
    pipeline = Pipeline(cfg, MarkingClient(client, new_day), metrics)  # type: ignore[arg-type]
    agent = threading.Thread(target=pipeline.run, daemon=True)
    agent.start()
    deadline = time.monotonic() + 60
    while pipeline.watcher is None and time.monotonic() < deadline:  # started: recovered, watching
        time.sleep(0.05)
    writing_from_ms = time.time() * 1000  # every request of the run is sent after this moment
    try:
        per_chunk = LINES // CHUNKS
        start = time.monotonic()
        with log.open("ab") as out:
            for c in range(CHUNKS):
                out.write(b"".join(lines[c * per_chunk:(c + 1) * per_chunk]))
                out.flush()
                time.sleep(max(0.0, start + (c + 1) * SECONDS / CHUNKS - time.monotonic()))
        arrived = wait_count(es, namespace, LINES)
    finally:
        pipeline.request_stop()
        agent.join(30)
        client.close()
    days = {name.rsplit("-", 1)[1] for name in es.indices.get(index=namespace.read_pattern)
            if es.count(index=name)["count"]}
    created = es.indices.get_settings(index=namespace.read_pattern, name="index.creation_date", flat_settings=True)
    made_late = [name for name, answer in created.items() if new_day.decode() in name
                 and int(answer["settings"]["index.creation_date"]) >= writing_from_ms]
    normal = metrics.requests[WARM_UP:]
    around = [s for new, s in normal if new][:FIRST_OF_DAY]
    elsewhere = [s for new, s in normal if not new] + [s for new, s in normal if new][FIRST_OF_DAY:]
    median = statistics.median([s for _, s in normal] or [0.0])
    # twice the noise: a quiet CI run once saw 45 ms at the rollover against 37 ms elsewhere; a stall on index
    # creation (create-ahead off) measured 6.0 s against at most 1.0 s elsewhere (docs/agent.md, Midnight). With
    # requests of 8-17 ms a busy test run saw one first write into the new day's shard take 54 ms: twice that is
    # the least bound (the causal check above stays exact)
    bound = max(2 * max(2 * median, max(elsewhere, default=0.0)), 0.11)
    worst = max(around, default=float("inf"))
    assert [] == made_late
    assert (LINES, 2, True) == (arrived, len(days), worst <= bound), (
        f"around the rollover max {worst:.3f}s of {len(around)}; elsewhere max {max(elsewhere, default=0):.3f}s; "
        f"median {median:.3f}s over {len(normal)} requests")
