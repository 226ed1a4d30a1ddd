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
- A part is only signalled while its pid is still the very process ``demo run`` started: ``demo.json``
  records each part's start time and boot id (``auditlog.core.processes``) and both must match, so a pid
  the system reused (after a reboot, or for the user's own ``auditlog tui``) is left alone and reported as
  stale. A ``demo.json`` from before identities were recorded is not acted on while a part's pid still runs
  something naming auditlog: ``demo stop`` refuses in one line per part and keeps the file (stop it by hand).
- Connection settings reach the children through ``AUDITLOG_ES_*`` environment variables, never on
  the command line (``ps`` would show an API key or password).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from auditlog.core.errors import CommandError
from auditlog.core.processes import (
    Identity,
    Outcome,
    SignalRefused,
    StopResult,
    Verdict,
    identify,
    judge,
    observe,
    stale_reason,
    stop_group,
)
from auditlog.indexer.client import ConnectionSettings

STATE_FILE = "demo.json"
#: for a demo.json without identities: words one of which a background part's command line contains
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
    # part name -> what tells its process from a later one with the same pid (absent in old state files)
    identities: dict[str, Identity] = field(default_factory=dict)
    # when demo.json was written (its mtime), read by load(): judges a pid an old state file records
    recorded_at: float | None = field(default=None, compare=False)

    def record(self, name: str, pid: int) -> None:
        """Remember a part just started: its pid and, read now while it is surely ours, its identity."""
        self.processes[name] = pid
        identity = identify(pid)
        if identity is not None:
            self.identities[name] = identity
        else:  # gone already (or no /proc): no identity, so stop never signals it
            self.identities.pop(name, None)

    def save(self, state_dir: Path) -> None:
        """Write ``demo.json`` atomically."""
        state_dir.mkdir(parents=True, exist_ok=True)
        tmp = state_dir / f".{STATE_FILE}.tmp"
        data = asdict(self)
        data.pop("recorded_at")
        tmp.write_text(json.dumps(data, indent=2) + "\n")
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
            found = {str(k): Identity.from_json(v) for k, v in data.get("identities", {}).items()}
            identities = {name: identity for name, identity in found.items() if identity is not None}
            if not isinstance(data["es_url"], str) or any(pid <= 1 for pid in processes.values()):
                raise ValueError("an es_url that is not a text or a pid below 2")
            port, where = data.get("node_port"), data.get("node_state_dir")
            if not (port is None or type(port) is int) or not (where is None or isinstance(where, str)):
                raise ValueError("node_port or node_state_dir of another type")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:  # JSONDecodeError is a ValueError
            raise CommandError(f"{path} is not a demo state ({type(exc).__name__}: {str(exc)[:80]}); remove it "
                               "and stop what it started by hand (auditlog es stop --port PORT)") from None
        return cls(es_url=data["es_url"], node_port=port, node_state_dir=where, processes=processes,
                   identities=identities, recorded_at=path.stat().st_mtime)

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
    return spawn_process(name, argv, state_dir, env).pid


def spawn_process(name: str, argv: Sequence[str], state_dir: Path, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """Start one background part as ``spawn`` does; return its process, whose exit status the caller can read.

    Args:
        name: the part's name (its log is ``<state_dir>/<name>.log``).
        argv: the command line.
        state_dir: the demo's state folder.
        env: the environment of the child.

    Returns:
        The child process (its pid is also its process group id).
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    with open(state_dir / f"{name}.log", "ab") as log:
        return subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                env=dict(env), start_new_session=True, close_fds=True)


def part_verdict(state: DemoState, name: str) -> Verdict:
    """Return what the pid recorded for part ``name`` is now (only ``Verdict.OURS`` may be signalled).

    Args:
        state: the loaded ``demo.json``.
        name: a part it records.

    Returns:
        The verdict of ``auditlog.core.processes.judge``.
    """
    pid = state.processes[name]
    _reap(pid)  # our own child that has exited (tests, `demo run` stopping what it started) is gone, not a zombie
    return judge(state.identities.get(name), observe(pid), markers=_OUR_MARKERS, recorded_at=state.recorded_at)


def _reap(pid: int) -> None:
    # When the part is our own child, collect its exit status so it does not linger as a zombie.
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def stop_part(state: DemoState, name: str, *, grace: float = 15.0) -> StopResult:
    """Stop a background part and everything in its process group, if its pid is still that very part.

    Args:
        state: the loaded ``demo.json``.
        name: the part to stop.
        grace: seconds to wait after SIGTERM before SIGKILL.

    Returns:
        STOPPED (signalled, and its group has exited), NOT_RUNNING (it exited before the signal) or STALE (its
        pid is gone or another process now; nothing signalled, ``detail`` says which).

    Raises:
        SignalRefused: an old ``demo.json`` records a live pid that may be the part, or the part does not lead
            its group, may not be signalled or outlived SIGKILL (the message is one line).
    """
    pid = state.processes[name]
    seen = part_verdict(state, name)
    if seen is Verdict.UNCONFIRMED:
        raise SignalRefused(f"pid {pid} was recorded by an older auditlog and cannot be confirmed to be the {name}; "
                            f"nothing signalled: if it is, stop it with `kill -TERM -{pid}`")
    if seen is not Verdict.OURS:
        return StopResult(Outcome.STALE, stale_reason(pid, seen))
    stopped = stop_group(pid, grace=grace, kill_grace=5.0, what=f"the {name}", reap=_reap)
    return StopResult(Outcome.STOPPED if stopped else Outcome.NOT_RUNNING)


def running_parts(state: DemoState) -> dict[str, int]:
    """Return the recorded parts that still run (the very processes recorded, see ``part_verdict``)."""
    return {name: pid for name, pid in state.processes.items() if part_verdict(state, name) is Verdict.OURS}
