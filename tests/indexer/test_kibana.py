"""Kibana saved objects in the repository, the import settings, and the import against hostile answers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from auditlog.indexer.kibana import OBJECTS_DIR, KibanaError, KibanaSettings, import_objects, load_objects
from auditlog.indexer.tiers import TierTable
from tests.support.hostile_cluster import SHAPES, hostile_cluster


def test_every_line_is_a_saved_object() -> None:
    """Each ndjson line parses and has type, id, attributes and references."""
    lines = [line for path in OBJECTS_DIR.glob("*.ndjson") for line in path.read_text().splitlines() if line]
    keys = {frozenset({"type", "id", "attributes", "references"}) <= set(json.loads(line)) for line in lines}
    assert ({True}, 3) == (keys, len(lines))


def test_data_view_follows_the_namespace() -> None:
    """The data view's title is the namespace's class patterns (never z-audit-*) and its time field @timestamp."""
    view = next(o for o in load_objects(TierTable(prefix="z-audit")) if o["type"] == "index-pattern")
    expected = ("z-audit-enterprise-*,z-audit-business-*,z-audit-professional-*", "@timestamp")
    assert expected == (view["attributes"]["title"], view["attributes"]["timeFieldName"])


def test_search_source_references_the_data_view() -> None:
    """The saved search's searchSourceJSON names its index by reference to the data view."""
    objects = {o["type"]: o for o in load_objects(TierTable())}
    source = json.loads(objects["search"]["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
    ref = next(r for r in objects["search"]["references"] if r["name"] == source["indexRefName"])
    assert ("index-pattern", objects["index-pattern"]["id"]) == (ref["type"], ref["id"])


def test_dashboard_panel_references_the_search() -> None:
    """The dashboard's one panel shows the saved search through panelRefName."""
    objects = {o["type"]: o for o in load_objects(TierTable())}
    panels = json.loads(objects["dashboard"]["attributes"]["panelsJSON"])
    refs = {r["name"]: (r["type"], r["id"]) for r in objects["dashboard"]["references"]}
    assert [("search", objects["search"]["id"])] == [refs[p["panelRefName"]] for p in panels]


def test_import_url_with_and_without_space() -> None:
    """The import URL lives under /s/<space> when a space is given and always overwrites."""
    urls = [KibanaSettings("http://k:5601/").import_url, KibanaSettings("http://k:5601", space="ops team").import_url]
    expected = ["http://k:5601/api/saved_objects/_import?overwrite=true",
                "http://k:5601/s/ops%20team/api/saved_objects/_import?overwrite=true"]
    assert expected == urls


def test_half_basic_auth_is_refused() -> None:
    """A Kibana user without password is a configuration error."""
    with pytest.raises(ValueError, match="username and password go together"):
        KibanaSettings("http://k:5601", username="admin")


def _ids(objects: list[dict[str, Any]]) -> set[str]:
    return {o["id"] for o in objects} | {r["id"] for o in objects for r in o["references"]}


def test_default_namespace_keeps_the_file_ids() -> None:
    """The default prefix imports under the ids of the files, so an upgrade replaces the same objects."""
    assert {"auditlog-data-view", "auditlog-search", "auditlog-dashboard"} == _ids(load_objects(TierTable()))


def test_two_namespaces_have_disjoint_ids() -> None:
    """Objects of two prefixes never share an id, so both fit in one Kibana space."""
    assert set() == _ids(load_objects(TierTable())) & _ids(load_objects(TierTable(prefix="staging")))


def test_references_stay_inside_their_namespace() -> None:
    """Every reference of a namespace's objects names an object of the same namespace."""
    objects = load_objects(TierTable(prefix="staging"))
    own = {o["id"] for o in objects}
    assert (set(), {"auditlog-staging-data-view", "auditlog-staging-search", "auditlog-staging-dashboard"}) == (
        {r["id"] for o in objects for r in o["references"]} - own, own)


def test_titles_name_a_non_default_prefix() -> None:
    """Outside the default namespace the data view's name and the titles say which prefix they show."""
    objects = {o["type"]: o for o in load_objects(TierTable(prefix="staging"))}
    assert ("Audit log events (staging)", "Audit log (staging)", "Audit log (staging)") == (
        objects["index-pattern"]["attributes"]["name"], objects["search"]["attributes"]["title"],
        objects["dashboard"]["attributes"]["title"])


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_an_answer_that_is_not_the_import_apis_is_one_kibana_error(shape: str) -> None:
    """Whatever a wrong URL or a proxy answers, the import ends in KibanaError of one short line."""
    with hostile_cluster(shape) as url, pytest.raises(KibanaError) as caught:
        import_objects(KibanaSettings(url, timeout=10), load_objects(TierTable()))
    text = str(caught.value)
    assert (1, True) == (len(text.splitlines()), len(text) <= 600)


@pytest.mark.parametrize("url", ["http://a b:5601", "http://[::1", "http://\uff41:5601", "http://k:5601\n"])
def test_a_kibana_url_urllib_cannot_request_is_refused_up_front(url: str) -> None:
    """A Kibana URL with a bad host is a settings error, before setup writes anything to the cluster."""
    with pytest.raises(ValueError, match="kibana url"):
        KibanaSettings(url)


def test_credentials_in_the_kibana_url_are_refused_without_showing_them() -> None:
    """A password in the Kibana URL is refused pointing at the credential flags, the password hidden."""
    with pytest.raises(ValueError, match="must not hold credentials") as caught:
        KibanaSettings("http://elastic:S3cr3tPW@127.0.0.1:9")
    assert "S3cr3tPW" not in str(caught.value)


@pytest.mark.parametrize("url", ["http://user:TOPSECRET,PW@127.0.0.1:1", "ftp://user:TOPSECRET,PW@127.0.0.1:1"])
def test_a_kibana_url_whose_password_holds_a_comma_is_refused_without_any_of_it(url: str) -> None:
    """A Kibana URL whose password holds ',' is refused without the part of the password before the comma."""
    with pytest.raises(ValueError, match="kibana url") as caught:
        KibanaSettings(url)
    assert "TOPSECRET" not in str(caught.value)


def test_a_kibana_api_key_no_header_can_carry_is_refused_without_showing_it() -> None:
    """A non-ASCII Kibana API key is a settings error that does not contain the key."""
    with pytest.raises(ValueError, match="kibana api key must be printable ASCII") as caught:
        KibanaSettings("http://k:5601", api_key="p\u00e4\u20ac")
    assert "p\u00e4\u20ac" not in str(caught.value)


def test_an_unreachable_kibana_is_named_without_the_password_of_its_url() -> None:
    """The 'cannot reach Kibana' line shows the URL through safe_url even if settings were built around checks."""
    settings = KibanaSettings("http://127.0.0.1:9", timeout=5)
    object.__setattr__(settings, "url", "http://u:S3cr3tPW@127.0.0.1:9")
    with pytest.raises(KibanaError) as caught:
        import_objects(settings, load_objects(TierTable()))
    assert (True, False) == ("cannot reach Kibana at http://***@127.0.0.1:9" in str(caught.value),
                             "S3cr3tPW" in str(caught.value))
