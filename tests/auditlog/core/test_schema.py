"""The published JSON Schema is generated from the one contract definition, and the committed file is that output."""

from __future__ import annotations

from pathlib import Path

from auditlog.core.contract import CONTRACT
from auditlog.core.schema import SCHEMA_PATH, json_schema, main, render


def test_committed_schema_is_the_generated_one(repo_root: Path) -> None:
    """docs/schema/audit-event-v1.json is exactly what the definition generates (run python -m auditlog.core.schema)."""
    assert render() == (repo_root / SCHEMA_PATH).read_text(encoding="utf-8")


def test_check_fails_when_the_file_differs(tmp_path: Path) -> None:
    """--check exits 1 for a schema file that is not the generated one."""
    stale = tmp_path / "schema.json"
    stale.write_text("{}\n", encoding="utf-8")
    assert 1 == main([str(stale), "--check"])


def test_write_then_check_passes(tmp_path: Path) -> None:
    """A freshly written file passes --check."""
    target = tmp_path / "schema.json"
    main([str(target)])
    assert 0 == main([str(target), "--check"])


def test_every_required_field_is_required_by_the_schema() -> None:
    """Each required field of the definition is required in the schema, at the top or inside its object."""
    schema = json_schema()
    missing = []
    for f in CONTRACT:
        if not f.required:
            continue
        holder = schema if f.leaf is None else schema["properties"][f.top]
        if (f.leaf or f.path) not in holder["required"]:
            missing.append(f.path)
    assert [] == missing
