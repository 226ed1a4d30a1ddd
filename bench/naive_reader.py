"""The naive baseline shipper: read a file once and feed it to ``elasticsearch.helpers.streaming_bulk``.

What a developer writes in an afternoon: stdlib ``json`` per line, route with the tier table, bulk
``create`` with ``_id = event.id``. No tailing, no checkpoints, no retries beyond the helper's defaults.
Run as ``python -m bench.naive_reader --es URL --prefix P --batch-size N FILE...``; exits when done.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from elasticsearch import Elasticsearch
from elasticsearch.helpers import streaming_bulk

from auditlog.indexer.tiers import TierTable


def actions(paths: Sequence[str], tiers: TierTable) -> Iterator[dict[str, Any]]:
    """Yield one bulk ``create`` action per line of ``paths``."""
    for path in paths:
        with open(path, encoding="utf-8") as lines:
            for line in lines:
                doc = json.loads(line)
                yield {
                    "_op_type": "create",
                    "_index": tiers.index_for(doc["audit"]["tier"], datetime.fromisoformat(doc["@timestamp"])),
                    "_id": doc["event"]["id"],
                    "_source": doc,
                }


def main(argv: Sequence[str] | None = None) -> int:
    """Ship the files and print ``shipped=N failed=M``."""
    parser = argparse.ArgumentParser(prog="python -m bench.naive_reader")
    parser.add_argument("--es", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("files", nargs="+")
    args = parser.parse_args(argv)
    client = Elasticsearch(args.es, request_timeout=120)
    shipped = failed = 0
    for ok, _item in streaming_bulk(client, actions(args.files, TierTable(prefix=args.prefix)),
                                    chunk_size=args.batch_size, raise_on_error=False, max_retries=5):
        if ok:
            shipped += 1
        else:
            failed += 1
    print(f"shipped={shipped} failed={failed}")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
