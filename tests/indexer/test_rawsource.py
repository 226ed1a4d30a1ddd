"""Raw search responses: each hit's _source exactly as Elasticsearch sent it."""

from __future__ import annotations

import orjson

from auditlog.indexer.rawsource import source_spans


def test_source_spans_are_the_stored_bytes() -> None:
    """Each hit's span is its _source exactly as Elasticsearch sent it, spacing and escapes included."""
    first, second = b'{"a":  1.50, "b":"\\u00e9", "c":{"sort":[1]}}', b'{"sort":[2],"_source":{}}'
    raw = (b'{"hits":{"hits":[{"_index":"i","_id":"1","_score":null,"_source":' + first + b',"sort":[0]},'
           b'{"_index":"i","_id":"2","_score":null,"_source":' + second + b',"sort":[1]}]}}')
    hits = orjson.loads(raw)["hits"]["hits"]
    assert [bytes(s) if s is not None else None for s in source_spans(raw, hits)] == [first, second]
