"""Elastic's test distribution of Elasticsearch: fetch it once from Maven Central, unpack it once.

The integ-test zip has core, security and x-pack-core (no ILM, no ingest, no painless). It is fetched
with ``mvn dependency:copy`` (Maven's own cache, checksums and mirrors apply); when ``mvn`` is not on
the machine the same artifact is read from Maven Central over HTTPS. The zip is kept under the user's
cache (``~/.cache/auditlog``). The unpacked tree must be readable by the unprivileged user that runs
the node, which cannot enter ``/root``: as root it is unpacked under ``/var/cache/auditlog``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path

#: Newest 9.x test distribution that resolves on Maven Central; the Python client's major (9) matches.
ES_VERSION = "9.5.4"
GROUP = "org.elasticsearch.distribution.integ-test-zip"
ARTIFACT = "elasticsearch"
MAVEN_CENTRAL = "https://repo1.maven.org/maven2"


class DistributionError(RuntimeError):
    """The distribution could not be downloaded or unpacked."""


def cache_dir() -> Path:
    """Return where downloads are cached (``AUDITLOG_CACHE_DIR`` or ``~/.cache/auditlog``)."""
    return Path(os.environ.get("AUDITLOG_CACHE_DIR") or Path.home() / ".cache" / "auditlog")


def install_root() -> Path:
    """Return where distributions are unpacked: a folder the node's user can read."""
    override = os.environ.get("AUDITLOG_DIST_DIR")
    if override:
        return Path(override)
    return Path("/var/cache/auditlog") if os.geteuid() == 0 else cache_dir()


def _mvn_copy(version: str, dest: Path) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise FileNotFoundError("mvn")
    coords = f"{GROUP}:{ARTIFACT}:{version}:zip"
    proc = subprocess.run(
        [mvn, "-q", "-B", "dependency:copy", f"-Dartifact={coords}", f"-DoutputDirectory={dest}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-5:])
        raise DistributionError(
            f"mvn could not fetch {coords} (check network access to Maven Central, or put the zip at "
            f"{dest}/elasticsearch-{version}.zip): {tail}"
        )


def _http_copy(version: str, target: Path) -> None:
    url = f"{MAVEN_CENTRAL}/{GROUP.replace('.', '/')}/{ARTIFACT}/{version}/{ARTIFACT}-{version}.zip"
    tmp = target.with_suffix(".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as resp, tmp.open("wb") as out:
            shutil.copyfileobj(resp, out, 1 << 20)
    except (urllib.error.URLError, OSError) as exc:
        tmp.unlink(missing_ok=True)
        raise DistributionError(f"download of {url} failed ({exc}); install maven or check the network") from exc
    tmp.rename(target)


def fetch_zip(version: str = ES_VERSION, log: Callable[[str], None] = print) -> Path:
    """Return the cached distribution zip, downloading it when missing.

    Args:
        version: Elasticsearch version.
        log: where progress lines go.

    Returns:
        Path of the zip.

    Raises:
        DistributionError: when neither mvn nor HTTPS could fetch it.
    """
    dest = cache_dir()
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / f"{ARTIFACT}-{version}.zip"
    if target.is_file() and zipfile.is_zipfile(target):
        return target
    log(f"downloading Elasticsearch {version} test distribution from Maven Central ...")
    try:
        _mvn_copy(version, dest)
    except FileNotFoundError:
        _http_copy(version, target)
    if not zipfile.is_zipfile(target):
        raise DistributionError(f"{target} is not a zip after download; delete it and retry")
    return target


def _extract(zip_path: Path, dest: Path) -> None:
    # zipfile drops Unix modes; restore them so bin/ and the bundled tools stay executable.
    with zipfile.ZipFile(zip_path) as archive:
        for info in archive.infolist():
            extracted = Path(archive.extract(info, dest))
            mode = (info.external_attr >> 16) & 0o777
            if mode and not info.is_dir():
                extracted.chmod(mode | 0o444)


def ensure_distribution(version: str = ES_VERSION, log: Callable[[str], None] = print) -> Path:
    """Return the unpacked distribution's home, fetching and unpacking it once.

    Args:
        version: Elasticsearch version.
        log: where progress lines go.

    Returns:
        The ``ES_HOME`` folder (contains ``bin/elasticsearch``).

    Raises:
        DistributionError: when it cannot be fetched or unpacked.
    """
    root = install_root()
    home = root / f"elasticsearch-{version}"
    if (home / "bin" / "elasticsearch").is_file():
        return home
    zip_path = fetch_zip(version, log)
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)
    staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=root))
    try:
        _extract(zip_path, staging)
        unpacked = staging / f"elasticsearch-{version}"
        if not (unpacked / "bin" / "elasticsearch").is_file():
            raise DistributionError(f"{zip_path} does not contain elasticsearch-{version}/bin/elasticsearch")
        for path in [unpacked, *unpacked.rglob("*")]:
            if path.is_dir():
                path.chmod(0o755)
        unpacked.rename(home)
    except OSError as exc:
        raise DistributionError(f"unpacking {zip_path} into {root} failed: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return home
