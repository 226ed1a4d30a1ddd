"""The demo's background parts: start them detached, remember them in a state file, stop them all.

``auditlog demo run`` (``make demo``) starts the agent and the demo generator as background
processes and the local Elasticsearch node when no cluster was named; ``auditlog demo stop``
(``make demo-stop``) stops exactly those again. Choices:

- Each background part runs in its own session (``start_new_session``), so it outlives the
  terminal that ran ``make demo`` and its whole process group can be signalled: stopping it leaves
  no orphan behind (SIGTERM, then SIGKILL after a grace period).
- The state folder (``--state-dir``; default ``AUDITLOG_HOME/demo``, else ``/var/lib/auditlog/demo``
  as root, else ``~/.local/state/auditlog/demo``) holds ``demo.json`` (pids, the node's port, the
  Elasticsearch URL), ``logs/audit.jsonl`` (what the generator writes and the agent ships),
  ``agent/`` (the agent's checkpoints and dead letters) and one ``<part>.log`` per background part.
- A pid is only signalled while its command line still names auditlog: a pid the system reused for
  another program after a reboot is left alone.
- Connection settings reach the children through ``AUDITLOG_ES_*`` environment variables, never on
  the command line (``ps`` would show an API key or password).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from auditlog.core.errors import CommandError
from auditlog.indexer.client import ConnectionSettings

STATE_FILE = "demo.json"
#: words one of which a background part's command line contains (see ``is_ours``).
_OUR_MARKERS = (b"auditlog", b"auditlog.cli")


def default_state_dir() -> Path:
    """Return the demo's state folder (same rules as the local node's, with ``demo`` as the leaf)."""
    base = os.environ.get("AUDITLOG_HOME")
    if base:
        return Path(base) / "demo"
    if os.geteuid() == 0:
        return Path("/var/lib/auditlog/demo")
    return Path.home() / ".local" / "state" / "auditlog" / "demo"


@dataclass
class DemoState:
    """What ``demo run`` started and where, as saved in ``demo.json``."""

    es_url: str
    node_port: int | None = None  # set when the demo started the local node (stop stops it)
    node_state_dir: str | None = None
    processes: dict[str, int] = field(default_factory=dict)  # part name -> pid (= process group id)

    def save(self, state_dir: Path) -> None:
        """Write ``demo.json`` atomically."""
        state_dir.mkdir(parents=True, exist_ok=True)
        tmp = state_dir / f".{STATE_FILE}.tmp"
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        os.replace(tmp, state_dir / STATE_FILE)

    @classmethod
    def load(cls, state_dir: Path) -> DemoState | None:
        """Read ``demo.json``; ``None`` when there is none.

        Raises:
            CommandError: the file is not a demo state (edited, cut short): nothing is signalled on its word.
        """
        path = state_dir / STATE_FILE
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_bytes())
            processes = {str(k): int(v) for k, v in data.get("processes", {}).items()}
            if not isinstance(data["es_url"], str) or any(pid <= 1 for pid in processes.values()):
                raise ValueError("an es_url that is not a text or a pid below 2")
            port, where = data.get("node_port"), data.get("node_state_dir")
            if not (port is None or type(port) is int) or not (where is None or isinstance(where, str)):
                raise ValueError("node_port or node_state_dir of another type")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:  # JSONDecodeError is a ValueError
            raise CommandError(f"{path} is not a demo state ({type(exc).__name__}: {str(exc)[:80]}); remove it "
                               "and stop what it started by hand (auditlog es stop --port PORT)") from None
        return cls(es_url=data["es_url"], node_port=port, node_state_dir=where, processes=processes)

    @staticmethod
    def remove(state_dir: Path) -> None:
        """Delete ``demo.json`` (the logs stay for inspection)."""
        with contextlib.suppress(FileNotFoundError):
            (state_dir / STATE_FILE).unlink()


def child_env(settings: ConnectionSettings, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return an environment that gives a child process these connection settings.

    Args:
        settings: the cluster the child talks to.
        base: the environment to extend (default ``os.environ``).

    Returns:
        A new environment mapping.
    """
    env = dict(os.environ if base is None else base)
    for var in ("AUDITLOG_ES_API_KEY", "AUDITLOG_ES_USERNAME", "AUDITLOG_ES_PASSWORD", "AUDITLOG_ES_CA_CERTS"):
        env.pop(var, None)
    env["AUDITLOG_ES_URL"] = settings.url
    if settings.api_key:
        env["AUDITLOG_ES_API_KEY"] = settings.api_key
    if settings.username and settings.password:
        env["AUDITLOG_ES_USERNAME"], env["AUDITLOG_ES_PASSWORD"] = settings.username, settings.password
    if settings.ca_certs:
        env["AUDITLOG_ES_CA_CERTS"] = settings.ca_certs
    return env


def auditlog_argv(*args: str) -> list[str]:
    """Return the command line that runs ``auditlog ARGS`` with this interpreter."""
    return [sys.executable, "-m", "auditlog.cli", *args]


def agent_dir(state_dir: Path) -> Path:
    """Return the demo agent's state folder, made the agent's alone to write.

    The agent refuses a state folder the group may write. Earlier versions let the agent make this one under
    the user's umask (775 under 002); it is the demo's own folder, so its group and other write bits go.

    Raises:
        OSError: when it cannot be made or changed.
    """
    path = state_dir / "agent"
    path.mkdir(parents=True, exist_ok=True, mode=0o755)
    st = path.stat()
    if st.st_uid == os.geteuid() and st.st_mode & 0o022:
        path.chmod(st.st_mode & 0o7755)
    return path


def spawn(name: str, argv: Sequence[str], state_dir: Path, env: Mapping[str, str]) -> int:
    """Start one background part detached from this terminal.

    Args:
        name: the part's name (its log is ``<state_dir>/<name>.log``).
        argv: the command line.
        state_dir: the demo's state folder.
        env: the environment of the child.

    Returns:
        The child's pid, which is also its process group id.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    with open(state_dir / f"{name}.log", "ab") as log:
        proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                env=dict(env), start_new_session=True, close_fds=True)
    return proc.pid


def is_ours(pid: int) -> bool:
    """Whether ``pid`` runs and its command line names auditlog (so it may be signalled)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return _alive(pid)  # no /proc (macOS): trust the recorded pid while it exists
    if not cmdline:  # a process between fork and exec (or exiting) shows no command line yet
        return _alive(pid)
    return any(marker in cmdline for marker in _OUR_MARKERS)


def _reap(pid: int) -> None:
    # When the part is our own child (tests, or `demo run` stopping what it just started), collect its
    # exit status so it does not linger as a zombie that still "exists".
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _probe(send: Callable[[int, int], None], pid: int) -> bool:
    """Whether signal 0 reaches ``pid`` (``os.kill``) or process group ``pid`` (``os.killpg``)."""
    _reap(pid)
    try:
        send(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, it is just not ours to signal
    return True


def _alive(pid: int) -> bool:
    return _probe(os.kill, pid)


def _group_alive(pgid: int) -> bool:
    return _probe(os.killpg, pgid)


def stop_part(pid: int, *, grace: float = 15.0) -> bool:
    """Stop a background part and everything in its process group.

    Args:
        pid: the part's pid (= its process group id).
        grace: seconds to wait after SIGTERM before SIGKILL.

    Returns:
        True when something was running and is now stopped; False when it was not running.
    """
    if not _group_alive(pid):
        return False
    if _alive(pid) and not is_ours(pid):  # the pid was reused by another program: leave it alone
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not _group_alive(pid):
            return True
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    while _group_alive(pid) and time.monotonic() < deadline + 5:
        time.sleep(0.05)
    return True


def running_parts(state: DemoState) -> dict[str, int]:
    """Return the recorded parts that still run."""
    return {name: pid for name, pid in state.processes.items() if _group_alive(pid) and is_ours(pid)}
