"""The ingest ceiling: pre-built bulk bodies posted straight to the node with urllib3.

Everything a shipper must do (read, parse, route, serialise) happens before the clock starts; what
is timed is only posting the bodies (same batch size as the shippers, ``workers`` connections in
parallel) until the node has indexed them. No shipper can beat this on the same node, so
"agent / ceiling" says how much of the node's capacity the agent leaves on the table.

The ceiling posts the lines as written. A second one posts the documents the agent makes of the same lines
(:func:`agent_entries`: the agent's own code adds ``event.ingested``, ``ecs``, ``agent`` and ``host``), so the
gap between the two is what those fields cost the node, and the agent's gap to the second is what its own
CPU and pacing cost. On shared cores both gaps count against "agent / ceiling".
"""

from __future__ import annotations

import resource
import threading
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path

import orjson
import urllib3

from auditlog.agent.config import load
from auditlog.agent.fastpath import EntryMaker
from auditlog.agent.parser import Parser
from auditlog.agent.shipper import ShipperFields
from auditlog.indexer.tiers import PREFIX_ENV, TierTable


class CeilingError(RuntimeError):
    """The node refused a pre-built bulk body."""


def line_entries(path: Path, tiers: TierTable) -> Iterator[bytes]:
    """Yield a ``create`` action and the line as written, for every line of ``path`` (the ceiling's documents).

    Args:
        path: JSON lines of contract events.
        tiers: routes each event to its daily index.

    Yields:
        ``{"create":...}\n<line>\n`` per line, in file order.
    """
    with path.open("rb") as lines:
        for line in lines:
            doc = orjson.loads(line)
            index = tiers.index_for(doc["audit"]["tier"], datetime.fromisoformat(doc["@timestamp"]))
            yield (orjson.dumps({"create": {"_index": index, "_id": doc["event"]["id"]}}) + b"\n"
                   + (line if line.endswith(b"\n") else line + b"\n"))


def agent_entries(path: Path, tiers: TierTable) -> Iterator[bytes]:
    """Yield the bulk entry the agent makes of every line of ``path``: its own code, ECS fields and routing.

    These are the documents the agent stores (``event.ingested``, ``ecs``, ``agent``, ``host`` added), made as
    the agent makes them under the bench's configuration (every setting at its default but the namespace:
    redaction, time bounds, depth limit), so a ceiling posted from them is the node's limit for the agent's
    documents rather than for the raw lines.

    Args:
        path: JSON lines of contract events.
        tiers: the namespace the entries route to.

    Yields:
        ``{"create":...}\n<document>\n`` per line, in file order.

    Raises:
        CeilingError: when the agent would not ship a line (a bench event file holds only valid events).
    """
    cfg = load(env={PREFIX_ENV: tiers.prefix})  # nothing set but the namespace, as the bench runs the agent
    make = EntryMaker(Parser(cfg["inputs.max_depth"]), cfg.enricher(ShipperFields.for_this_process()))
    with path.open("rb") as lines:
        for offset, line in enumerate(lines):
            entry = make(line.rstrip(b"\n"), "ceiling", offset)
            if not isinstance(entry, bytes):
                raise CeilingError(f"the agent would not ship line {offset + 1}: {entry.reason}")
            yield entry


def bodies_of(entries: Iterable[bytes], batch_size: int) -> list[bytes]:
    """Join bulk entries into request bodies.

    Args:
        entries: ``{"create":...}\n<document>\n`` entries.
        batch_size: entries per body.

    Returns:
        Bodies of ``batch_size`` entries each (the last may hold fewer), in order.
    """
    bodies: list[bytes] = []
    batch: list[bytes] = []
    for entry in entries:
        batch.append(entry)
        if len(batch) >= batch_size:
            bodies.append(b"".join(batch))
            batch.clear()
    if batch:
        bodies.append(b"".join(batch))
    return bodies


def build_bodies(path: Path, tiers: TierTable, batch_size: int) -> list[bytes]:
    """Return ``_bulk`` bodies of ``batch_size`` ``create`` actions for every line of ``path``.

    Args:
        path: JSON lines of contract events.
        tiers: routes each event to its daily index.
        batch_size: actions per body.

    Returns:
        The request bodies, in file order.
    """
    return bodies_of(line_entries(path, tiers), batch_size)


def post_bodies(es_url: str, bodies: Iterable[bytes], workers: int = 2) -> float:
    """Post ``bodies`` (a list, or a generator consumed once) to ``{es_url}/_bulk`` from ``workers`` threads.

    Returns:
        This process's CPU seconds spent.

    Raises:
        CeilingError: when any body is refused or has item errors.
    """
    pool = urllib3.PoolManager(maxsize=workers, retries=False, timeout=urllib3.Timeout(total=300))
    url = f"{es_url.rstrip('/')}/_bulk?filter_path=errors,items.*.error"
    headers = {"Content-Type": "application/x-ndjson"}
    lock = threading.Lock()
    cursor = iter(bodies)
    failures: list[str] = []

    def worker() -> None:
        while not failures:
            with lock:
                body = next(cursor, None)
            if body is None:
                return
            resp = pool.request("POST", url, body=body, headers=headers)
            if resp.status != 200 or b'"errors":true' in resp.data[:64]:
                failures.append(f"HTTP {resp.status}: {resp.data[:500]!r}")

    before = resource.getrusage(resource.RUSAGE_SELF)
    threads = [threading.Thread(target=worker, name=f"ceiling-{i}") for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    after = resource.getrusage(resource.RUSAGE_SELF)
    pool.clear()
    if failures:
        raise CeilingError(failures[0])
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
