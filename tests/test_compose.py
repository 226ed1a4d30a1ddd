"""docker-compose.yml: valid per the Compose specification's JSON schema, internally consistent, and
every service's effective argv (image ENTRYPOINT/CMD plus the service's overrides) is runnable: each
`auditlog ...` parses with the real CLI parser, each shell script passes `sh -n`.

No Docker engine runs here, so the file is checked statically. The schema comes from the
``docker-compose`` 1.29.2 wheel (``compose/config/compose_spec.json``), fetched once with
``pip download`` into ``~/.cache/auditlog/compose-spec`` and never installed.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from auditlog.indexer.distribution import ES_VERSION

REPO_ROOT = Path(__file__).resolve().parents[1]

# ENTRYPOINT and CMD of the official images, as their Dockerfiles declare them. The Elasticsearch
# image's docker-entrypoint.sh starts Elasticsearch for `eswrapper` and otherwise execs its arguments.
OFFICIAL_IMAGES: dict[str, tuple[list[str], list[str]]] = {
    "docker.elastic.co/elasticsearch/elasticsearch": (
        ["/bin/tini", "--", "/usr/local/bin/docker-entrypoint.sh"], ["eswrapper"]),
    "docker.elastic.co/kibana/kibana": (["/bin/tini", "--"], ["/usr/local/bin/kibana-docker"]),
}
# What the official images run when nobody overrides them: their own server processes.
OFFICIAL_PROGRAMS = {"eswrapper", "/usr/local/bin/kibana-docker"}
SHELLS = {"sh", "bash"}
# Words that may stand before a command in a shell script without being the command.
PREFIX_WORDS = {"exec", "then", "else", "do", "if", "while", "until", "!", "{"}

WHEEL = "docker-compose==1.29.2"
SCHEMA_MEMBER = "compose/config/compose_spec.json"
CACHE = Path.home() / ".cache" / "auditlog" / "compose-spec"


def _compose_schema() -> dict[str, Any]:
    wheels = sorted(CACHE.glob("docker_compose-1.29.2-*.whl"))
    if not wheels:
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", WHEEL, "--no-deps", "--quiet", "-d", str(CACHE)],
            check=True, timeout=120,
        )
        wheels = sorted(CACHE.glob("docker_compose-1.29.2-*.whl"))
    with zipfile.ZipFile(wheels[0]) as wheel:
        return json.loads(wheel.read(SCHEMA_MEMBER))


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    """The Compose specification JSON schema."""
    return _compose_schema()


@pytest.fixture(scope="module")
def compose_text(repo_root: Path) -> str:
    """The raw text of docker-compose.yml."""
    return (repo_root / "docker-compose.yml").read_text()


@pytest.fixture(scope="module")
def compose(compose_text: str) -> dict[str, Any]:
    """docker-compose.yml parsed (merge keys resolved)."""
    return yaml.safe_load(compose_text)


@pytest.fixture(scope="module")
def repo_root() -> Path:
    """The repository's top folder (module scope for the fixtures above)."""
    return Path(__file__).resolve().parents[1]


def test_compose_file_validates_against_compose_spec(schema: dict[str, Any], compose: dict[str, Any]) -> None:
    """The compose file has no schema violation."""
    validator_cls = jsonschema.Draft201909Validator  # the file names the draft by a URI jsonschema does not map
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator_cls(schema).iter_errors(compose)]
    assert errors == []


def test_schema_rejects_a_broken_file(schema: dict[str, Any], compose: dict[str, Any]) -> None:
    """The validator is live: a misspelt service key is reported."""
    broken = json.loads(json.dumps(compose))
    broken["services"]["agent"]["restrat"] = "always"
    assert not jsonschema.Draft201909Validator(schema).is_valid(broken)


def test_expected_services_present(compose: dict[str, Any]) -> None:
    """Elasticsearch, Kibana, setup, agent, demo app and TUI are all defined."""
    assert {"certs", "es01", "kibana-password", "kibana", "setup", "agent", "demo", "tui"} == set(compose["services"])


def test_official_images_same_version_as_local_node(compose: dict[str, Any]) -> None:
    """ES and Kibana are official Elastic images whose default version equals the local node's."""
    es_image = compose["services"]["es01"]["image"]
    kibana_image = compose["services"]["kibana"]["image"]
    assert f"docker.elastic.co/elasticsearch/elasticsearch:${{ES_VERSION:-{ES_VERSION}}}" == es_image
    assert f"docker.elastic.co/kibana/kibana:${{ES_VERSION:-{ES_VERSION}}}" == kibana_image
    assert ES_VERSION.startswith("9.")


def test_security_and_tls_on(compose: dict[str, Any]) -> None:
    """Elasticsearch runs with security and HTTP TLS on and no password is written into the file."""
    env = compose["services"]["es01"]["environment"]
    assert env["xpack.security.enabled"] == "true"
    assert env["xpack.security.http.ssl.enabled"] == "true"
    assert "ELASTIC_PASSWORD" not in env
    assert compose["services"]["agent"]["environment"]["AUDITLOG_ES_URL"].startswith("https://")


def test_dependencies_name_existing_services(compose: dict[str, Any]) -> None:
    """Every depends_on entry names a service of the file."""
    services = compose["services"]
    missing = {(name, dep) for name, svc in services.items()
               for dep in svc.get("depends_on", {}) if dep not in services}
    assert set() == missing


def test_named_volumes_declared(compose: dict[str, Any]) -> None:
    """Every named volume a service mounts is declared at top level."""
    declared = set(compose["volumes"])
    used = {
        str(v).split(":", 1)[0]
        for svc in compose["services"].values()
        for v in svc.get("volumes", [])
        if not str(v).startswith((".", "/"))
    }
    assert set() == used - declared


def test_agent_and_demo_share_the_log_volume(compose: dict[str, Any]) -> None:
    """The demo app writes where the agent reads, the agent only reads it."""
    agent_mounts = compose["services"]["agent"]["volumes"]
    demo_mounts = compose["services"]["demo"]["volumes"]
    assert "applogs:/var/log/app:ro" in agent_mounts
    assert "applogs:/var/log/app" in demo_mounts


def test_shell_dollars_escaped_for_compose(compose_text: str) -> None:
    """Every '$' is either '$$' (a shell variable) or a '${VAR...}' Compose interpolation."""
    unescaped = re.findall(r"(?<!\$)\$(?![{$])", compose_text.replace("$$", ""))
    assert unescaped == []


def test_demo_command_is_a_real_cli_invocation(compose: dict[str, Any]) -> None:
    """The demo service's command parses with the real `auditlog` parser (defaults substituted)."""
    from auditlog.cli import build_parser

    argv = [re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", a) for a in compose["services"]["demo"]["command"]]
    args = build_parser().parse_args(argv)
    assert (args.command, args.demo_command) == ("demo", "emit")


def test_setup_key_extraction_reads_the_real_setup_json(compose: dict[str, Any], tmp_path: Path) -> None:
    """The setup service's key extraction understands `auditlog setup --api-keys --json` (ApiKey fields)."""
    from dataclasses import asdict

    from auditlog.indexer.security import ApiKey

    script = compose["services"]["setup"]["command"][0]
    snippet = script.split("<<'PY'\n", 1)[1].split("\nPY\n", 1)[0]
    report = {"changed": True, "changes": [], "notes": [],
              "api_keys": [asdict(ApiKey("writer", "id1", "audit-writer", "V1JJVEVS")),
                           asdict(ApiKey("reader", "id2", "audit-reader", "UkVBREVS"))]}
    (tmp_path / "setup.json").write_text(json.dumps(report))
    snippet = snippet.replace("/tmp/setup.json", str(tmp_path / "setup.json")).replace("/secrets", str(tmp_path))
    subprocess.run([sys.executable, "-c", snippet], check=True, timeout=30)
    keys = ((tmp_path / "agent-api-key").read_text(), (tmp_path / "tui-api-key").read_text())
    assert keys == ("V1JJVEVS", "UkVBREVS")


def test_key_files_belong_to_the_image_user(compose: dict[str, Any], repo_root: Path) -> None:
    """The API key files setup writes are chowned to the uid the Dockerfile gives the auditlog user."""
    uid = re.search(r"useradd [^\n]*--uid (\d+)", (repo_root / "Dockerfile").read_text())
    assert uid is not None
    assert f"chown {uid.group(1)}:{uid.group(1)} /secrets/agent-api-key" in compose["services"]["setup"]["command"][0]


# ---- effective argv: what each container really executes -------------------------------------------


def interpolate(text: str, env: Mapping[str, str] | None = None) -> str:
    """Compose's interpolation: `${VAR:-default}` -> env's VAR or the default, `$$` -> `$`."""
    env = env or {}

    def value(m: re.Match[str]) -> str:
        return env.get(m.group(1)) or m.group(2) or ""

    text = re.sub(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}", value, text)
    return text.replace("$$", "$")


def _as_argv(value: str | list[str]) -> list[str]:
    return shlex.split(value) if isinstance(value, str) else [str(v) for v in value]


def _dockerfile_exec_form(instruction: str) -> list[str]:
    match = re.search(rf"^{instruction}\s+(\[.*\])\s*$", (REPO_ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert match is not None, f"Dockerfile has no exec-form {instruction}"
    return list(json.loads(match.group(1)))


def _image_defaults(service: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The image's ENTRYPOINT and CMD: our Dockerfile for a built service, else the official image's."""
    if "build" in service:
        return _dockerfile_exec_form("ENTRYPOINT"), _dockerfile_exec_form("CMD")
    repository = interpolate(str(service["image"])).rsplit(":", 1)[0]
    return OFFICIAL_IMAGES[repository]


def effective_argv(service: dict[str, Any], env: Mapping[str, str] | None = None) -> list[str]:
    """The argv a service's container executes, after the image's wrappers (tini, docker-entrypoint.sh).

    Docker's rules: a service `entrypoint` replaces the image's ENTRYPOINT and drops the image's CMD;
    a service `command` replaces CMD. ``env`` is the environment Compose interpolates from.
    """
    entrypoint, cmd = _image_defaults(service)
    if "entrypoint" in service:
        entrypoint, cmd = _as_argv(service["entrypoint"]), []
    if "command" in service:
        cmd = _as_argv(service["command"])
    argv = [interpolate(a, env) for a in entrypoint + cmd]
    if argv[:2] == ["/bin/tini", "--"]:
        argv = argv[2:]
    if argv[:1] == ["/usr/local/bin/docker-entrypoint.sh"] and argv[1:2] != ["eswrapper"]:
        argv = argv[1:]
    if argv[:1] == ["/usr/local/bin/docker-entrypoint.sh"]:
        argv = argv[1:2]
    return argv


def shell_script(argv: list[str]) -> str | None:
    """The script of `sh -c SCRIPT` / `bash -ec SCRIPT`, else None."""
    if len(argv) >= 3 and argv[0] in SHELLS and argv[1].startswith("-") and "c" in argv[1]:
        return argv[2]
    return None


def _without_heredocs(script: str) -> str:
    lines, out, end = script.splitlines(), [], None
    for line in lines:
        if end is not None:
            end = None if line.strip() == end else end
            continue
        out.append(line)
        heredoc = re.search(r"<<-?\s*'?\"?(\w+)", line)
        end = heredoc.group(1) if heredoc else None
    return "\n".join(out)


def auditlog_calls(script: str) -> list[list[str]]:
    """Every `auditlog ...` command of a shell script as an argv (env assignments, `exec`, redirections cut)."""
    calls: list[list[str]] = []
    text = _without_heredocs(script).replace("\\\n", " ")
    for line in text.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|()<>")
        lexer.whitespace_split = True
        words: list[str] = []
        for token in [*lexer, ";"]:
            if token and set(token) <= set(";&|()<>"):
                while words and (re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]) or words[0] in PREFIX_WORDS):
                    words.pop(0)
                if words[:1] == ["auditlog"]:
                    calls.append(words)
                # a redirection's target is not an argument: skip it with the next word
                words = ["<redirect>"] if token in {">", ">>", "<", "2>"} else []
                continue
            if words[:1] == ["<redirect>"]:
                words = []
                continue
            words.append(token)
    return calls


def compose_services() -> dict[str, Any]:
    return dict(yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())["services"])


SERVICES = sorted(compose_services())


def _auditlog_argvs(argv: list[str]) -> list[list[str]]:
    script = shell_script(argv)
    if script is not None:
        return auditlog_calls(script)
    return [argv] if argv[:1] == ["auditlog"] else []


@pytest.mark.parametrize("name", SERVICES)
def test_every_service_runs_a_known_program(name: str) -> None:
    """Each service's effective argv starts with `auditlog`, a shell with a script, or an official server."""
    argv = effective_argv(compose_services()[name])
    assert argv[0] in {"auditlog", *OFFICIAL_PROGRAMS} or shell_script(argv) is not None, argv


@pytest.mark.parametrize("name", SERVICES)
def test_every_auditlog_argv_parses_with_the_real_cli(name: str) -> None:
    """Every `auditlog ...` a service runs (directly or inside its script) is accepted by the real parser."""
    from auditlog.cli import build_parser

    failures = []
    for argv in _auditlog_argvs(effective_argv(compose_services()[name])):
        try:
            build_parser().parse_args(argv[1:])
        except SystemExit as exc:
            failures.append((argv, exc.code))
    assert [] == failures


@pytest.mark.parametrize("name", SERVICES)
def test_every_shell_script_passes_sh_n(name: str) -> None:
    """Every script a service or its healthcheck runs is valid syntax for the shell that runs it."""
    service = compose_services()[name]
    scripts: list[tuple[str, str]] = []
    argv = effective_argv(service)
    script = shell_script(argv)
    if script is not None:
        scripts.append((argv[0], script))
    test = service.get("healthcheck", {}).get("test")
    if isinstance(test, list) and test[:1] == ["CMD-SHELL"]:
        scripts.append(("sh", interpolate(test[1])))
    errors = []
    for shell, text in scripts:
        done = subprocess.run([shutil.which(shell) or shell, "-n", "-c", text], capture_output=True, text=True,
                              timeout=30)
        if done.returncode:
            errors.append((shell, done.stderr.strip()))
    assert [] == errors


def test_the_services_that_ship_run_auditlog() -> None:
    """setup, agent, demo and tui each end up running at least one `auditlog` command."""
    services = compose_services()
    runs = {name: [a[1] for a in _auditlog_argvs(effective_argv(services[name]))]
            for name in ("setup", "agent", "demo", "tui")}
    assert {"setup": ["setup", "setup"], "agent": ["agent"], "demo": ["demo"], "tui": ["tui"]} == runs


def test_argv_of_a_shell_without_entrypoint_goes_to_the_image_entrypoint() -> None:
    """A `sh -ec` command without an entrypoint override becomes `auditlog sh -ec ...` (the bug this guards)."""
    argv = effective_argv({"build": {"context": "."}, "command": ["sh", "-ec", "echo hi"]})
    assert ["auditlog", "sh", "-ec", "echo hi"] == argv


def test_auditlog_calls_cut_assignments_exec_and_redirections() -> None:
    """The script scanner returns only the auditlog words of each simple command."""
    script = ('X="$(cat k)" exec auditlog agent --path \'/a b/*.jsonl\' \\\n  --state-dir /s\n'
              "if [ -s f ]; then auditlog setup --json > /tmp/o.json; fi\ncat <<'PY'\nauditlog nope\nPY\n")
    expected = [["auditlog", "agent", "--path", "/a b/*.jsonl", "--state-dir", "/s"],
                ["auditlog", "setup", "--json"]]
    assert expected == auditlog_calls(script)
