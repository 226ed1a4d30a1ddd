"""Build Filebeat from the Go module proxy, with a small patch of ours, and cache the binary.

Filebeat is the shipper our users would otherwise pick, so ``make bench`` runs it as a peer. Release tags of
``github.com/elastic/beats/v7`` are refused by the module proxy here; a pseudo-version of beats main is served
(it reports itself as 9.3.0). Go's checksum database does not know it, so the download sets ``GONOSUMDB``.

The patch (``PATCHES``) touches nothing on the data path. Elasticsearch's test distribution, which the bench
runs, has no ``GET /``; Filebeat's connection handshake needs it twice:

- the version ping (``libbeat/esleg/eslegclient/connection.go``): on 405 it reads the version from
  ``GET _nodes/_local`` instead (the same fact, the same node);
- the cluster-uuid lookup (``libbeat/cmd/instance/beat.go``), which only feeds monitoring: a 405 is not an
  error there.

Each patch is an exact text replacement that must match once, so a new pseudo-version that moved the code
fails the build loudly instead of building an unpatched binary. A cold build takes about 5 minutes on two
cores; the binary is cached under ``~/.cache/auditlog/filebeat/<version>-<patch digest>/filebeat``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

MODULE = "github.com/elastic/beats/v7"
VERSION = "v7.0.0-alpha2.0.20251031181001-be9871f5dab9"
CACHE = Path(os.environ.get("AUDITLOG_CACHE", Path.home() / ".cache" / "auditlog")) / "filebeat"


@dataclass(frozen=True)
class Patch:
    """One exact replacement in one file of the module."""

    path: str
    old: str
    new: str


_PING_OLD = """	status, body, err := conn.execRequest("GET", conn.URL, nil)
	if err != nil {
"""
_PING_NEW = """	status, body, err := conn.execRequest("GET", conn.URL, nil)
	if status == http.StatusMethodNotAllowed {
		// auditlog bench: the test distribution has no GET /; the local node's info carries the version.
		return conn.pingNodesLocal()
	}
	if err != nil {
"""
_NODES_LOCAL = """
// pingNodesLocal reads the version from GET _nodes/_local (auditlog bench patch).
func (conn *Connection) pingNodesLocal() (ESPingData, error) {
	status, body, err := conn.Request("GET", "/_nodes/_local", "", nil, nil)
	if err != nil {
		return ESPingData{}, err
	}
	if status >= 300 {
		return ESPingData{}, fmt.Errorf("non 2xx response code from _nodes/_local: %d", status)
	}
	var info struct {
		Nodes map[string]struct {
			Name        string `json:"name"`
			Version     string `json:"version"`
			BuildFlavor string `json:"build_flavor"`
		} `json:"nodes"`
	}
	if err := json.Unmarshal(body, &info); err != nil {
		return ESPingData{}, fmt.Errorf("failed to parse _nodes/_local: %w", err)
	}
	for _, node := range info.Nodes {
		version := ESVersionData{Number: node.Version, BuildFlavor: node.BuildFlavor}
		return ESPingData{Version: version, Name: node.Name}, nil
	}
	return ESPingData{}, fmt.Errorf("_nodes/_local listed no node")
}

// Close closes any idle connections from the HTTP client.
"""
_UUID_OLD = """		status, body, err := esClient.Request("GET", "/", "", nil, nil)
		if err != nil {
"""
_UUID_NEW = """		status, body, err := esClient.Request("GET", "/", "", nil, nil)
		if status == 405 { // auditlog bench: no GET / on the test distribution; the uuid only feeds monitoring
			return nil
		}
		if err != nil {
"""

PATCHES = (
    Patch("libbeat/esleg/eslegclient/connection.go", _PING_OLD, _PING_NEW),
    Patch("libbeat/esleg/eslegclient/connection.go",
          "\n// Close closes any idle connections from the HTTP client.\n", _NODES_LOCAL),
    Patch("libbeat/cmd/instance/beat.go", _UUID_OLD, _UUID_NEW),
)


class BuildError(RuntimeError):
    """Filebeat could not be downloaded, patched or built; the message says which step."""


def patch_digest() -> str:
    """Return a short digest of the patches, part of the cache key."""
    text = json.dumps([[p.path, p.old, p.new] for p in PATCHES])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def cached_binary(cache: Path = CACHE) -> Path:
    """Return where the binary for this version and patch set lives (whether built or not)."""
    return cache / f"{VERSION}-{patch_digest()}" / "filebeat"


def _go() -> str:
    go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None)
    if go is None:
        raise BuildError("go not found (install Go, e.g. /usr/local/go)")
    return go


def _go_env() -> dict[str, str]:
    env = dict(os.environ)
    env["GONOSUMDB"] = ",".join(filter(None, (env.get("GONOSUMDB"), "github.com/elastic/beats")))
    env.setdefault("GOFLAGS", "-mod=mod")
    env.setdefault("CGO_ENABLED", "0")
    return env


def apply_patches(tree: Path, patches: tuple[Patch, ...] = PATCHES) -> None:
    """Apply each patch to ``tree`` in order.

    Raises:
        BuildError: when a patch's text does not occur exactly once.
    """
    for patch in patches:
        path = tree / patch.path
        text = path.read_text()
        count = text.count(patch.old)
        if count != 1:
            raise BuildError(f"patch for {patch.path} matches {count} times (expected once): the source moved")
        path.write_text(text.replace(patch.old, patch.new))


def build(cache: Path = CACHE, log: Path | None = None) -> Path:
    """Return the patched Filebeat binary, building it first when it is not cached.

    Args:
        cache: where built binaries are kept.
        log: file for the download and build output (default: inside the cache folder).

    Returns:
        The binary's path.

    Raises:
        BuildError: when Go is missing or a step fails.
    """
    binary = cached_binary(cache)
    if binary.is_file():
        return binary
    binary.parent.mkdir(parents=True, exist_ok=True)
    log = log or binary.parent / "build.log"
    go, env = _go(), _go_env()
    with log.open("a") as out:
        done = subprocess.run([go, "mod", "download", "-json", f"{MODULE}@{VERSION}"], env=env,
                              capture_output=True, text=True, timeout=1800)
        out.write(done.stdout + done.stderr)
        if done.returncode != 0:
            raise BuildError(f"go mod download {MODULE}@{VERSION} failed (see {log})")
        source = Path(json.loads(done.stdout)["Dir"])
        with tempfile.TemporaryDirectory(prefix="filebeat-src-") as tmp:
            tree = Path(tmp) / "beats"
            shutil.copytree(source, tree)
            for path in tree.rglob("*"):  # the module cache is read-only
                path.chmod(path.stat().st_mode | 0o200)
            apply_patches(tree)
            built = subprocess.run([go, "build", "-trimpath", "-o", str(binary) + ".tmp", "./filebeat"], cwd=tree,
                                   env=env, stdout=out, stderr=subprocess.STDOUT, timeout=3600)
            if built.returncode != 0:
                raise BuildError(f"go build ./filebeat failed (see {log})")
    os.replace(str(binary) + ".tmp", binary)
    return binary


if __name__ == "__main__":
    print(build())
