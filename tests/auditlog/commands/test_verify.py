"""``auditlog verify``: usage errors exit 2 before anything is asked of a cluster; a node's answers end in one line."""

from __future__ import annotations

import json
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from auditlog.cli import main
from auditlog.indexer.tiers import TierTable
from tests.support.hostile_cluster import send_answer


def test_unreadable_pubkey_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A --pubkey file that does not exist is bad usage, named in one line."""
    assert main(["verify", "--pubkey", str(tmp_path / "nope.pem"), "--es", "http://127.0.0.1:9"]) == 2
    assert "--pubkey" in capsys.readouterr().err


def test_pubkey_that_is_no_key_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A --pubkey file without an Ed25519 public key is bad usage."""
    (tmp_path / "k.pem").write_text("not a key")
    assert main(["verify", "--pubkey", str(tmp_path / "k.pem"), "--es", "http://127.0.0.1:9"]) == 2
    assert "no PEM public key" in capsys.readouterr().err


def test_agent_key_public_prints_pem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``agent key --public`` prints a PEM public key and never the private one."""
    assert main(["agent", "key", "--public", "--state-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("-----BEGIN PUBLIC KEY-----") and "PRIVATE" not in out


class _SamePageNode(BaseHTTPRequestHandler):
    """A node that lists one events index and answers every search with the same page (``search_after`` ignored).

    After ``GIVE_IN`` searches it answers an empty page, so a verify that never stops fails instead of hanging.
    """

    GIVE_IN = 50
    searches = 0

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        path = self.path.split("?", 1)[0]
        index = TierTable().index_for_day("enterprise", date(2026, 1, 1))
        body: object
        if path.startswith("/_search"):
            type(self).searches += 1
            hits = [{"_index": index, "_id": "e1", "_score": None, "_source": {"n": 1}, "sort": [1]}]
            body = {"pit_id": "p", "hits": {"total": {"value": 1000, "relation": "eq"},
                                            "hits": hits if self.searches <= self.GIVE_IN else []}}
        elif path.startswith("/_cat/indices"):
            body = [{"index": index}]
        elif path.startswith("/_resolve/index"):
            body = {"indices": [{"name": index, "attributes": ["open"]}], "aliases": [], "data_streams": []}
        elif path.endswith("/_pit"):
            body = {"id": "p"} if self.command == "POST" else {"succeeded": True, "num_freed": 1}
        else:
            body = {}
        data = json.dumps(body).encode()
        send_answer(self, data)

    do_GET = do_POST = do_DELETE = _answer

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output quiet."""


def test_a_node_repeating_one_page_ends_verify_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """Verify against a node that answers every search with the same page exits 1 with one line, not endless paging."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SamePageNode)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        code = main(["verify", "--es", f"http://127.0.0.1:{server.server_address[1]}"])
    finally:
        server.shutdown()
        server.server_close()
    err = capsys.readouterr().err.strip()
    assert (code, len(err.splitlines()), "did not advance" in err) == (1, 1, True), err
    assert _SamePageNode.searches <= 4


def test_json_output_with_c1_controls_in_the_clusters_names_parses(monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """A digest id holding C1 controls and DEL (anyone who writes a digest index picks it) stays parseable JSON."""
    from auditlog.commands import verify as command
    from auditlog.indexer.verify import Problem, Report

    hostile = "d\u0085x\u009b2J\u007f"
    report = Report(problems=[Problem("signature", "audit.digest-enterprise-2026.12.05", f"digest {hostile}: malformed",
                                      digest_id=hostile)])
    monkeypatch.setattr(command, "verify", lambda *args, **kwargs: report)
    assert main(["verify", "--json", "--es", "http://127.0.0.1:9"]) == 1
    out = capsys.readouterr().out
    assert (json.loads(out)["problems"][0]["digest_id"], [c for c in out if 0x7F <= ord(c) < 0xA0]) == (hostile, [])


def test_a_line_feed_in_a_digest_id_does_not_forge_a_report_line(monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """A problem whose digest id holds a line feed is printed on one line: no forged "verified: ..." line."""
    from auditlog.commands import verify as command
    from auditlog.indexer.verify import Problem, Report

    hostile = "dy\nverified: 2 events, 2 proven"
    report = Report(problems=[Problem("signature", "audit.digest-enterprise-2026.12.05", f"digest {hostile}: malformed",
                                      digest_id=hostile)], expired=[f"{hostile}: 3 events (retention)"])
    monkeypatch.setattr(command, "verify", lambda *args, **kwargs: report)
    assert main(["verify", "--es", "http://127.0.0.1:9"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert (len(lines), [line for line in lines if line.startswith("verified")]) == (3, [])
