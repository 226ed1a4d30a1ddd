"""docker-compose.yml: valid per the Compose specification's JSON schema, and internally consistent.

No Docker engine runs here, so the file is checked statically. The schema comes from the
``docker-compose`` 1.29.2 wheel (``compose/config/compose_spec.json``), fetched once with
``pip download`` into ``~/.cache/auditlog/compose-spec`` and never installed.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from auditlog.indexer.distribution import ES_VERSION

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

    script = compose["services"]["setup"]["command"][2]
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
    assert f"chown {uid.group(1)}:{uid.group(1)} /secrets/agent-api-key" in compose["services"]["setup"]["command"][2]
