"""The rsyslog peer's generated configuration says what the benchmark claims it does."""

from __future__ import annotations

from pathlib import Path

from auditlog.indexer.tiers import TierTable
from bench.shippers.base import ShipTarget
from bench.shippers.rsyslog import RsyslogLauncher


def _config(tmp_path: Path) -> str:
    target = ShipTarget(es_url="http://127.0.0.1:9299", tiers=TierTable(prefix="b1-audit"),
                        paths=(str(tmp_path / "in" / "*.jsonl"),), state_dir=tmp_path, batch_size=1500)
    return RsyslogLauncher().render(target)


def test_config_creates_with_event_id_as_bulk_id(tmp_path: Path) -> None:
    """Bulk create with the event id as _id, so a re-send is a 409 and never a duplicate."""
    conf = _config(tmp_path)
    assert 'writeoperation="create"' in conf
    assert 'bulkid="audit-id" dynbulkid="on"' in conf
    assert 'property(name="$!event!id")' in conf


def test_config_targets_the_run_namespace_and_batch(tmp_path: Path) -> None:
    """Indices are the run's prefix per class and day; the batch size is the run's."""
    conf = _config(tmp_path)
    assert 'constant(value="b1-audit-")' in conf
    assert 'serverport="9299"' in conf
    assert 'queue.dequeueBatchSize="1500"' in conf
    assert f'file="{tmp_path / "in" / "*.jsonl"}"' in conf
