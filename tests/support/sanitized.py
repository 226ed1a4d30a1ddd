"""Build one of the project's C extensions with AddressSanitizer and UBSan, and run a check against that build.

The installed build is optimised and unchecked; a memory error there may pass unseen. The tests build the
same source again beside it with the sanitizers (``halt_on_error``: the first error aborts) and load that
build in a child process, which a module under ``tests/support`` drives.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parents[2]


def build(name: str, out_dir: Path, libraries: tuple[str, ...] = (), package: str = "agent") -> Path:
    """Compile ``<package>/<name>.c`` with the sanitizers into ``out_dir``; return the shared object's path."""
    built = out_dir / f"{name}.so"
    subprocess.run(["gcc", "-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
                    "-fno-omit-frame-pointer", "-shared", "-fPIC", f"-I{sysconfig.get_paths()['include']}",
                    str(ROOT / package / f"{name}.c"), "-o", str(built), *(f"-l{lib}" for lib in libraries)],
                   check=True, capture_output=True, timeout=120)
    return built


def run(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m <module> args`` with the sanitizers' runtimes preloaded (a memory error: exit != 0)."""
    runtimes = [subprocess.run(["gcc", f"-print-file-name={lib}"], check=True, capture_output=True, text=True)
                .stdout.strip() for lib in ("libasan.so", "libubsan.so")]
    env = dict(os.environ, LD_PRELOAD=" ".join(runtimes), ASAN_OPTIONS="detect_leaks=0:halt_on_error=1",
               UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)


def load(path: str, name: str) -> Any:
    """The extension module ``name`` built at ``path``."""
    loader = importlib.machinery.ExtensionFileLoader(name, path)
    spec = importlib.util.spec_from_file_location(name, path, loader=loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module
