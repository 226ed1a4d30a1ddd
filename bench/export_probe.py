"""The export baseline in its own process: read every event with a plain point-in-time scan, no workbook.

``python -m bench.export_probe --es URL --prefix P`` prints one JSON line ``{"rows": N, "seconds": S}``.
It is what ``auditlog export`` cannot go below: the same documents, newest first, through the plain
client with ``search_after``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

from elasticsearch import Elasticsearch

from auditlog.indexer.tiers import TierTable


def raw_scan(client: Elasticsearch, pattern: str, batch: int = 2000, tenant: str | None = None) -> int:
    """Read every document of ``pattern`` (or one tenant's) newest first with PIT + search_after; return the count."""
    pit = client.open_point_in_time(index=pattern, keep_alive="2m")["id"]
    rows = 0
    after = None
    try:
        while True:
            body: dict[str, Any] = {"size": batch, "sort": [{"@timestamp": "desc"}, {"_shard_doc": "asc"}],
                                    "pit": {"id": pit, "keep_alive": "2m"}, "track_total_hits": False}
            if tenant is not None:
                body["query"] = {"term": {"organization.id": tenant}}
            if after is not None:
                body["search_after"] = after
            hits = client.search(body=body)["hits"]["hits"]
            rows += len(hits)
            if len(hits) < batch:
                return rows
            after = hits[-1]["sort"]
    finally:
        client.close_point_in_time(id=pit)


def target_args(prog: str, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the flags naming what an export measurement reads: ``--es``, ``--prefix``, ``--tenant``."""
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--es", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--tenant", help="only this tenant's events (organization.id)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Scan every event and print the row count and duration as JSON."""
    args = target_args("python -m bench.export_probe", argv)
    client = Elasticsearch(args.es, request_timeout=300)
    start = time.perf_counter()
    rows = raw_scan(client, TierTable(prefix=args.prefix).read_pattern, tenant=args.tenant)
    print(json.dumps({"rows": rows, "seconds": time.perf_counter() - start}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
