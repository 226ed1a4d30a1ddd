"""The published JSON Schema (2020-12) of an event contract, generated from its definition.

``python -m auditlog.core.schema`` writes ``docs/schema/audit-event-v1.json`` from
:data:`auditlog.core.contract.CONTRACT`; ``--check`` exits 1 when the file differs from what the
definition generates (``tests/auditlog/core/test_schema.py`` runs the same comparison). Other languages'
producers validate against that file.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from auditlog.core.contract import CONTRACT, SCHEMA_ID, Contract, Field

__all__ = ["EXAMPLE", "SCHEMA_PATH", "json_schema", "main", "render"]

#: where the repository publishes the v1 schema (relative to the repository root).
SCHEMA_PATH = Path("docs/schema/audit-event-v1.json")

#: a complete event, published as the schema's example (tests check both the schema and the validator take it).
EXAMPLE: dict[str, Any] = {
    "@timestamp": "2024-05-01T10:00:00.123456Z",
    "event": {"id": "018f3a7e-2c4b-7d10-9a3e-5b6c7d8e9f01", "action": "update", "outcome": "success",
              "kind": "event", "category": ["configuration"], "type": ["change"]},
    "audit": {"source": "appointments", "tier": "enterprise", "changes": {"start": {"old": "10:00", "new": "11:00"}},
              "changed_fields": ["start"]},
    "organization": {"id": "org-4711", "name": "Praxis Dr. Muster"},
    "user": {"id": "w-17", "name": "Anna Beispiel", "email": "anna@example.com", "roles": ["admin"]},
    "source": {"ip": "203.0.113.7"},
    "url": {"full": "https://app.example.com/appointments/4711"},
    "user_agent": {"original": "Mozilla/5.0"},
    "message": "moved appointment 4711",
}

_DESCRIPTION = (
    "One audit event: a nested, ECS-aligned JSON object per line (UTF-8, newline-terminated). Dotted top-level "
    'keys such as "event.action" are not part of the contract: nest them. Unknown extra fields are allowed and '
    "kept. Optional fields may be absent or null. Generated from auditlog/core/contract.py, the definition "
    "agent/contract.py's validator is generated from too."
)
_ITEMS = {"type": "string"}
_CHANGE = {"type": "object", "required": ["old", "new"], "properties": {"old": True, "new": True},
           "additionalProperties": False}


def _types(name: str, nullable: bool) -> str | list[str]:
    return [name, "null"] if nullable else name


def _field_schema(f: Field) -> dict[str, Any]:
    """The JSON Schema of one field's value (``null`` allowed when the field is optional)."""
    nullable = not f.required
    out: dict[str, Any] = {"description": f.description} if f.description else {}
    if f.type == "integer":
        out["type"] = _types("integer", nullable)
        out["minimum"], out["maximum"] = f.bounds
    elif f.type == "string_list":
        out.update(type=_types("array", nullable), items=_ITEMS)
    elif f.type == "string_or_list":
        out["anyOf"] = [{"type": _types("string", nullable)}, {"type": "array", "items": _ITEMS}]
    elif f.type == "changes":
        out.update(type=_types("object", nullable), additionalProperties=_CHANGE)
    elif f.enum:
        out["enum"] = [*f.enum, *([None] if nullable else [])]
    elif f.format == "ip":
        out["anyOf"] = [*([{"type": "null"}] if nullable else []),
                        {"type": "string", "format": "ipv4"}, {"type": "string", "format": "ipv6"}]
    else:
        out["type"] = _types("string", nullable)
        if f.format is not None:
            out["format"] = f.format
        if f.min_length is not None:
            out["minLength"] = f.min_length
        if f.max_length is not None:
            out["maxLength"] = f.max_length
        if f.pattern is not None:
            out["pattern"] = f"^{f.pattern}$"
    if f.examples:
        out["examples"] = list(f.examples)
    return out


def json_schema(contract: Contract = CONTRACT, *, example: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the JSON Schema of ``contract``.

    Args:
        contract: the definition.
        example: a valid event to publish as the schema's example (default :data:`EXAMPLE`).

    Returns:
        The schema as a JSON-ready dict.
    """
    properties: dict[str, Any] = {}
    required: list[str] = []
    for top in contract.tops():
        members = contract.members(top)
        if not members:
            f = contract[top]
            properties[top] = _field_schema(f)
            if f.required:
                required.append(top)
            continue
        inner = [f.leaf for f in members if f.required]
        obj: dict[str, Any] = {"description": contract.objects[top]} if top in contract.objects else {}
        obj["type"] = "object" if inner else ["object", "null"]
        if inner:
            obj["required"] = inner
            required.append(top)
        obj["properties"] = {f.leaf: _field_schema(f) for f in members}
        properties[top] = obj
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "auditlog audit event v1",
        "description": _DESCRIPTION,
        "type": "object",
        "required": required,
        "properties": properties,
        "examples": [EXAMPLE if example is None else example],
    }


def render(contract: Contract = CONTRACT) -> str:
    """Return the schema file's exact text (2-space indent, UTF-8 characters kept, a final newline)."""
    return json.dumps(json_schema(contract), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the v1 schema file, or with ``--check`` compare it; return the exit status.

    Args:
        argv: command-line arguments (default ``sys.argv[1:]``).

    Returns:
        0 when written or up to date; 1 when ``--check`` finds the file differs.
    """
    parser = argparse.ArgumentParser(prog="python -m auditlog.core.schema", description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, default=SCHEMA_PATH, help=f"the file (default {SCHEMA_PATH})")
    parser.add_argument("--check", action="store_true", help="exit 1 when the file differs from the definition")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.path.read_text(encoding="utf-8") if args.path.is_file() else ""
        if current != text:
            print(f"{args.path} differs from auditlog/core/contract.py; run python -m auditlog.core.schema",
                  file=sys.stderr)
            return 1
        return 0
    args.path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
