"""Launches ``bench.naive_reader`` (a plain ``helpers.streaming_bulk`` loop) as the naive baseline."""

from __future__ import annotations

import glob
import sys

import elasticsearch

from bench.shippers.base import ShipTarget


class NaiveLauncher:
    """One-shot reader: ships the files that exist when it starts, then exits."""

    name = "naive streaming_bulk"
    tails = False

    def unavailable(self) -> str | None:
        """The naive reader only needs the client library, which the project depends on."""
        return None

    def version(self) -> str:
        """Return the client library version it uses."""
        return f"elasticsearch-py {elasticsearch.__versionstr__}"

    def command(self, target: ShipTarget) -> list[str]:
        """Return the reader's command line for the files matching the target's globs."""
        files = sorted(f for pattern in target.paths for f in glob.glob(pattern))
        return [sys.executable, "-m", "bench.naive_reader", "--es", target.es_url, "--prefix", target.tiers.prefix,
                "--batch-size", str(target.batch_size), *files]
