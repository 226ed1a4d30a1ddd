"""Build and install the local node's security-analysis plugin (``indexer/esplugin/java``).

The ``.security-7`` index's settings name three analysis components from Elasticsearch's
analysis-common module, which the test distribution lacks: the ``pattern_capture`` token filter, the
``uax_url_email`` tokenizer and the ``unique`` token filter. Without them Elasticsearch cannot create
its security index, so native roles, users and API keys cannot be stored. Our plugin registers those
three names on Lucene classes already in the distribution's ``lib/`` (``unique`` is our own filter).

A classic plugin must name the exact Elasticsearch version in ``plugin-descriptor.properties`` and is
compiled against that version's jars, so the build is cached per Elasticsearch version and per digest
of the Java sources: ``<cache>/esplugin/<version>-<digest>/`` holds the jar and the descriptor. A new
version (or changed source) builds again with the JDK's ``javac --release 21 -cp 'lib/*'`` (about
two seconds); an existing build is reused as is.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from auditlog.indexer.distribution import cache_dir

PLUGIN_NAME = "auditlog-security-analysis"
CLASSNAME = "org.auditlog.esplugin.SecurityAnalysisPlugin"
JAVA_RELEASE = "21"
JAR = f"{PLUGIN_NAME}.jar"
DESCRIPTOR = "plugin-descriptor.properties"


class PluginBuildError(RuntimeError):
    """The plugin could not be compiled or installed; the message says why."""


@dataclass(frozen=True)
class PluginBuild:
    """A built plugin: the folder holding its jar and descriptor, and whether this call compiled it."""

    path: Path
    version: str
    compiled: bool


def sources() -> dict[str, bytes]:
    """Return the plugin's Java sources by file name (shipped inside the package)."""
    root = resources.files("auditlog.indexer").joinpath("esplugin/java/org/auditlog/esplugin")
    return {entry.name: entry.read_bytes() for entry in root.iterdir() if entry.name.endswith(".java")}


def source_digest(files: dict[str, bytes]) -> str:
    """Return a short digest of the sources, so a changed source builds anew (pure)."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name] + b"\0")
    return digest.hexdigest()[:12]


def descriptor(version: str) -> str:
    """Return ``plugin-descriptor.properties`` for Elasticsearch ``version`` (pure)."""
    return (
        "# written by auditlog: the local node's analysis components for the .security index\n"
        "description=pattern_capture, uax_url_email and unique for the .security index of a local auditlog node\n"
        f"version={version}\n"
        f"name={PLUGIN_NAME}\n"
        f"classname={CLASSNAME}\n"
        f"java.version={JAVA_RELEASE}\n"
        f"elasticsearch.version={version}\n"
    )


def build_dir(version: str, digest: str) -> Path:
    """Return where the build for ``version`` and source ``digest`` is cached."""
    return cache_dir() / "esplugin" / f"{version}-{digest}"


def find_javac(java_home: Path, jvm_root: Path = Path("/usr/lib/jvm")) -> Path:
    """Return a ``javac`` that can compile for Java 21: the node's JDK first, then any JDK 21+ under ``jvm_root``.

    Raises:
        PluginBuildError: when no JDK 21+ with ``javac`` is installed.
    """
    from auditlog.indexer.java import java_version

    candidates = [java_home]
    if jvm_root.is_dir():
        candidates += sorted((p for p in jvm_root.iterdir() if p.is_dir() and not p.is_symlink()),
                             key=lambda p: java_version(p) or 0, reverse=True)
    for home in candidates:
        javac = home / "bin" / "javac"
        if javac.is_file() and (java_version(home) or 0) >= int(JAVA_RELEASE):
            return javac
    raise PluginBuildError(f"no javac {JAVA_RELEASE}+ found (tried {java_home} and {jvm_root}); install a full JDK "
                           f"{JAVA_RELEASE}+ (e.g. openjdk-{JAVA_RELEASE}-jdk-headless) to build the security plugin")


def ensure_plugin(es_home: Path, version: str, javac: Path, log: Callable[[str], None] = print) -> PluginBuild:
    """Return the cached plugin build for ``version``, compiling it against ``es_home/lib`` when missing.

    Args:
        es_home: the distribution whose ``lib/`` jars the plugin compiles against.
        version: the exact Elasticsearch version the descriptor names.
        javac: the compiler (``find_javac``).
        log: where the one progress line goes.

    Returns:
        The build; ``compiled`` says whether this call compiled it.

    Raises:
        PluginBuildError: when ``javac`` fails (its output tail included).
    """
    files = sources()
    target = build_dir(version, source_digest(files))
    if (target / JAR).is_file() and (target / DESCRIPTOR).is_file():
        return PluginBuild(target, version, compiled=False)
    log(f"building the security analysis plugin for Elasticsearch {version} ...")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".build-", dir=target.parent) as tmp:
        work = Path(tmp)
        src, classes = work / "src", work / "classes"
        src.mkdir()
        for name, data in files.items():
            (src / name).write_bytes(data)
        proc = subprocess.run(
            [str(javac), "--release", JAVA_RELEASE, "-nowarn", "-encoding", "UTF-8", "-cp", str(es_home / "lib" / "*"),
             "-d", str(classes), *sorted(str(p) for p in src.glob("*.java"))],
            capture_output=True, text=True, check=False,
        )
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-8:])
            raise PluginBuildError(f"javac could not build the security plugin for Elasticsearch {version}: {tail}")
        staged = work / "plugin"
        staged.mkdir()
        with zipfile.ZipFile(staged / JAR, "w", zipfile.ZIP_DEFLATED) as jar:
            for path in sorted(classes.rglob("*.class")):
                jar.write(path, path.relative_to(classes).as_posix())
        (staged / DESCRIPTOR).write_text(descriptor(version))
        shutil.rmtree(target, ignore_errors=True)
        # a rename makes the build appear whole or not at all (two starts may build at once)
        try:
            staged.rename(target)
        except OSError:
            if not (target / JAR).is_file():
                raise
    return PluginBuild(target, version, compiled=True)


def install_plugin(build: PluginBuild, plugins_dir: Path) -> Path:
    """Copy the built plugin into a node's ``plugins/`` folder, replacing an older copy.

    Args:
        build: from ``ensure_plugin``.
        plugins_dir: the node's ``$ES_HOME/plugins``.

    Returns:
        The installed plugin folder.
    """
    installed = plugins_dir / PLUGIN_NAME
    if installed.is_dir() and all(
        (installed / name).is_file() and (installed / name).read_bytes() == (build.path / name).read_bytes()
        for name in (JAR, DESCRIPTOR)
    ):
        return installed
    shutil.rmtree(installed, ignore_errors=True)
    installed.mkdir(parents=True)
    for name in (JAR, DESCRIPTOR):
        shutil.copy(build.path / name, installed / name)
        (installed / name).chmod(0o644)
    installed.chmod(0o755)
    return installed
