"""Run one fuzz target of :mod:`tests.fuzz.targets` under atheris: ``python -m tests.fuzz NAME [libFuzzer options]``.

The project's modules are imported inside ``atheris.instrument_imports`` so that libFuzzer sees their
coverage (only theirs: instrumenting everything loaded takes a minute at every start). The corpus
starts from the targets' seeds and past findings, in a fresh temporary folder.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris  # a dev dependency on x86_64 Linux (pyproject.toml)

with atheris.instrument_imports(include=["auditlog"]):
    from tests.fuzz.targets import TARGETS, findings, seeds


def main(argv: list[str]) -> int:
    """Fuzz the target ``argv[1]`` with the libFuzzer options after it; 2 on an unknown name."""
    if len(argv) < 2 or argv[1] not in TARGETS:
        print(f"usage: python -m tests.fuzz {{{','.join(TARGETS)}}} [libFuzzer options]", file=sys.stderr)
        return 2
    corpus = Path(tempfile.mkdtemp(prefix=f"auditlog-fuzz-{argv[1]}-"))
    for number, seed in enumerate([*seeds(), *findings()]):
        (corpus / f"seed-{number}").write_bytes(seed)
    atheris.Setup([argv[0], str(corpus), *argv[2:]], TARGETS[argv[1]])
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
