"""No secret in any output: a corpus of wrong configurations and flags, every stream grepped for the secret.

Each case runs `auditlog` as a separate process (so tracebacks, log lines and warnings are all
seen) with a secret it must never print: as a flag, in the environment, in a file, in a URL, in an
agent configuration. Cases that need a cluster use the real secure node or a closed port.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.node import SecureNodeInfo

SECRET = "s3cr3t" + uuid.uuid4().hex
#: an API key in Elasticsearch's encoded form whose every piece is the secret
SECRET_KEY = SECRET + "=="
CLOSED = "http://127.0.0.1:9"


@dataclass(frozen=True)
class Case:
    """One wrong invocation: its arguments, extra environment, and files written first."""

    name: str
    argv: Callable[[SecureNodeInfo, Path], list[str]]
    env: dict[str, str] | None = None
    files: dict[str, str] | None = None


def _secure(node: SecureNodeInfo) -> list[str]:
    return ["--es", node.url, "--ca-certs", node.ca_certs]


CASES = [
    Case("setup with a wrong --api-key", lambda n, _: ["setup", *_secure(n), "--api-key", SECRET_KEY]),
    Case("setup with a wrong --password", lambda n, _: ["setup", *_secure(n), "--user", "elastic",
                                                         "--password", SECRET]),
    Case("setup with a wrong key in the environment", lambda n, _: ["setup", *_secure(n)],
         env={"AUDITLOG_ES_API_KEY": SECRET_KEY}),
    Case("setup --api-keys --json with a wrong password", lambda n, _: ["setup", "--api-keys", "--json", *_secure(n),
                                                                       "--user", "elastic"],
         env={"AUDITLOG_ES_PASSWORD": SECRET}),
    Case("export with a key file others may read", lambda n, t: ["export", *_secure(n), "--api-key-file",
                                                                 str(t / "key"), "-o", str(t / "x.xlsx")],
         files={"key": SECRET_KEY + "\n"}),
    Case("show with a password file from the environment", lambda n, _: ["show", "some-id", *_secure(n),
                                                                          "--user", "elastic"],
         env={"AUDITLOG_ES_PASSWORD_FILE": "{tmp}/pw"}, files={"pw": SECRET}),
    Case("unreachable cluster with a key flag", lambda n, t: ["export", "--es", CLOSED, "--api-key", SECRET_KEY,
                                                              "-o", str(t / "x.xlsx")]),
    Case("credentials inside the URL", lambda n, t: ["export", "--es", f"https://elastic:{SECRET}@127.0.0.1:9/",
                                                     "-o", str(t / "x.xlsx")]),
    Case("credentials inside a malformed URL", lambda n, _: ["setup", "--es", f"ftp://elastic:{SECRET}@example"]),
    Case("keys tenant with a wrong key", lambda n, _: ["keys", "tenant", "org-1", *_secure(n),
                                                       "--api-key", SECRET_KEY]),
    Case("keys list with a wrong key", lambda n, _: ["keys", "list", *_secure(n)],
         env={"AUDITLOG_ES_API_KEY": SECRET_KEY}),
    Case("tui with a wrong key", lambda n, _: ["tui", *_secure(n), "--api-key", SECRET_KEY]),
    Case("agent check with a wrong key", lambda n, _: ["agent", "check", *_secure(n), "--api-key", SECRET_KEY]),
    Case("agent check, secret of the wrong type in the config", lambda n, t: ["agent", "check", "--config",
                                                                              str(t / "agent.toml")],
         files={"agent.toml": f'[elasticsearch]\napi_key = ["{SECRET}"]\n'}),
    Case("agent check, readable config holding a key", lambda n, t: ["agent", "check", "--config",
                                                                     str(t / "agent.toml")],
         files={"agent.toml": f'[elasticsearch]\nurl = "{CLOSED}"\napi_key = "{SECRET_KEY}"\n'}),
    Case("dlq replay with a wrong password", lambda n, t: ["dlq", "replay", "--state-dir", str(t / "state"),
                                                           *_secure(n), "--user", "elastic"],
         env={"AUDITLOG_ES_PASSWORD": SECRET}),
    Case("kibana password flag to a closed port", lambda n, _: ["setup", "--es", CLOSED, "--kibana", CLOSED,
                                                                "--kibana-user", "k", "--kibana-password", SECRET]),
    Case("a missing password file", lambda n, t: ["setup", *_secure(n), "--user", "elastic", "--password-file",
                                                  str(t / "nope")]),
    Case("a user without a password and no terminal", lambda n, _: ["setup", *_secure(n), "--user", SECRET]),
]


def _run(case: Case, node: SecureNodeInfo, tmp: Path) -> subprocess.CompletedProcess[str]:
    for name, text in (case.files or {}).items():
        (tmp / name).write_text(text)
        (tmp / name).chmod(0o644)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDITLOG_ES_")}
    env.update({k: v.replace("{tmp}", str(tmp)) for k, v in (case.env or {}).items()})
    return subprocess.run([sys.executable, "-m", "auditlog.cli", *case.argv(node, tmp)], env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_no_output_carries_the_secret(case: Case, secure_node: SecureNodeInfo, tmp_path: Path) -> None:
    """Whatever the command ends with, neither stdout nor stderr carries the secret or a traceback."""
    proc = _run(case, secure_node, tmp_path)
    output = proc.stdout + proc.stderr
    expected = (False, False)
    assert expected == (SECRET in output, "Traceback" in output), output


def test_secret_flags_warn_that_they_show_in_ps(secure_node: SecureNodeInfo, tmp_path: Path) -> None:
    """--api-key on the command line prints a warning naming the environment variable and the file flag."""
    proc = _run(CASES[0], secure_node, tmp_path)
    warning = next(line for line in proc.stderr.splitlines() if "warning" in line)
    expected = (True, True, True)
    assert expected == ("`ps`" in warning, "AUDITLOG_ES_API_KEY" in warning, "--api-key-file" in warning)


def test_readable_secret_file_warns_to_chmod_600(secure_node: SecureNodeInfo, tmp_path: Path) -> None:
    """A key file others may read is used with a warning to chmod 600 it."""
    proc = _run(CASES[4], secure_node, tmp_path)
    assert any("chmod 600" in line and "0644" in line for line in proc.stderr.splitlines())


def test_private_secret_file_gives_no_warning(secure_node: SecureNodeInfo, tmp_path: Path) -> None:
    """A 0600 password file is read without a warning and authenticates."""
    (tmp_path / "pw").write_text(secure_node.password + "\n")
    (tmp_path / "pw").chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDITLOG_ES_")}
    proc = subprocess.run([sys.executable, "-m", "auditlog.cli", "keys", "list", *_secure(secure_node), "--user",
                           "elastic", "--password-file", str(tmp_path / "pw")], env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    expected = (0, "")
    assert expected == (proc.returncode, proc.stderr)
