"""Building the security-analysis plugin: once per Elasticsearch version, against the real distribution's jars."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from auditlog.indexer.distribution import ES_VERSION, ensure_distribution
from auditlog.indexer.esplugin_build import (
    DESCRIPTOR,
    JAR,
    PLUGIN_NAME,
    descriptor,
    ensure_plugin,
    find_javac,
    install_plugin,
    source_digest,
    sources,
)
from auditlog.indexer.java import find_java


@pytest.fixture
def plugin_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty build cache of the test's own."""
    monkeypatch.setenv("AUDITLOG_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _javac() -> Path:
    return find_javac(find_java().home)


def test_descriptor_names_the_exact_version() -> None:
    """The descriptor names the Elasticsearch version it was built for, which a classic plugin must match."""
    fields = dict(line.split("=", 1) for line in descriptor("9.5.4").splitlines() if not line.startswith("#"))
    expected = ("9.5.4", "21", "org.auditlog.esplugin.SecurityAnalysisPlugin")
    assert expected == (fields["elasticsearch.version"], fields["java.version"], fields["classname"])


def test_source_digest_changes_with_the_source() -> None:
    """Changing one source file changes the digest, so the next start builds again."""
    files = sources()
    changed = {**files, "UniqueTokenFilter.java": files["UniqueTokenFilter.java"] + b"\n"}
    assert source_digest(files) != source_digest(changed)


def test_sources_register_the_three_security_index_components() -> None:
    """The plugin's sources register exactly the names the .security index's settings use."""
    plugin = sources()["SecurityAnalysisPlugin.java"].decode()
    expected = [True, True, True]
    assert expected == [f'"{name}"' in plugin for name in ("pattern_capture", "uax_url_email", "unique")]


def test_second_build_for_the_same_version_is_reused(plugin_cache: Path) -> None:
    """A second start with the same Elasticsearch version reuses the cached jar instead of compiling."""
    home = ensure_distribution(ES_VERSION, log=lambda _: None)
    first = ensure_plugin(home, ES_VERSION, _javac(), log=lambda _: None)
    second = ensure_plugin(home, ES_VERSION, _javac(), log=lambda _: None)
    expected = (True, False, first.path)
    assert expected == (first.compiled, second.compiled, second.path)


def test_version_change_triggers_a_rebuild(plugin_cache: Path) -> None:
    """A different Elasticsearch version compiles a new build whose descriptor names that version."""
    home = ensure_distribution(ES_VERSION, log=lambda _: None)
    ensure_plugin(home, ES_VERSION, _javac(), log=lambda _: None)
    other = ensure_plugin(home, "9.5.99", _javac(), log=lambda _: None)
    expected = (True, "elasticsearch.version=9.5.99")
    assert expected == (other.compiled, next(line for line in (other.path / DESCRIPTOR).read_text().splitlines()
                                             if line.startswith("elasticsearch.version=")))


def test_build_holds_the_plugin_classes(plugin_cache: Path) -> None:
    """The jar holds the compiled plugin class that the descriptor names."""
    home = ensure_distribution(ES_VERSION, log=lambda _: None)
    build = ensure_plugin(home, ES_VERSION, _javac(), log=lambda _: None)
    with zipfile.ZipFile(build.path / JAR) as jar:
        names = set(jar.namelist())
    assert "org/auditlog/esplugin/SecurityAnalysisPlugin.class" in names


def test_install_copies_jar_and_descriptor(plugin_cache: Path, tmp_path: Path) -> None:
    """Installing puts the jar and the descriptor into plugins/<name>/ of the node's home."""
    home = ensure_distribution(ES_VERSION, log=lambda _: None)
    build = ensure_plugin(home, ES_VERSION, _javac(), log=lambda _: None)
    installed = install_plugin(build, tmp_path / "plugins")
    expected = (tmp_path / "plugins" / PLUGIN_NAME, sorted([JAR, DESCRIPTOR]))
    assert expected == (installed, sorted(p.name for p in installed.iterdir()))
