"""Agent configuration: a TOML file (stdlib ``tomllib``), then environment, then command-line flags.

Every key is declared once in :data:`SCHEMA` with its type, default and check; ``deploy/agent.toml``
documents each one. An unknown section or key, a wrong type or an out-of-range value stops startup
with :class:`auditlog.core.errors.UsageError` naming the key (``batch.max_events: must be >= 1, got 0``).

Precedence (highest first): flags (``--path``, ``--state-dir``, ``--es``, ``--api-key``, ``--user``,
``--password``, ``--ca-certs``, ``--insecure``, ``--metrics-port``), environment
(``AUDITLOG_ES_URL``, ``AUDITLOG_ES_API_KEY``, ``AUDITLOG_ES_USERNAME``, ``AUDITLOG_ES_PASSWORD``,
``AUDITLOG_ES_CA_CERTS``, ``AUDITLOG_AGENT_STATE_DIR``), the file, the defaults below.
"""

from __future__ import annotations

import argparse
import glob
import ipaddress
import os
import re
import stat
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditlog.agent.backoff import EqualJitterBackoff
from auditlog.agent.discovery import DEFAULT_EXCLUDE, walk_problem
from auditlog.agent.enrich import Enricher
from auditlog.agent.idrecord import IdRecord
from auditlog.agent.redact import DEFAULT_SECRET_KEYS, DEFAULT_SECRET_WORDS, RedactionSettingError, Redactor
from auditlog.agent.shipper import ShipperFields
from auditlog.agent.timebounds import DEFAULT_MAX_AGE_MARGIN, DEFAULT_MAX_FUTURE_SKEW, BoundsSettings, TimeBounds
from auditlog.core.errors import UsageError
from auditlog.core.files import FileTooLargeError, read_limited
from auditlog.indexer.client import (
    DEFAULT_URL,
    ConnectionSettings,
    ca_file_problem,
    credential_problem,
    shown_url,
    split_urls,
    url_problem,
)
from auditlog.indexer.tiers import DEFAULT_PREFIX, PREFIX_ENV, RETENTION_DAYS, TierTable

Check = Callable[[Any], str | None]
#: asks for the password of a user name: ``(user, option that named it) -> password``
AskPassword = Callable[[str, str], str]

#: Keys whose values are secrets: never echoed in a message; a config file holding one should be 0600.
SECRET_KEYS = frozenset({"elasticsearch.api_key", "elasticsearch.password"})
#: Keys whose values may hold a secret inside (a URL's user-info, ``https://user:pw@host``): a message shows
#: them only through :func:`indexer.client.shown_url`, never as given.
URL_KEYS = frozenset({"elasticsearch.url"})


def _min(lo: float) -> Check:
    return lambda v: None if v >= lo else f"must be >= {lo}, got {v}"


def _range(lo: float, hi: float) -> Check:
    return lambda v: None if lo <= v <= hi else f"must be between {lo:g} and {hi:g}, got {v}"


def _bounded(lo: int, hi: int) -> Check:
    return lambda v: f"must be >= {lo}, got {v}" if v < lo else (f"must be <= {hi}, got {v}" if v > hi else None)


# Upper bounds of sizes and counts: beyond them the agent started, then failed at run time (a read size
# the OS cannot take, threads until the user's quota ran out, counts that overflow the pass-through's C).
#: bytes per read() call (64 MiB)
MAX_READ_CHUNK_BYTES = 64 * 1024 * 1024
#: events per bulk request
MAX_BATCH_EVENTS = 1_000_000
#: bytes per bulk request: Elasticsearch's default http.max_content_length (100 MiB) refuses larger ones
MAX_BATCH_BYTES = 100 * 1024 * 1024
#: sender threads
MAX_WORKERS = 64
#: sealed batches waiting for a sender (each holds up to batch.max_bytes)
MAX_IN_FLIGHT = 64
#: leading bytes hashed into a file's identity, read again at every check of it (1 MiB)
MAX_FINGERPRINT_BYTES = 1024 * 1024
#: a longer line could never be sent: it would not fit a bulk request Elasticsearch takes (MAX_BATCH_BYTES)
MAX_LINE_BYTES = MAX_BATCH_BYTES
#: the shortest inputs.max_line_bytes: a line any audit event fits in
MIN_LINE_BYTES = 1024
#: object nesting; the JSON decoder itself refuses deeper lines (and Elasticsearch maps 20 levels by default)
MAX_DEPTH = 1000
#: open log files; Linux's default fs.nr_open, above which no process gets descriptors
MAX_OPEN_FILES = 1024 * 1024
#: remembered ids (about 60 bytes each on disk, two generations: 12 GB at this bound)
MAX_ID_WINDOW = 100_000_000
#: events one digest lists: a seal reads pending events about this many at a time
#: (DigestSettings.seal_events) and a digest never spans two reads, so larger values made no larger digests
MAX_DIGEST_EVENTS = 50_000


#: the most a configuration file may hold (the sample with every key is 10 kB)
CONFIG_FILE_LIMIT = 1024 * 1024
_MAX_SPAN = 100 * 366 * 86400.0  # seconds: a century is plenty for a clock skew or a retention margin


def _listen_host(value: str) -> str | None:
    """Why ``value`` is no address or host name to listen on (None: it is one).

    A multicast or broadcast address binds without an error, but nothing can ever connect to it: an endpoint
    silently dead, so it is refused here.
    """
    if not (value and value.isprintable() and value.strip() == value):
        return f"must be an address or host name to listen on (0.0.0.0 for all interfaces), got {value!r}"
    try:
        address = ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        return None  # a host name: resolved at start, where one that does not resolve is named
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:224.0.0.1 is the IPv4 multicast address it maps
    if address.is_multicast or (address.version == 4 and int(address) == 0xFFFFFFFF):
        return f"must be an address of this host to listen on, not a multicast or broadcast one, got {value!r}"
    return None


def _choice(*options: str) -> Check:
    return lambda v: None if v in options else f"must be one of {', '.join(options)}, got {v!r}"


def _nonempty_list(v: list[str]) -> str | None:
    return None if all(s for s in v) else "entries must be non-empty strings"


def _log_paths(v: list[str]) -> str | None:
    """Entries are non-empty, the ``**`` walk can match each, and none without a wildcard names a directory (it
    would ship nothing, and the watcher would watch everything below it: ``/`` meant the whole file system)."""
    problem = _nonempty_list(v)
    if problem is not None:
        return problem
    for entry in v:
        path = os.path.expanduser(entry)
        shown = entry.encode("utf-8", "backslashreplace").decode()[:200]
        if problem := walk_problem(path):  # a '..' after '**' silently matched nothing
            return f"{shown!r}: {problem}"
        if not glob.has_magic(path) and os.path.isdir(path):
            return f"{shown!r} is a folder: name its files, e.g. {os.path.join(shown, '*.jsonl')!r}"
    return None


@dataclass(frozen=True)
class Key:
    """One configuration key: its type(s), default and an optional check."""

    types: tuple[type, ...]
    default: Any
    check: Check | None = None
    help: str = ""
    duration: bool = False  # seconds as a number, or text with a unit: "250ms", "30s", "5m", "1h", "1d"


def _k(types: type | tuple[type, ...], default: Any, check: Check | None = None) -> Key:
    return Key(types if isinstance(types, tuple) else (types,), default, check)


def _d(default: float, check: Check | None = None) -> Key:
    return Key((int, float, str), default, check, duration=True)


# re.ASCII: Python's \d also matches other scripts' digits ("١٢s" was 12 seconds), which no TOML reader,
# shell or sample shows; the key is refused like any other malformed duration.
_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*", re.ASCII)
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> float:
    """Return the seconds of a duration like ``"250ms"``, ``"30s"``, ``"5m"``, ``"1h"`` or ``"1d"``.

    Raises:
        ValueError: when ``text`` is not a number followed by ms, s, m, h or d.
    """
    match = _DURATION.fullmatch(text)
    if match is None:
        raise ValueError(f"must be seconds or a duration like 250ms, 30s, 5m, 1h, 1d, got {text!r}")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def _url_check(v: str) -> str | None:
    if not (split_urls(v) and all(u.startswith(("http://", "https://")) for u in split_urls(v))):
        return f"must be http:// or https:// URLs (comma-separated), got {shown_url(v)}"
    return url_problem(v)  # a host the client cannot parse (its error would quote the password)


#: section -> key -> declaration (defaults are what deploy/agent.toml shows).
SCHEMA: dict[str, dict[str, Key]] = {
    "inputs": {
        "paths": _k(list, [], _log_paths),
        "exclude": _k(list, list(DEFAULT_EXCLUDE), _nonempty_list),
        "watcher": _k(str, "auto", _choice("auto", "watchdog", "polling")),
        "rescan_interval": _d(5.0, _min(0.05)),
        "poll_interval": _d(0.25, _min(0.01)),
        "close_inactive": _d(5.0, _min(0)),
        "fingerprint_bytes": _k(int, 1024, _bounded(16, MAX_FINGERPRINT_BYTES)),
        "max_line_bytes": _k(int, 1024 * 1024, _bounded(MIN_LINE_BYTES, MAX_LINE_BYTES)),
        "read_chunk_bytes": _k(int, 256 * 1024, _bounded(4096, MAX_READ_CHUNK_BYTES)),
        "max_depth": _k(int, 20, _bounded(2, MAX_DEPTH)),
        "follow_symlinks": _k(bool, False),
        "max_open_files": _k(int, 0, _bounded(0, MAX_OPEN_FILES)),
    },
    "state": {"dir": _k(str, "/var/lib/auditlog-agent", lambda v: None if v else "must not be empty")},
    "elasticsearch": {
        "url": _k(str, DEFAULT_URL, _url_check),
        "api_key": _k(str, ""),
        "username": _k(str, "", lambda v: credential_problem(v, username=True) if v else None),
        "password": _k(str, "", lambda v: credential_problem(v) if v else None),
        "ca_certs": _k(str, ""),
        "verify_certs": _k(bool, True),
        "request_timeout": _d(60.0, _min(1)),
        "index_prefix": _k(str, DEFAULT_PREFIX),
        "basic_class": _k(str, "professional", _choice(*RETENTION_DAYS)),
    },
    "routing": {
        "max_future_skew": _d(DEFAULT_MAX_FUTURE_SKEW, _range(0, _MAX_SPAN)),
        "max_age_margin": _d(DEFAULT_MAX_AGE_MARGIN, _range(0, _MAX_SPAN)),
    },
    "batch": {
        "max_events": _k(int, 2000, _bounded(1, MAX_BATCH_EVENTS)),
        "max_bytes": _k(int, 4 * 1024 * 1024, _bounded(1024, MAX_BATCH_BYTES)),
        "max_latency": _d(1.0, _min(0.001)),
        "max_in_flight": _k(int, 2, _bounded(1, MAX_IN_FLIGHT)),
        "workers": _k(int, 4, _bounded(1, MAX_WORKERS)),
    },
    "ids": {"window": _k(int, 1_000_000, _bounded(0, MAX_ID_WINDOW))},
    "retry": {
        "initial_backoff": _d(0.1, _min(0.001)),
        "max_backoff": _d(30.0, _min(0.001)),
    },
    "redact": {
        "enabled": _k(bool, True),
        "keys": _k(list, list(DEFAULT_SECRET_KEYS), _nonempty_list),
        "words": _k(list, list(DEFAULT_SECRET_WORDS), _nonempty_list),
        "mode": _k(str, "substring", _choice("substring", "exact")),
        "raw_dead_letters": _k(bool, False),
    },
    "metrics": {
        "enabled": _k(bool, True),
        "host": _k(str, "127.0.0.1", _listen_host),
        "port": _k(int, 9108, lambda v: None if 0 <= v <= 65535 else f"must be a TCP port (0-65535), got {v}"),
    },
    "log": {"level": _k(str, "info", _choice("debug", "info", "warning", "error"))},
    "shutdown": {"timeout": _d(10.0, _min(0))},
    "digest": {
        "enabled": _k(bool, True),
        "interval": _d(10.0, _min(0.05)),
        "max_events": _k(int, 20000, _bounded(1, MAX_DIGEST_EVENTS)),
    },
}


@dataclass(frozen=True)
class AgentConfig:
    """The resolved configuration: ``values[section][key]`` plus where it came from."""

    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    source: str | None = None
    #: warnings for the operator (e.g. a config file holding a secret that others may read)
    warnings: tuple[str, ...] = ()

    def __getitem__(self, dotted: str) -> Any:
        section, _, key = dotted.partition(".")
        return self.values[section][key]

    @property
    def state_dir(self) -> Path:
        """The state directory (registry, dead letters)."""
        return Path(self["state.dir"])

    def connection(self) -> ConnectionSettings:
        """Connection settings for :func:`indexer.client.make_client`.

        Raises:
            UsageError: naming the ``elasticsearch.*`` key that is inconsistent.
        """
        try:
            settings = ConnectionSettings(
                url=self["elasticsearch.url"],
                api_key=self["elasticsearch.api_key"] or None,
                username=self["elasticsearch.username"] or None,
                password=self["elasticsearch.password"] or None,
                ca_certs=self["elasticsearch.ca_certs"] or None,
                verify_certs=self["elasticsearch.verify_certs"],
                request_timeout=float(self["elasticsearch.request_timeout"]),
            )
        except ValueError as exc:
            raise UsageError(f"elasticsearch: {exc}") from None
        ca_certs = self["elasticsearch.ca_certs"]
        if ca_certs and (problem := ca_file_problem(ca_certs)):
            raise UsageError(f"elasticsearch.ca_certs: {problem}")
        return settings

    def tiers(self) -> TierTable:
        """The routing table."""
        try:
            return TierTable.with_basic_class(
                self["elasticsearch.basic_class"], prefix=self["elasticsearch.index_prefix"]
            )
        except ValueError as exc:
            raise UsageError(f"elasticsearch.index_prefix: {exc}") from None

    def backoff(self) -> EqualJitterBackoff:
        """The retry policy (``retry.initial_backoff``, ``retry.max_backoff``)."""
        return EqualJitterBackoff(float(self["retry.initial_backoff"]), float(self["retry.max_backoff"]))

    def id_record(self) -> IdRecord | None:
        """The record of sent ids and content checksums (``ids.sqlite``), or None when ``ids.window`` is 0."""
        window = self["ids.window"]
        return IdRecord(self.state_dir, window) if window else None

    def time_bounds(self) -> TimeBounds:
        """The router's time bounds (``routing.*``) over this configuration's tier table."""
        return TimeBounds(
            self.tiers(),
            BoundsSettings(float(self["routing.max_future_skew"]), float(self["routing.max_age_margin"])),
        )

    def enricher(self, shipper: ShipperFields | None = None) -> Enricher:
        """The enricher the agent routes with: this tier table, redaction rules and time bounds, plus the
        shipper's ECS fields when given."""
        return Enricher(self.tiers(), self.redactor(), self.time_bounds(), shipper)

    def redactor(self) -> Redactor | None:
        """The redactor, or None when redaction is off."""
        if not self["redact.enabled"]:
            return None
        try:
            return Redactor(self["redact.keys"], words=self["redact.words"], mode=self["redact.mode"])
        except RedactionSettingError as exc:
            raise UsageError(f"redact.{exc.argument}: {exc}") from None

    def dead_letter_redaction(self) -> Callable[[bytes], bytes] | None:
        """What the dead-letter writer applies to each line: the redactor's, unless raw lines are asked for."""
        redactor = self.redactor()
        return None if redactor is None or self["redact.raw_dead_letters"] else redactor.line


def _check(section: str, key: str, value: Any) -> Any:
    decl = SCHEMA[section][key]
    name = f"{section}.{key}"
    if decl.duration and isinstance(value, str):
        try:
            value = parse_duration(value)
        except ValueError as exc:
            raise UsageError(f"{name}: {exc}") from None
    # bool is an int in Python: only accept it where a bool is declared
    if (isinstance(value, bool) and bool not in decl.types) or not isinstance(value, decl.types):
        want = " or ".join(t.__name__ for t in decl.types).replace("list", "array").replace("str", "string")
        raise UsageError(f"{name}: must be {want}, got {type(value).__name__}{_shown_wrong_type(name, value)}")
    if isinstance(value, list) and not all(isinstance(v, str) for v in value):
        raise UsageError(f"{name}: must be an array of strings")
    if any("\0" in v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str)):
        # no path, host or header can hold it (open() and bind() raised, a glob silently matched nothing)
        raise UsageError(f"{name}: must not contain a NUL character (\\u0000)")
    if decl.duration and isinstance(value, int | float) and not -_MAX_SPAN <= value <= _MAX_SPAN:
        # inf (TOML's 1e309 or inf) or "99999999999d" passed a minimum, then overflowed the clock at shutdown
        raise UsageError(f"{name}: must be a finite number of seconds up to a century ({_MAX_SPAN:.0f}), got {value!r}")
    if decl.check is not None:
        problem = decl.check(value)
        if problem:
            raise UsageError(f"{name}: {problem}")
    return value


def _shown_wrong_type(name: str, value: Any) -> str:
    """How a message about a value of the wrong type shows it: as given, but never a secret (pure).

    A secret key's value is not shown at all. An ``elasticsearch.url`` of the wrong type is not shown either: an
    array of URLs (the natural way to list several nodes) would have put each one's password into the message,
    and so into the journal on a reload; it gets the form it needs instead.

    Args:
        name: the dotted key.
        value: the value of the wrong type.

    Returns:
        The text to append to the message (empty, or starting with a blank).
    """
    if name in SECRET_KEYS:
        return ""
    if name in URL_KEYS:
        return ' (several nodes go into one string, comma-separated: "https://es1:9200,https://es2:9200")' \
            if isinstance(value, list) else ""
    return f" {value!r}"


def _ask_for_password(values: dict[str, dict[str, Any]], args: argparse.Namespace | None, env: Mapping[str, str],
                      ask_password: AskPassword | None) -> None:
    """Fill ``elasticsearch.password`` from ``ask_password`` when a flag or variable names a user and no source,
    the file included, gives a password or an API key. A user name only the file gives is not asked for: the
    file is incomplete, and the refusal below names its key."""
    es = values["elasticsearch"]
    if ask_password is None or es["password"] or es["api_key"]:
        return
    if args is not None and getattr(args, "es_username", None):
        option = "--user"
    elif env.get("AUDITLOG_ES_USERNAME"):
        option = "AUDITLOG_ES_USERNAME"
    else:
        return
    es["password"] = _check("elasticsearch", "password", ask_password(es["username"], option))


def load(
    path: str | Path | None = None,
    args: argparse.Namespace | None = None,
    env: Mapping[str, str] | None = None,
    *,
    ask_password: AskPassword | None = None,
) -> AgentConfig:
    """Resolve the agent's configuration.

    Each key takes its highest source on its own: ``AUDITLOG_ES_USERNAME`` beside a file holding
    ``elasticsearch.password`` uses the file's password.

    Args:
        path: a TOML file, or None for defaults only.
        args: parsed flags (see ``auditlog.commands.agent``).
        env: environment (defaults to ``os.environ``).
        ask_password: asks for the password (the shell's terminal prompt) with the user name and the option
            that gave it, when ``--user`` or ``AUDITLOG_ES_USERNAME`` names a user and no source gives a
            password or an API key; None: such a configuration is refused.

    Returns:
        The validated configuration.

    Raises:
        UsageError: on an unreadable file, invalid TOML, an unknown key or an invalid value; the
            message names the key.
    """
    env = os.environ if env is None else env
    values = {s: {k: (list(d.default) if isinstance(d.default, list) else d.default) for k, d in keys.items()}
              for s, keys in SCHEMA.items()}
    if path is not None:
        try:
            raw = tomllib.loads(read_limited(path, CONFIG_FILE_LIMIT).decode("utf-8"))
        except OSError as exc:
            raise UsageError(f"cannot read config {path}: {exc.strerror or exc}") from None
        except FileTooLargeError as exc:
            raise UsageError(f"cannot read config: {exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"invalid TOML in {path}: {exc}") from None
        except UnicodeDecodeError as exc:  # TOML is UTF-8: a binary file or another encoding
            raise UsageError(f"invalid TOML in {path}: not UTF-8 text (byte {exc.start})") from None
        except RecursionError:  # tomllib recurses per nesting level: '[' * 500 ran out of stack
            raise UsageError(f"invalid TOML in {path}: nested too deeply (arrays or inline tables)") from None
        for section, table in raw.items():
            if section not in SCHEMA:
                raise UsageError(f"{section}: unknown section (known: {', '.join(SCHEMA)})")
            if not isinstance(table, dict):
                raise UsageError(f"{section}: must be a table")
            for key, value in table.items():
                if key not in SCHEMA[section]:
                    raise UsageError(f"{section}.{key}: unknown key (known: {', '.join(SCHEMA[section])})")
                values[section][key] = _check(section, key, value)
    for var, section, key in (
        ("AUDITLOG_ES_URL", "elasticsearch", "url"),
        ("AUDITLOG_ES_API_KEY", "elasticsearch", "api_key"),
        ("AUDITLOG_ES_USERNAME", "elasticsearch", "username"),
        ("AUDITLOG_ES_PASSWORD", "elasticsearch", "password"),
        ("AUDITLOG_ES_CA_CERTS", "elasticsearch", "ca_certs"),
        ("AUDITLOG_AGENT_STATE_DIR", "state", "dir"),
        (PREFIX_ENV, "elasticsearch", "index_prefix"),
    ):
        if env.get(var):
            values[section][key] = _check(section, key, env[var])
    if args is not None:
        for attr, section, key in (
            ("paths", "inputs", "paths"),
            ("state_dir", "state", "dir"),
            ("es_url", "elasticsearch", "url"),
            ("es_api_key", "elasticsearch", "api_key"),
            ("es_username", "elasticsearch", "username"),
            ("es_password", "elasticsearch", "password"),
            ("es_ca_certs", "elasticsearch", "ca_certs"),
            ("metrics_port", "metrics", "port"),
            ("index_prefix", "elasticsearch", "index_prefix"),
        ):
            value = getattr(args, attr, None)
            if value is not None and value != []:
                values[section][key] = _check(section, key, value)
        if getattr(args, "es_insecure", False):
            values["elasticsearch"]["verify_certs"] = False
    _ask_for_password(values, args, env, ask_password)
    if values["retry"]["max_backoff"] < values["retry"]["initial_backoff"]:
        raise UsageError("retry.max_backoff: must be >= retry.initial_backoff")
    if (values["elasticsearch"]["username"] == "") != (values["elasticsearch"]["password"] == ""):
        missing = ("a password needs a user name: set elasticsearch.username (or --user, AUDITLOG_ES_USERNAME)"
                   if values["elasticsearch"]["username"] == "" else "a user name needs a password: set "
                   "elasticsearch.password (or AUDITLOG_ES_PASSWORD, --password-file)")
        raise UsageError(f"elasticsearch.password: username and password go together; {missing}")
    notes: list[str] = []
    if path is not None:
        secrets_in_file = [f"{s}.{k}" for s, table in raw.items() for k, v in table.items()
                           if f"{s}.{k}" in SECRET_KEYS and v]
        mode = stat.S_IMODE(Path(path).stat().st_mode)
        if secrets_in_file and mode & 0o077:
            notes.append(f"{path} holds {', '.join(secrets_in_file)} and may be read by other users (mode {mode:04o}); "
                         f"chmod 600 {path}, or use AUDITLOG_ES_API_KEY_FILE")
        if mode & 0o022:  # a warning, not a refusal: an editor under umask 002 writes 664, and a reload re-reads it
            notes.append(f"{path} may be written by other users (mode {mode:04o}): they could change where the agent "
                         f"ships events and what it redacts; chmod go-w {path}")
    cfg = AgentConfig(values, str(path) if path is not None else None, tuple(notes))
    cfg.tiers()  # prefix problems surface now, named
    cfg.redactor()
    return cfg
