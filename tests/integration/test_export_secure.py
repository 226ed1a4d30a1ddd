"""`auditlog export` on the secured node: TLS verified with the CA, authenticated; bad credentials refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pytest
from elasticsearch import Elasticsearch

from auditlog.cli import main
from auditlog.indexer.client import ConnectionSettings, make_client
from auditlog.indexer.tiers import TierTable
from tests.support.node import SecureNodeInfo
from tests.support.seed import SeedSummary, realistic_events, seeded_namespace

START = datetime(2026, 11, 20, tzinfo=UTC)
END = datetime(2026, 11, 21, tzinfo=UTC)


@pytest.fixture(scope="module")
def seeded(secure_node: SecureNodeInfo) -> Iterator[tuple[TierTable, SeedSummary]]:
    """200 events in a namespace of this module's own on the secured node."""
    client: Elasticsearch = make_client(ConnectionSettings(url=secure_node.url, username=secure_node.username,
                                                           password=secure_node.password,
                                                           ca_certs=secure_node.ca_certs))
    with seeded_namespace(client, realistic_events(200, seed=21, start=START, end=END), label="xsec") as seeded:
        yield seeded
    client.close()


def test_export_over_tls_with_basic_auth(secure_node: SecureNodeInfo, seeded: tuple[TierTable, SeedSummary],
                                         tmp_path: Path) -> None:
    """Every event is exported over verified TLS with user and password."""
    tiers, summary = seeded
    out = tmp_path / "secure.xlsx"
    status = main(["export", "--es", secure_node.url, "--ca-certs", secure_node.ca_certs, "--user",
                   secure_node.username, "--password", secure_node.password, "--prefix", tiers.prefix, "-o", str(out)])
    rows = list(openpyxl.load_workbook(out, read_only=True)["Events"].iter_rows(values_only=True))
    expected = (0, summary.count)
    assert expected == (status, len(rows) - 1)


def test_bad_api_key_is_a_clear_error(secure_node: SecureNodeInfo, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    """A rejected API key exits 1 with a message about the credentials, and writes nothing."""
    out = tmp_path / "denied.xlsx"
    status = main(["export", "--es", secure_node.url, "--ca-certs", secure_node.ca_certs, "--api-key",
                   "bm90LWEta2V5Om5vcGU=", "-o", str(out)])
    expected = (1, True, False)
    assert expected == (status, "rejected the credentials" in capsys.readouterr().err, out.exists())


def test_unverified_certificate_is_refused(secure_node: SecureNodeInfo, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """Without the CA the node's certificate is not trusted: exit 1 naming --ca-certs, no file."""
    out = tmp_path / "untrusted.xlsx"
    status = main(["export", "--es", secure_node.url, "--user", secure_node.username, "--password",
                   secure_node.password, "-o", str(out)])
    expected = (1, False)
    assert expected == (status, out.exists())
    assert "--ca-certs" in capsys.readouterr().err
