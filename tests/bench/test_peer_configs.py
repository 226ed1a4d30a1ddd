"""The syslog-ng and Filebeat peers' generated configurations say what the benchmark claims they do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from auditlog import __version__
from auditlog.indexer.tiers import TierTable
from bench.shippers.agent import AgentLauncher
from bench.shippers.base import ShipTarget
from bench.shippers.filebeat import FilebeatLauncher
from bench.shippers.syslog_ng import SyslogNgLauncher


def _target(tmp_path: Path) -> ShipTarget:
    return ShipTarget(es_url="http://127.0.0.1:9299", tiers=TierTable(prefix="b1-audit"),
                      paths=(str(tmp_path / "in" / "*.jsonl"),), state_dir=tmp_path, batch_size=1500)


def test_syslog_ng_creates_with_event_id_and_ships_the_line_as_written(tmp_path: Path) -> None:
    """Bulk create with ``event.id`` as ``_id`` and the raw line as the document, batched at the run's size."""
    conf = SyslogNgLauncher().render(_target(tmp_path))
    assert '\\"create\\":{\\"_index\\":\\"b1-audit-${.class}-' in conf
    assert '\\"_id\\":\\"${.j.event.id}\\"}}\\n$MSG' in conf
    assert "batch-lines(1500)" in conf and 'url("http://127.0.0.1:9299/_bulk")' in conf
    assert f'base-dir("{tmp_path / "in"}") filename-pattern("*.jsonl") flags(no-parse)' in conf


def test_syslog_ng_routes_every_tier_of_the_table(tmp_path: Path) -> None:
    """Each tier of the tier table is matched to its retention class."""
    conf = SyslogNgLauncher().render(_target(tmp_path))
    assert 'match("^(business|whitelabel)$" value(".j.audit.tier"))) { rewrite { set("business"' in conf
    assert 'match("^(professional|flatrate|basic)$"' in conf and 'match("^(enterprise)$"' in conf


def test_filebeat_sends_create_with_event_id(tmp_path: Path) -> None:
    """``event.id`` is copied to ``@metadata._id`` (Filebeat then sends ``create``) and the line decodes to the root."""
    config = FilebeatLauncher().render(_target(tmp_path))
    processors: Any = config["processors"]
    assert [{"from": "event.id", "to": "@metadata._id"}] == processors[0]["copy_fields"]["fields"]
    inputs: Any = config["filebeat.inputs"]
    (inp,) = inputs
    assert [{"ndjson": {"target": "", "overwrite_keys": True, "add_error_key": True}}] == inp["parsers"]


def test_filebeat_routes_by_tier_into_daily_class_indices(tmp_path: Path) -> None:
    """Every tier lands in ``<prefix>-<class>-yyyy.MM.dd``; the default variant uses the run's batch size."""
    output: Any = FilebeatLauncher().render(_target(tmp_path))["output.elasticsearch"]
    routes = {r["index"]: sorted(c["equals"]["audit.tier"] for c in r["when"]["or"]) for r in output["indices"]}
    assert {"b1-audit-business-%{+yyyy.MM.dd}": ["business", "whitelabel"],
            "b1-audit-enterprise-%{+yyyy.MM.dd}": ["enterprise"],
            "b1-audit-professional-%{+yyyy.MM.dd}": ["basic", "flatrate", "professional"]} == routes
    assert 1500 == output["bulk_max_size"]


def test_filebeat_preset_variant_leaves_batching_to_the_preset(tmp_path: Path) -> None:
    """With ``preset: throughput`` the batch size is Filebeat's own, and the variant is named after it."""
    launcher = FilebeatLauncher(preset="throughput")
    output: Any = launcher.render(_target(tmp_path))["output.elasticsearch"]
    assert "throughput" == output["preset"]
    assert "bulk_max_size" not in output
    assert "filebeat (throughput)" == launcher.name


def test_the_agent_reports_the_installed_version() -> None:
    """The results record names the agent's version as installed, not "not installed"."""
    assert AgentLauncher().version() == f"auditlog {__version__}" != "auditlog 0+unknown"
