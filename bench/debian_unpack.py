"""Debian packages unpacked into the user's cache instead of installed, for peers whose packages conflict.

Debian's ``rsyslog`` and ``syslog-ng-core`` both provide ``system-log-daemon`` and conflict, so ``apt-get
install`` of one removes the other. The bench needs both side by side, so ``make bench`` installs rsyslog
with apt and unpacks syslog-ng's packages (``apt-get download`` + ``dpkg -x``) under
``~/.cache/auditlog/bench/<name>/root``; their shared-library dependencies, which conflict with nothing, are
installed with apt. Nothing is registered with dpkg and no service starts; the unpacked program runs with
its library and module folders given on its command line (:mod:`bench.shippers.syslog_ng`).

Run ``python -m bench.debian_unpack syslog-ng`` (as ``make bench`` does); it needs apt (root) once.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

#: where unpacked packages live (``AUDITLOG_BENCH_CACHE`` overrides)
CACHE = Path(os.environ.get("AUDITLOG_BENCH_CACHE", "~/.cache/auditlog/bench")).expanduser()
#: the packages unpacked per peer
PEERS: dict[str, tuple[str, ...]] = {"syslog-ng": ("syslog-ng-core", "syslog-ng-mod-http")}
_DONE = ".unpacked"


def root_of(name: str) -> Path:
    """Return the folder a peer's packages are (or would be) unpacked into."""
    return CACHE / name / "root"


def dependencies(apt_cache_depends: str, packages: Sequence[str]) -> list[str]:
    """Return the plain ``Depends`` of ``apt-cache depends`` output, without the packages themselves.

    Alternatives (``|Depends``) and virtual packages (``<name>``) are left out: the first alternative's
    package is installed on Debian's images already, and virtual ones cannot be installed by name.
    """
    found: list[str] = []
    for line in apt_cache_depends.splitlines():
        if not line.startswith("  Depends: "):
            continue
        dep = line.split(":", 1)[1].strip()
        if dep.startswith("<") or dep in packages or dep in found:
            continue
        found.append(dep)
    return found


def unpack(name: str) -> Path:
    """Unpack a peer's packages once (installing their library dependencies with apt) and return the root.

    Raises:
        KeyError: for a peer not in :data:`PEERS`.
        subprocess.CalledProcessError: when apt or dpkg fails.
    """
    packages = PEERS[name]
    root = root_of(name)
    if (root / _DONE).exists():
        return root
    debs = CACHE / name / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    listing = subprocess.run(["apt-cache", "depends", *packages], check=True, capture_output=True, text=True).stdout
    deps = dependencies(listing, packages)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *deps], check=True,
                   stdout=subprocess.DEVNULL)
    # apt's sandbox user cannot write into root's cache folder; the download itself is the same
    subprocess.run(["apt-get", "download", "-o", "APT::Sandbox::User=root", *packages], check=True, cwd=debs,
                   stdout=subprocess.DEVNULL)
    for deb in sorted(debs.glob("*.deb")):
        subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
    (root / _DONE).touch()
    return root


def main(argv: Sequence[str] | None = None) -> int:
    """Unpack each named peer; print where it went."""
    for name in argv if argv is not None else sys.argv[1:]:
        if name not in PEERS:
            print(f"debian_unpack: unknown peer {name!r} (known: {', '.join(PEERS)})", file=sys.stderr)
            return 2
        print(f"{name}: {unpack(name)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
