"""The fuzz targets hold on their seeds and on every input the fuzzer once broke them with."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from auditlog.agent.enrich import Enricher
from auditlog.agent.fastpath import PassThrough
from auditlog.agent.redact import Redactor
from auditlog.indexer.tiers import TierTable
from tests.fuzz.targets import TARGETS, findings, seeds


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_every_target_holds_on_the_seeds_and_the_findings(name: str) -> None:
    """Each target's rule holds for the emitter seeds, the secret-shaped texts and the past findings."""
    target: Callable[[bytes], None] = TARGETS[name]
    for data in [*seeds(), *findings()]:
        target(data)


def test_the_seeds_reach_the_pass_through() -> None:
    """The emitter seeds pass through, so the fuzzer starts from lines on which both paths are compared."""
    fast = PassThrough(Enricher(TierTable(prefix="audit"), Redactor()))
    assert [] == [line for line in seeds()[:60] if not isinstance(fast(line), bytes)]


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_make_fuzz_runs_each_target_under_libfuzzer(name: str) -> None:
    """`python -m tests.fuzz NAME` (what `make fuzz` runs) fuzzes 300 inputs and finds nothing."""
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-m", "tests.fuzz", name, "-runs=300", "-max_len=4096"],
                          cwd=root, capture_output=True, text=True, timeout=300, check=False)
    assert (0, True) == (done.returncode, "Done 300 runs" in done.stderr), done.stderr[-2000:]


def test_an_unknown_target_is_a_usage_error() -> None:
    """A target name the module does not know exits 2 with the names it knows."""
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-m", "tests.fuzz", "nope"], cwd=root, capture_output=True,
                          text=True, timeout=60, check=False)
    assert (2, True) == (done.returncode, "passthrough,redaction" in done.stderr)
