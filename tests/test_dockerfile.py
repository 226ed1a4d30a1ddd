"""The Dockerfile, checked without a Docker engine: parsed, its COPY sources present, its steps replayed.

The replay follows the Dockerfile itself: the build stage's COPY instructions assemble a build
context in a temporary folder and its ``pip wheel`` RUN builds the wheel there (with build
isolation, as in the image: pip fetches the build backend from PyPI); the runtime stage's RUN steps
then run in a fresh virtualenv (dependencies are borrowed from the project's .venv through a
``.pth`` file), ending with the image's
own smoke test ``auditlog --help``. Steps that need root (``useradd``) are the only ones skipped.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction with its stage index."""

    stage: int
    keyword: str
    args: str


def parse_dockerfile(text: str) -> list[Instruction]:
    """Split a Dockerfile into instructions (continuation lines joined, comments dropped)."""
    out: list[Instruction] = []
    stage = -1
    logical = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not logical and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            logical += line[:-1] + " "
            continue
        logical += line
        keyword, _, args = logical.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        out.append(Instruction(stage, keyword, args.strip()))
        logical = ""
    return out


def copy_sources(instruction: Instruction) -> tuple[list[str], str, bool]:
    """Return (sources, destination, from_other_stage) of a COPY instruction."""
    words = shlex.split(instruction.args)
    from_stage = any(w.startswith("--from=") for w in words)
    words = [w for w in words if not w.startswith("--")]
    return words[:-1], words[-1], from_stage


@pytest.fixture(scope="module")
def instructions() -> list[Instruction]:
    """The parsed Dockerfile."""
    return parse_dockerfile((ROOT / "Dockerfile").read_text())


def _ignored(path: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(path, p) or path.startswith(p.rstrip("/") + "/") for p in patterns)


def test_two_stages_non_root_entrypoint(instructions: list[Instruction]) -> None:
    """A build and a runtime stage, the runtime runs as a non-root user with `auditlog` as entry point."""
    assert max(i.stage for i in instructions) == 1
    runtime = [i for i in instructions if i.stage == 1]
    assert [i for i in runtime if i.keyword == "USER"][-1].args == "auditlog"
    assert [i for i in runtime if i.keyword == "ENTRYPOINT"][-1].args == '["auditlog"]'


def test_copy_sources_exist_and_are_not_dockerignored(instructions: list[Instruction]) -> None:
    """Every file a COPY takes from the build context exists and is not excluded by .dockerignore."""
    patterns = [p.strip() for p in (ROOT / ".dockerignore").read_text().splitlines()
                if p.strip() and not p.startswith("#")]
    problems = []
    for inst in (i for i in instructions if i.keyword == "COPY"):
        sources, _, from_stage = copy_sources(inst)
        for source in [] if from_stage else sources:
            if not (ROOT / source).exists():
                problems.append(f"{source}: missing")
            elif _ignored(source, patterns):
                problems.append(f"{source}: excluded by .dockerignore")
    assert problems == []


def _build_context(instructions: list[Instruction], target: Path) -> Path:
    """Assemble /src of the build stage by following its COPY instructions."""
    workdir = target / "src"
    workdir.mkdir(parents=True)
    for inst in (i for i in instructions if i.stage == 0 and i.keyword == "COPY"):
        sources, dest, _ = copy_sources(inst)
        for source in sources:
            src = ROOT / source
            into = workdir / dest if dest not in ("./", ".") else workdir
            if src.is_dir():
                shutil.copytree(src, into, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                into.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, into / src.name)
    return workdir


def _run(cmd: str, *, cwd: Path, env: dict[str, str]) -> None:
    result = subprocess.run(["sh", "-ec", cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{cmd}\n{result.stdout}\n{result.stderr}"


@dataclass(frozen=True)
class Replay:
    """The outcome of replaying the Dockerfile: the virtualenv standing for the image, the built wheels."""

    venv: Path
    wheels: dict[str, list[str]]  # wheel file name -> its members


@pytest.fixture(scope="module")
def replay(instructions: list[Instruction], tmp_path_factory: pytest.TempPathFactory) -> Replay:
    """Replay the build and runtime RUN steps."""
    tmp = tmp_path_factory.mktemp("docker-replay")
    wheels = tmp / "wheels"
    env = dict(os.environ)

    # Build stage: the COPY set must be enough to build the wheel.
    src = _build_context(instructions, tmp)
    (build_run,) = [i.args for i in instructions if i.stage == 0 and i.keyword == "RUN"]
    assert "pip wheel" in build_run
    build = build_run.replace("python -m pip wheel", f"{shlex.quote(sys.executable)} -m pip wheel")
    _run(build.replace("/wheels", str(wheels)), cwd=src, env=env)
    built = {}
    for path in wheels.glob("*.whl"):
        with zipfile.ZipFile(path) as wheel:
            built[path.name] = wheel.namelist()

    # Runtime stage: a fresh venv is the image's interpreter; dependencies come from the project's venv.
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    purelib = "import sysconfig; print(sysconfig.get_path('purelib'))"
    site = Path(subprocess.run([str(venv / "bin" / "python"), "-c", purelib],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "project-deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    run_env = dict(env, PATH=f"{venv / 'bin'}{os.pathsep}{env['PATH']}", PYTHONNOUSERSITE="1")
    run_env.pop("PYTHONPATH", None)
    staged = tmp / "context"
    for inst in (i for i in instructions if i.stage == 1):
        if inst.keyword == "COPY":
            sources, dest, from_stage = copy_sources(inst)
            if not from_stage:
                shutil.copytree(ROOT / sources[0], staged / dest.lstrip("/"))
            continue
        if inst.keyword != "RUN" or inst.args.startswith("groupadd"):
            continue  # user creation needs root; everything else is replayed
        install = "python -m pip install --no-cache-dir"
        cmd = (inst.args
               .replace(install, f"{install} --no-deps --no-index")
               .replace("/wheels", str(wheels)))
        cmd = re.sub(r"^python -m pip", f"{shlex.quote(sys.executable)} -m pip --python {venv / 'bin' / 'python'}", cmd)
        _run(cmd, cwd=tmp, env=run_env)
    return Replay(venv=venv, wheels=built)


def test_wheel_carries_every_package_data_file(replay: Replay, tmp_path: Path) -> None:
    """Every non-Python file inside agent/, indexer/ and tui/ is installed under auditlog/ by the image's wheel."""
    site = Path(subprocess.run([str(replay.venv / "bin" / "python"), "-c",
                                "import auditlog, pathlib; print(pathlib.Path(auditlog.__file__).parent)"],
                               cwd=tmp_path, check=True, capture_output=True, text=True).stdout.strip())
    assert not site.is_relative_to(ROOT)
    wanted = {
        str(p.relative_to(ROOT))
        for package in ("agent", "indexer", "tui")
        for p in (ROOT / package).rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    }
    missing = sorted(f for f in wanted if not (site / f).is_file())
    assert missing == []


def test_installed_image_runs_setup_inputs(replay: Replay, tmp_path: Path) -> None:
    """In the replayed image, the CLI answers, and ILM policies, templates and Kibana objects load."""
    script = (
        "import auditlog.agent, pathlib\n"
        f"assert not pathlib.Path(auditlog.agent.__file__).is_relative_to({str(ROOT)!r}), auditlog.agent.__file__\n"
        "from auditlog.indexer.tiers import TierTable\n"
        "from auditlog.indexer.ilm import load_policies\n"
        "from auditlog.indexer.templates import render_all\n"
        "from auditlog.indexer.kibana import load_objects\n"
        "print(len(load_policies()), len(render_all(TierTable(), ilm=True)) > 0, len(load_objects(TierTable())) > 0)\n"
    )
    result = subprocess.run([str(replay.venv / "bin" / "python"), "-c", script], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60, env=dict(os.environ, PYTHONNOUSERSITE="1"))
    assert result.stdout.strip() == "3 True True", result.stderr
    help_run = subprocess.run([str(replay.venv / "bin" / "auditlog"), "demo", "--help"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)
    assert help_run.returncode == 0, help_run.stderr


def test_wheel_holds_the_packages_and_the_c_line_check(replay: Replay) -> None:
    """The build stage makes exactly one wheel, for this Python, holding the packages and the compiled extensions."""
    assert len(replay.wheels) == 1
    ((name, members),) = replay.wheels.items()
    assert f"-cp{sys.version_info.major}{sys.version_info.minor}-" in name
    assert {"auditlog/agent", "auditlog/indexer", "auditlog/tui"} <= {"/".join(m.split("/", 2)[:2]) for m in members}
    # the line check; the per-batch work on bulk entries; the digest seal's bookkeeping
    for extension in ("agent/_linescan", "agent/_entries", "indexer/_layout"):
        assert [m for m in members if m.startswith(f"auditlog/{extension}.") and m.endswith(".so")], extension


def test_build_stage_has_a_compiler_and_the_runtime_is_its_slim_sibling(instructions: list[Instruction]) -> None:
    """The build stage's image carries gcc (the full python image); the runtime is the slim one of the same tag."""
    froms = [i.args for i in instructions if i.keyword == "FROM"]
    assert ["python:${PYTHON_VERSION} AS build", "python:${PYTHON_VERSION}-slim"] == froms


def test_wheel_puts_nothing_generic_at_the_top(replay: Replay, tmp_path: Path) -> None:
    """The wheel's only import package is ``auditlog``: no top-level agent, indexer or tui in site-packages."""
    ((_, members),) = replay.wheels.items()
    tops = {m.split("/", 1)[0] for m in members if not m.split("/", 1)[0].endswith((".dist-info", ".data"))}
    assert {"auditlog"} == tops
    probe = "import importlib.util as u; print([n for n in ('agent', 'indexer', 'tui') if u.find_spec(n)])"
    found = subprocess.run([str(replay.venv / "bin" / "python"), "-c", probe], cwd=tmp_path,
                           check=True, capture_output=True, text=True).stdout.strip()
    assert "[]" == found


@pytest.mark.parametrize(("flag", "sample"), [("--print-config", "agent.toml"),
                                              ("--print-unit", "auditlog-agent.service")])
def test_installed_wheel_prints_the_deploy_samples(replay: Replay, tmp_path: Path, flag: str, sample: str) -> None:
    """The image's wheel carries deploy/'s samples: `auditlog agent --print-config/--print-unit` write them."""
    done = subprocess.run([str(replay.venv / "bin" / "auditlog"), "agent", flag], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, env=dict(os.environ, PYTHONNOUSERSITE="1"))
    assert (0, (ROOT / "deploy" / sample).read_text()) == (done.returncode, done.stdout)
