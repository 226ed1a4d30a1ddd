"""``auditlog show``: the event is printed as JSON that parses, whatever characters the cluster stored in it."""

from __future__ import annotations

import json
import os
from http.server import BaseHTTPRequestHandler

import pytest

from auditlog.cli import main
from auditlog.indexer.client import ANSWER_LIMIT
from tests.support.hostile_cluster import send_answer, serving
from tests.support.memory import command_growth
from tests.support.oversize import oversize_cluster

#: what the node stores: C1 controls (CSI, NEL), DEL and a bidi override, in a value and in a key
_SOURCE = {"@timestamp": "2026-12-01T00:00:00Z", "event": {"id": "e1", "action": "update"},
           "message": "a\u009b2J b\u007f c\u0085 d\u202e", "audit": {"changes": {"f\u009d0;t": {"new": 1}}}}


class _OneEventNode(BaseHTTPRequestHandler):
    """A node whose every search finds the one event ``_SOURCE``."""

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        data = json.dumps({"took": 1, "timed_out": False,
                           "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
                           "hits": {"hits": [{"_index": "audit-enterprise-2026.12.01", "_id": "e1",
                                              "_source": _SOURCE, "sort": [1]}]}}).encode()
        send_answer(self, data)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output quiet."""


def test_an_event_with_c1_controls_and_del_prints_as_json_that_parses(capsys: pytest.CaptureFixture[str]) -> None:
    """C1 controls, DEL and bidi marks in an event reach stdout as JSON escapes: the output parses to the event."""
    with serving(_OneEventNode) as url:
        code = main(["show", "e1", "--es", url])
    out = capsys.readouterr().out
    assert (code, json.loads(out), [c for c in out if 0x7F <= ord(c) < 0xA0 or c == "\u202e"]) == (0, _SOURCE, [])


@pytest.mark.parametrize("mode", ["fixed", "endless"])
def test_an_answer_over_the_bound_is_one_line_and_takes_no_memory_of_its_size(mode: str) -> None:
    """show against a body 1 MiB over the bound, or an endless one, exits 1 with one line; its memory stays bounded."""
    size = ANSWER_LIMIT + (1 << 20)
    with oversize_cluster(mode, size) as (url, _requests):
        found = command_growth(["show", "e1", "--es", url], env={**os.environ, "AUDITLOG_ES_URL": url})
    lines = found["stderr"].splitlines()
    # a declared length over the bound is refused before a byte; an endless body is read up to the bound only
    allowed = size // 2 if mode == "fixed" else ANSWER_LIMIT + size // 2
    assert (1, 1, True, True) == (found["code"], len(lines), "128 MiB bound" in lines[0] and len(lines[0]) <= 400,
                                  found["growth"] < allowed), (found["growth"], lines)


def test_an_id_that_is_not_utf8_exits_2_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    """An id holding bytes that are not UTF-8 is a usage error before any request (none could carry it)."""
    with pytest.raises(SystemExit) as exc:
        main(["show", "--es", "http://127.0.0.1:9", b"id\xff".decode("utf-8", "surrogateescape")])
    err = capsys.readouterr().err
    assert (2, True) == (exc.value.code, "argument ID: 'id\\udcff' holds bytes that are not UTF-8" in err), err
