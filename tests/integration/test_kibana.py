"""`auditlog setup --kibana URL` against a local HTTP stub that records what Kibana would receive."""

from __future__ import annotations

import email.parser
import email.policy
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from auditlog.cli import main
from auditlog.indexer.tiers import TierTable


@dataclass
class Recorded:
    """One request the stub received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class KibanaStub:
    """A local HTTP server standing in for Kibana's saved-objects import API."""

    url: str
    requests: list[Recorded] = field(default_factory=list)
    status: int = 200
    reply: dict[str, Any] | None = None

    def objects(self, request: Recorded) -> list[dict[str, Any]]:
        """Parse the multipart body and return the saved objects of its ``file`` part."""
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode() + request.body
        )
        parts = [p for p in message.iter_parts() if p.get_param("name", header="content-disposition") == "file"]
        assert len(parts) == 1 and str(parts[0].get_filename()).endswith(".ndjson")
        payload = parts[0].get_payload(decode=True)
        assert isinstance(payload, bytes)
        return [json.loads(line) for line in payload.decode().splitlines() if line]


@pytest.fixture
def kibana() -> Iterator[KibanaStub]:
    """Serve the stub on a free local port."""
    stub = KibanaStub(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            stub.requests.append(Recorded("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            count = body.count(b'"type":')
            reply = stub.reply or {"success": True, "successCount": count, "successResults": []}
            data = json.dumps(reply).encode()
            self.send_response(stub.status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    stub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield stub
    server.shutdown()
    server.server_close()


def _setup(es_url: str, tiers: TierTable, *extra: str) -> int:
    return main(["setup", "--es", es_url, "--prefix", tiers.prefix, *extra])


def test_import_request_has_kibanas_shape(es_url: str, namespace: TierTable, kibana: KibanaStub) -> None:
    """One POST to /api/saved_objects/_import?overwrite=true with kbn-xsrf and a multipart ndjson file."""
    code = _setup(es_url, namespace, "--kibana", kibana.url, "--kibana-api-key", "a2V5OnNlY3JldA==")
    request = kibana.requests[0]
    expected = (0, 1, "POST", "/api/saved_objects/_import?overwrite=true", True, "ApiKey a2V5OnNlY3JldA==")
    assert expected == (code, len(kibana.requests), request.method, request.path, "kbn-xsrf" in request.headers,
                        request.headers["authorization"])
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")


def test_import_carries_data_view_search_and_dashboard(
    es_url: str, namespace: TierTable, kibana: KibanaStub
) -> None:
    """The file holds the data view (namespace pattern, @timestamp), the "Audit log" search and a dashboard."""
    _setup(es_url, namespace, "--kibana", kibana.url)
    objects = kibana.objects(kibana.requests[0])
    by_type = {o["type"]: o for o in objects}
    data_view = by_type["index-pattern"]["attributes"]
    search = by_type["search"]["attributes"]
    expected = ({"index-pattern", "search", "dashboard"}, namespace.read_pattern, "@timestamp",
                f"Audit log ({namespace.prefix})", [["@timestamp", "desc"]])
    assert expected == (set(by_type), data_view["title"], data_view["timeFieldName"], search["title"], search["sort"])
    ids = {(o["type"], o["id"]) for o in objects}
    assert all((ref["type"], ref["id"]) in ids for o in objects for ref in o["references"])


def test_two_namespaces_import_distinct_objects(es_url: str, namespace: TierTable, kibana: KibanaStub) -> None:
    """Setup for two prefixes sends objects with disjoint ids, so one Kibana space holds both."""
    other = TierTable(prefix=f"{namespace.prefix}-b")
    _setup(es_url, namespace, "--kibana", kibana.url)
    _setup(es_url, other, "--kibana", kibana.url)
    first, second = ({o["id"] for o in kibana.objects(r)} for r in kibana.requests)
    assert (3, 3, set()) == (len(first), len(second), first & second)


def test_saved_search_shows_the_seed_columns(es_url: str, namespace: TierTable, kibana: KibanaStub) -> None:
    """The saved search lists tenant, Source, Type, Worker, Changed and the message after the time column."""
    _setup(es_url, namespace, "--kibana", kibana.url)
    search = next(o for o in kibana.objects(kibana.requests[0]) if o["type"] == "search")
    expected = ["organization.name", "audit.source", "event.action", "user.name", "audit.changed_fields", "message"]
    assert expected == search["attributes"]["columns"]


def test_space_and_basic_auth(es_url: str, namespace: TierTable, kibana: KibanaStub) -> None:
    """--kibana-space imports under /s/<space>/ and user/password go as basic auth."""
    _setup(es_url, namespace, "--kibana", kibana.url, "--kibana-space", "support",
           "--kibana-user", "admin", "--kibana-password", "pw")
    request = kibana.requests[0]
    expected = ("/s/support/api/saved_objects/_import?overwrite=true", "Basic YWRtaW46cHc=")
    assert expected == (request.path, request.headers["authorization"])


def test_failed_import_exits_1_with_one_line(
    es_url: str, namespace: TierTable, kibana: KibanaStub, capsys: pytest.CaptureFixture[str]
) -> None:
    """When Kibana reports an object error, setup exits 1 with one line naming the object."""
    kibana.reply = {"success": False, "successCount": 2, "errors": [
        {"id": "auditlog-dashboard", "type": "dashboard", "error": {"type": "missing_references"}}]}
    code = _setup(es_url, namespace, "--kibana", kibana.url)
    err = capsys.readouterr().err.strip()
    expected = (1, 1, True)
    assert expected == (code, len(err.splitlines()), "dashboard auditlog-dashboard" in err)


def test_rejected_credentials_exit_1(
    es_url: str, namespace: TierTable, kibana: KibanaStub, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 401 from Kibana becomes one line saying the credentials were rejected."""
    kibana.status = 401
    kibana.reply = {"statusCode": 401, "error": "Unauthorized"}
    code = _setup(es_url, namespace, "--kibana", kibana.url)
    expected = (1, True)
    assert expected == (code, "rejected the credentials (401)" in capsys.readouterr().err)


def test_unreachable_kibana_exits_1(es_url: str, namespace: TierTable, capsys: pytest.CaptureFixture[str]) -> None:
    """A Kibana URL nobody listens on gives exit 1 and 'cannot reach Kibana'."""
    code = _setup(es_url, namespace, "--kibana", "http://127.0.0.1:9")
    expected = (1, True)
    assert expected == (code, "cannot reach Kibana at http://127.0.0.1:9" in capsys.readouterr().err)
