"""Filebeat (built from the Go module proxy with ``bench/filebeat_build.py``) as Elastic's own shipper.

Configured as its documentation suggests for JSON-lines files into our own indices:

- a ``filestream`` input on the same globs, with the ``ndjson`` parser decoding into the event's root
  (``target: ""``, ``overwrite_keys``: the line's ``@timestamp`` becomes the event time), ``add_error_key``
  so an undecodable line still ships with the error rather than vanishing;
- ``copy_fields`` of ``event.id`` to ``@metadata._id``: Filebeat then sends ``create`` with our id, so a
  re-send after a crash is a 409 (counted by Filebeat as a duplicate, not shipped twice), and ``event.id``
  stays in the document;
- routing like the agent with ``output.elasticsearch.indices`` on ``audit.tier`` into
  ``<prefix>-<class>-yyyy.MM.dd`` (the event's time, UTC); our templates are already installed by the
  bench's namespace, so ``setup.template`` and ``setup.ilm`` are off;
- two variants: Filebeat's ``throughput`` preset (its own batch size of 1,600, 4 workers, bigger queue),
  and its default (``preset`` unset) with the bench's batch size.

What Filebeat does differently by design, visible in the bench's checks: it adds its own fields
(``agent.*``, ``ecs.version``, ``host.name``, ``input.type``, ``log.*``) and drops keys whose value is
``null`` (``"new": null`` inside ``audit.changes``), which the reliability bench counts as a correctness
difference.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from bench.filebeat_build import cached_binary
from bench.shippers.base import ShipTarget, tiers_by_class


class FilebeatLauncher:
    """Runs the patched Filebeat binary with a generated ``filebeat.yml``."""

    tails = True

    def __init__(self, preset: str | None = None, binary: Path | None = None) -> None:
        self.preset = preset
        self.binary = binary or cached_binary()
        self.name = f"filebeat ({preset})" if preset else "filebeat"

    def unavailable(self) -> str | None:
        """Return why Filebeat cannot run (not built yet), or ``None``."""
        if not self.binary.is_file():
            return "filebeat not built (python -m bench.filebeat_build; needs Go and the Go module proxy)"
        return None

    def version(self) -> str:
        """Return ``filebeat version``'s line."""
        try:
            out = subprocess.run([str(self.binary), "version"], capture_output=True, text=True, timeout=30).stdout
        except (OSError, subprocess.TimeoutExpired):
            return "unknown"
        return out.strip().splitlines()[0] if out.strip() else "unknown"

    def render(self, target: ShipTarget) -> dict[str, object]:
        """Return the Filebeat configuration for ``target`` (YAML is a superset of JSON)."""
        prefix = target.tiers.prefix
        indices = [
            {"index": f"{prefix}-{cls}-%{{+yyyy.MM.dd}}",
             "when": {"or": [{"equals": {"audit.tier": tier}} for tier in tiers]}}
            for cls, tiers in tiers_by_class(target).items()
        ]
        output: dict[str, object] = {
            "hosts": [target.es_url],
            "index": f"{prefix}-unrouted-%{{+yyyy.MM.dd}}",
            "indices": indices,
        }
        if self.preset:
            output["preset"] = self.preset
        else:
            output["bulk_max_size"] = target.batch_size
        return {
            "filebeat.inputs": [{
                "type": "filestream",
                "id": "audit",
                "paths": list(target.paths),
                "prospector.scanner.check_interval": "1s",
                "parsers": [{"ndjson": {"target": "", "overwrite_keys": True, "add_error_key": True}}],
            }],
            "processors": [{"copy_fields": {"fields": [{"from": "event.id", "to": "@metadata._id"}],
                                            "fail_on_error": False, "ignore_missing": True}}],
            "output.elasticsearch": output,
            "setup.template.enabled": False,
            "setup.ilm.enabled": False,
            "logging.level": "warning",
            "http.enabled": False,
        }

    def command(self, target: ShipTarget) -> list[str]:
        """Write ``filebeat.yml`` into the state folder and return the command line."""
        home = target.state_dir
        for sub in ("data", "logs"):
            (home / sub).mkdir(parents=True, exist_ok=True)
        config = home / "filebeat.yml"
        config.write_text(json.dumps(self.render(target), indent=2))
        config.chmod(0o600)
        return [str(self.binary), "-e", "--strict.perms=false", "-c", str(config), "--path.home", str(home),
                "--path.data", str(home / "data"), "--path.logs", str(home / "logs")]
