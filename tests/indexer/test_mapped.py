"""Whether an index's mapping is our template's (the pure part of indexer.mapped)."""

from __future__ import annotations

from typing import Any

from auditlog.indexer.mapped import DIGEST_FIELDS, EVENT_FIELDS, Misshapen, misshapen
from auditlog.indexer.templates import render_component_templates, render_digest_templates
from auditlog.indexer.tiers import TierTable

#: what Elasticsearch maps dynamically for an event sent before setup: strings as text + .keyword, dates as date
DYNAMIC: dict[str, Any] = {"properties": {
    "@timestamp": {"type": "date"},
    "event": {"properties": {"id": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}}},
    "organization": {"properties": {"id": {"type": "text",
                                           "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}}},
}}


def test_the_expected_types_are_those_the_product_relies_on() -> None:
    """Events: @timestamp date, organization.id and event.id keyword; digests: the fields verify --proof queries."""
    assert (EVENT_FIELDS, DIGEST_FIELDS) == (
        {"@timestamp": "date", "organization.id": "keyword", "event.id": "keyword"},
        {"@timestamp": "date", "digest.index": "keyword", "digest.first": "date", "digest.last": "date"})


def test_our_event_template_mapping_is_not_named() -> None:
    """The mapping our component template renders passes."""
    mapping = render_component_templates(TierTable())[1].body["template"]["mappings"]
    assert misshapen("audit-enterprise-2026.12.05", mapping, EVENT_FIELDS) is None


def test_our_digest_template_mapping_is_not_named() -> None:
    """The mapping our digest template renders passes the digest fields."""
    mapping = render_digest_templates(TierTable(), ilm=False)[0].body["template"]["mappings"]
    assert misshapen("audit.digest-enterprise-2026.12.05", mapping, DIGEST_FIELDS) is None


def test_dynamic_mappings_name_each_field_its_type_and_ours() -> None:
    """Dynamically mapped text fields are named with their type and the expected one; the date passes."""
    found = misshapen("audit-enterprise-2026.12.05", DYNAMIC, EVENT_FIELDS)
    assert found == Misshapen("audit-enterprise-2026.12.05", (("organization.id", "text", "keyword"),
                                                              ("event.id", "text", "keyword")))


def test_an_unmapped_field_and_another_date_type_are_named() -> None:
    """A field missing from the mapping is "not mapped"; date_nanos is not our date."""
    mapping = {"properties": {"@timestamp": {"type": "date_nanos"},
                              "event": {"properties": {"id": {"type": "keyword"}}},
                              "organization": {"type": "object"}}}
    found = misshapen("i", mapping, EVENT_FIELDS)
    assert found is not None and found.wrong == (("@timestamp", "date_nanos", "date"),
                                                 ("organization.id", None, "keyword"))


def test_the_cluster_state_shape_is_unwrapped() -> None:
    """A mapping as the cluster state gives it (under ``_doc``) is read like one from ``_mapping``."""
    assert misshapen("i", {"_doc": DYNAMIC}, EVENT_FIELDS) == misshapen("i", DYNAMIC, EVENT_FIELDS)


def test_an_empty_mapping_names_every_field() -> None:
    """An index with no mapping at all (created by hand, nothing written yet) lacks every field."""
    found = misshapen("i", {}, EVENT_FIELDS)
    assert found is not None and [f for f, _, _ in found.wrong] == list(EVENT_FIELDS)


def test_the_line_names_field_type_expected_and_both_remedies() -> None:
    """One line: the index, how many more, each field with its type and ours, and reindex or delete past retention."""
    line = Misshapen("audit-enterprise-2026.12.05", (("organization.id", "text", "keyword"),
                                                     ("@timestamp", None, "date"))).line(2)
    assert line == ("daily index audit-enterprise-2026.12.05 (and 2 more daily indices) was not made from our "
                    "template: organization.id is text (expected keyword), @timestamp is not mapped (expected date); "
                    "tenant keys, sorting or verify miss its events: reindex it into a correctly mapped index "
                    "(docs/elastic-admin.md, troubleshooting) or delete it once it is past retention")
