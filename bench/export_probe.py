"""Run one export in its own process so its wall time and peak RSS can be measured in isolation.

``python -m bench.export_probe --es URL --prefix P -o FILE [--raw]`` prints one JSON line
``{"rows": N, "seconds": S}``. Without ``--raw`` it runs the product's export path: the query layer's
``EventStream`` (point in time + ``search_after``) into ``tui.export.xlsx.export_xlsx``. With ``--raw`` it
is the baseline: the same point-in-time scan with the plain client, ``_source`` only, no workbook.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

from elasticsearch import Elasticsearch

from indexer.tiers import TierTable


def raw_scan(client: Elasticsearch, pattern: str, batch: int = 2000) -> int:
    """Read every document of ``pattern`` newest first with PIT + ``search_after``; return how many."""
    pit = client.open_point_in_time(index=pattern, keep_alive="2m")["id"]
    rows = 0
    after = None
    try:
        while True:
            body = {"size": batch, "sort": [{"@timestamp": "desc"}, {"_shard_doc": "asc"}],
                    "pit": {"id": pit, "keep_alive": "2m"}, "track_total_hits": False}
            if after is not None:
                body["search_after"] = after
            hits = client.search(body=body)["hits"]["hits"]
            rows += len(hits)
            if len(hits) < batch:
                return rows
            after = hits[-1]["sort"]
    finally:
        client.close_point_in_time(id=pit)


def product_export(client: Elasticsearch, tiers: TierTable, out: str) -> int:
    """Export every event of ``tiers`` to ``out`` the way ``auditlog export`` does; return the row count."""
    from indexer.query import EventStream, Filter
    from tui.export.xlsx import export_xlsx

    stream = EventStream(client, tiers, Filter())
    return export_xlsx(stream, out, zone="Europe/Zurich", total=stream.total).rows


def main(argv: Sequence[str] | None = None) -> int:
    """Run one export and print its row count and duration as JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.export_probe")
    parser.add_argument("--es", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("-o", dest="out", required=True)
    parser.add_argument("--raw", action="store_true")
    args = parser.parse_args(argv)
    client = Elasticsearch(args.es, request_timeout=300)
    tiers = TierTable(prefix=args.prefix)
    start = time.perf_counter()
    rows = raw_scan(client, tiers.read_pattern) if args.raw else product_export(client, tiers, args.out)
    print(json.dumps({"rows": rows, "seconds": time.perf_counter() - start}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
