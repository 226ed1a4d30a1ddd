"""Tests for tui.eventview: reading the shown fields from an event."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import pytest

from auditlog.tui.eventview import event_time, event_worker, field, field_getter, object_id


def test_field_reads_nested_and_dotted_keys() -> None:
    """A dotted path finds nested objects and literal dotted keys."""
    expected = ("Anna", "x")
    assert expected == (field({"user": {"name": "Anna"}}, "user.name"), field({"user.name": "x"}, "user.name"))


def test_field_missing_is_none() -> None:
    """A path through a missing or non-object part gives None."""
    expected = (None, None)
    assert expected == (field({}, "user.name"), field({"user": "flat"}, "user.name"))


def test_event_time_parses_z_and_rejects_naive() -> None:
    """RFC 3339 with Z is parsed; naive or garbage timestamps give None."""
    expected = (datetime(2026, 11, 20, 10, 0, tzinfo=UTC), None, None)
    assert expected == (event_time({"@timestamp": "2026-11-20T10:00:00Z"}),
                        event_time({"@timestamp": "2026-11-20T10:00:00"}), event_time({"@timestamp": "soon"}))


def test_worker_prefers_name_then_email_then_id() -> None:
    """The worker is shown by name, else email, else id."""
    expected = ["Anna", "a@x.example", "w1", ""]
    assert expected == [event_worker({"user": u}) for u in ({"name": "Anna", "id": "w1"},
                                                             {"email": "a@x.example", "id": "w1"}, {"id": "w1"}, {})]


def test_object_id_from_url_or_explicit_field() -> None:
    """The object id is audit.object_id, else an id-like last URL segment, else None."""
    expected = ["4711", "abc-12", None, "7"]
    assert expected == [
        object_id({"url": {"full": "https://x.example/t/appointments/4711?tab=1"}}),
        object_id({"url": {"full": "https://x.example/slots/abc-12/"}}),
        object_id({"url": {"full": "https://x.example/login"}}),
        object_id({"audit": {"object_id": 7}, "url": {"full": "https://x.example/a/1"}}),
    ]


_SHAPES: list[Mapping[str, Any]] = [
    {},
    {"user": {"name": "Anna"}},
    {"user": {"name": None}},
    {"user": None},
    {"user": "not an object"},
    {"user": ["a", "list"]},
    {"user": MappingProxyType({"name": "Proxy"})},
    {"user.name": "dotted", "user": {"name": "nested"}},
    {"message": "hello", "a": {"b": {"c": 1}}},
    MappingProxyType({"user": {"name": "in a proxy"}, "message": "m"}),
]


@pytest.mark.parametrize("event", _SHAPES)
@pytest.mark.parametrize("path", ["user.name", "message", "a.b.c", "a.b", "missing", "missing.too"])
def test_field_getter_answers_as_field(event: Mapping[str, Any], path: str) -> None:
    """A path's reader returns what field returns for the same event, whatever the event's shape."""
    assert field(event, path) == field_getter(path)(event)
