"""``auditlog dlq replay``: re-validate dead letters and ship the ones that now pass, idempotently.

Each dead letter is parsed, validated and routed again with the current configuration (a fixed
tier table, a raised limit...) and sent with bulk ``create`` under the same ``_id`` it would have had
(its own ``event.id``, or the deterministic id of its original file identity and offset). Created
(201) and already-present (409) entries are recorded in ``deadletter.replayed`` and no longer listed;
entries that still fail stay, with the new reason reported. Running replay twice ships nothing twice.
Truncated entries (lines over ``inputs.max_line_bytes``) hold only a preview and cannot be replayed
from the dead-letter file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from elasticsearch import Elasticsearch

from auditlog.agent.batcher import Batch, Batcher, BatchSettings
from auditlog.agent.deadletter import DeadLetter, mark_replayed, read_records
from auditlog.agent.enrich import Enricher
from auditlog.agent.parser import BLANK, Parser
from auditlog.agent.sink import RetrySettings, Sink


@dataclass
class ReplayResult:
    """What a replay did."""

    delivered: int = 0
    failed: list[tuple[DeadLetter, str]] = field(default_factory=list)


def replay(
    state_dir: str | Path,
    client: Elasticsearch,
    parser: Parser,
    enricher: Enricher,
    *,
    batch: BatchSettings | None = None,
    retry: RetrySettings | None = None,
) -> ReplayResult:
    """Re-ship the dead letters of ``state_dir``.

    Args:
        state_dir: the agent's state directory.
        client: Elasticsearch client.
        parser: the parser built from the current configuration.
        enricher: the enricher built from the current configuration.
        batch: bulk request bounds.
        retry: backoff for transient errors (retried until they succeed, like the agent).

    Returns:
        How many were delivered and which still fail, with the reason.
    """
    result = ReplayResult()
    batcher = Batcher(batch or BatchSettings())
    failures: dict[str, str] = {}

    def dead(dl: DeadLetter) -> None:
        failures[dl.key] = dl.reason

    sink = Sink(client, retry=retry, dead_letter=dead)

    def send(b: Batch | None) -> None:
        if b is None or not b.entries:
            return
        sink.send(b)
        done = []
        for key, _path, offset, _line in b.origins:
            k = f"{key}:{offset}"
            if k in failures:
                continue
            done.append(k)
        mark_replayed(state_dir, done)
        result.delivered += len(done)

    for rec in read_records(state_dir):
        dl = DeadLetter.from_json(rec)
        if "raw" in rec:
            continue
        if dl.truncated:
            result.failed.append((dl, "truncated line: only a preview was kept, it cannot be replayed"))
            continue
        ev = parser(dl.line)
        if ev is BLANK:
            mark_replayed(state_dir, [dl.key])
            continue
        if not isinstance(ev, dict):
            result.failed.append((dl, ev.reason))
            continue
        entry = enricher(ev, dl.identity or dl.file or "dead-letter", dl.offset)
        if not isinstance(entry, bytes):
            result.failed.append((dl, entry.reason))
            continue
        send(batcher.feed(entry, (dl.identity, dl.file, dl.offset, dl.line), dl.offset + len(dl.line) + 1))
    send(batcher.flush())
    for key, reason in failures.items():
        identity, _, offset = key.rpartition(":")
        result.failed.append((DeadLetter(reason, b"", int(offset), "", identity, "index"), reason))
    return result
