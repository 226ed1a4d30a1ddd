"""The ingest ceiling: pre-built bulk bodies posted straight to the node with urllib3.

Everything a shipper must do (read, parse, route, serialise) happens before the clock starts; what
is timed is only posting the bodies (same batch size as the shippers, ``workers`` connections in
parallel) until the node has indexed them. No shipper can beat this on the same node, so
"agent / ceiling" says how much of the node's capacity the agent leaves on the table.
"""

from __future__ import annotations

import resource
import threading
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import orjson
import urllib3

from auditlog.indexer.tiers import TierTable


class CeilingError(RuntimeError):
    """The node refused a pre-built bulk body."""


def build_bodies(path: Path, tiers: TierTable, batch_size: int) -> list[bytes]:
    """Return ``_bulk`` bodies of ``batch_size`` ``create`` actions for every line of ``path``.

    Args:
        path: JSON lines of contract events.
        tiers: routes each event to its daily index.
        batch_size: actions per body.

    Returns:
        The request bodies, in file order.
    """
    bodies: list[bytes] = []
    parts: list[bytes] = []
    with path.open("rb") as lines:
        for line in lines:
            doc = orjson.loads(line)
            index = tiers.index_for(doc["audit"]["tier"], datetime.fromisoformat(doc["@timestamp"]))
            parts.append(orjson.dumps({"create": {"_index": index, "_id": doc["event"]["id"]}}) + b"\n")
            parts.append(line if line.endswith(b"\n") else line + b"\n")
            if len(parts) >= 2 * batch_size:
                bodies.append(b"".join(parts))
                parts.clear()
    if parts:
        bodies.append(b"".join(parts))
    return bodies


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
