"""Role descriptors and the file-realm roles.yml rendering (pure)."""

from __future__ import annotations

import json
from typing import Any

import yaml

from auditlog.indexer.security import READER, WRITER, role_descriptors, role_name, roles_yml
from auditlog.indexer.tiers import TierTable


def test_writer_may_only_append() -> None:
    """The writer gets a bulk create and auto_configure (not create_doc) on each class's daily events and digests
    indices only: Lucene regular expressions of the daily names, not the class patterns."""
    writer = role_descriptors(TierTable(prefix="x-audit"))["x-audit-writer"]
    day = r"[0-9]{4}\.(0[1-9]|1[0-2])\.(0[1-9]|[12][0-9]|3[01])"
    names = [rf"/x-audit-{cls}-{day}/" for cls in ("enterprise", "business", "professional")] + [
        rf"/x-audit\.digest-{cls}-{day}/" for cls in ("enterprise", "business", "professional")]
    indices = [{"names": names, "privileges": ["indices:data/write/bulk", "indices:data/write/index:op_type/create",
                                               "auto_configure"]}]
    expected: tuple[list[str], list[dict[str, Any]]] = ([], indices)
    assert expected == (writer["cluster"], writer["indices"])


def test_reader_may_only_read() -> None:
    """The reader gets read and view_index_metadata on each class's events and digests (never x-audit-*) only."""
    reader = role_descriptors(TierTable(prefix="x-audit"))["x-audit-reader"]
    names = ["x-audit-enterprise-*", "x-audit-business-*", "x-audit-professional-*", "x-audit.digest-enterprise-*",
               "x-audit.digest-business-*", "x-audit.digest-professional-*"]
    indices = [{"names": names, "privileges": ["read", "view_index_metadata"]}]
    expected: tuple[list[str], list[dict[str, Any]]] = ([], indices)
    assert expected == (reader["cluster"], reader["indices"])


def test_role_names_follow_the_namespace() -> None:
    """Roles are <prefix>-writer and <prefix>-reader."""
    expected = ["audit-writer", "audit-reader"]
    assert expected == [role_name(TierTable(), WRITER), role_name(TierTable(), READER)]


def test_roles_yml_holds_the_same_descriptors() -> None:
    """Each role in roles.yml has the cluster, names and privileges of its API descriptor."""
    tiers = TierTable(prefix="y-audit")
    text = roles_yml(tiers)
    parsed: dict[str, dict[str, object]] = {}
    current: dict[str, object] = {}
    for line in text.splitlines():
        if line.startswith('"'):
            current = parsed.setdefault(json.loads(line.rstrip(":")), {})
        elif ": " in line and not line.lstrip().startswith("#"):
            key, value = line.strip().lstrip("- ").split(": ", 1)
            current[key] = json.loads(value)
    expected = {name: {"cluster": d["cluster"], "names": d["indices"][0]["names"],
                       "privileges": d["indices"][0]["privileges"], "metadata": d["metadata"]}
                for name, d in role_descriptors(tiers).items()}
    assert expected == parsed


def test_roles_yml_keeps_regular_expressions_exact_through_yaml() -> None:
    """A YAML parser reads the writer's regular expressions back exactly, backslashes and a prefix's ' & é included."""
    tiers = TierTable(prefix="y.a+b'c&d~é")
    parsed = yaml.safe_load(roles_yml(tiers))
    expected = {name: d["indices"][0]["names"] for name, d in role_descriptors(tiers).items()}
    assert expected == {name: role["indices"][0]["names"] for name, role in parsed.items()}
