"""Agent configuration: TOML, env and flags; bad keys stop startup naming the key."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from auditlog.agent import config
from auditlog.core.errors import UsageError


def toml(tmp: Path, text: str) -> Path:
    p = tmp / "agent.toml"
    p.write_text(text)
    return p


def test_defaults_without_file() -> None:
    """Without a file every key has its documented default."""
    cfg = config.load(None, env={})
    assert (
        cfg["batch.max_events"], cfg["inputs.max_line_bytes"], cfg["elasticsearch.url"]) == (2000, 1024 * 1024, "http://127.0.0.1:9200")


def test_unknown_key_is_named(tmp_path: Path) -> None:
    """An unknown key stops startup with its dotted name."""
    with pytest.raises(UsageError, match=r"batch\.max_event: unknown key"):
        config.load(toml(tmp_path, "[batch]\nmax_event = 5\n"), env={})


def test_unknown_section_is_named(tmp_path: Path) -> None:
    """An unknown section stops startup with its name."""
    with pytest.raises(UsageError, match=r"^output: unknown section"):
        config.load(toml(tmp_path, "[output]\nx = 1\n"), env={})


def test_wrong_type_is_named(tmp_path: Path) -> None:
    """A string where a number belongs names the key and the type."""
    with pytest.raises(UsageError, match=r"batch\.max_events: must be int"):
        config.load(toml(tmp_path, '[batch]\nmax_events = "many"\n'), env={})


def test_out_of_range_is_named(tmp_path: Path) -> None:
    """A zero batch size names the key and the bound."""
    with pytest.raises(UsageError, match=r"batch\.max_events: must be >= 1"):
        config.load(toml(tmp_path, "[batch]\nmax_events = 0\n"), env={})


def test_invalid_toml_is_reported(tmp_path: Path) -> None:
    """A syntax error is a usage error naming the file."""
    with pytest.raises(UsageError, match="invalid TOML"):
        config.load(toml(tmp_path, "[batch\n"), env={})


def test_flags_beat_env_beat_file(tmp_path: Path) -> None:
    """Flags override the environment, which overrides the file."""
    path = toml(tmp_path, '[elasticsearch]\nurl = "http://file:9200"\napi_key = "from-file"\n[state]\ndir = "/s"\n')
    args = argparse.Namespace(es_url="http://flag:9200", paths=["/x/*.log"])
    cfg = config.load(path, args, env={"AUDITLOG_ES_URL": "http://env:9200", "AUDITLOG_ES_API_KEY": "from-env"})
    got = (cfg["elasticsearch.url"], cfg["elasticsearch.api_key"], cfg["inputs.paths"], cfg["state.dir"])
    assert got == ("http://flag:9200", "from-env", ["/x/*.log"], "/s")


def test_sample_config_is_valid(repo_root: Path) -> None:
    """deploy/agent.toml loads without errors and documents every key."""
    sample = repo_root / "deploy" / "agent.toml"
    cfg = config.load(sample, env={})
    text = sample.read_text()
    missing = [f"{s}.{k}" for s, keys in config.SCHEMA.items() for k in keys if f"\n{k} =" not in text
               and f"\n# {k} =" not in text]
    assert (missing, str(cfg.state_dir)) == ([], "/var/lib/auditlog-agent")


def test_secrets_do_not_appear_in_redacted_connection(tmp_path: Path) -> None:
    """The connection summary for logs has no API key."""
    cfg = config.load(toml(tmp_path, '[elasticsearch]\napi_key = "SECRET"\n'), env={})
    assert "SECRET" not in repr(cfg.connection().redacted())


def test_prefix_flag_and_environment_choose_the_namespace(tmp_path: Path) -> None:
    """--prefix (as for every command) and AUDITLOG_INDEX_PREFIX set elasticsearch.index_prefix."""
    from auditlog.cli import build_parser

    args = build_parser().parse_args(["agent", "--path", str(tmp_path / "*.jsonl"), "--prefix", "flag-audit"])
    from_flag = config.load(None, args, env={"AUDITLOG_INDEX_PREFIX": "env-audit"}).tiers().prefix
    from_env = config.load(None, env={"AUDITLOG_INDEX_PREFIX": "env-audit"}).tiers().prefix
    assert ("flag-audit", "env-audit") == (from_flag, from_env)


@pytest.mark.parametrize("text", ["max_future_skew = -1", "max_age_margin = 1e12", 'max_future_skew = "1 fortnight"',
                                  'max_age_margin = "-1d"', "max_age_margin = true"])
def test_bad_time_bounds_are_named(tmp_path: Path, text: str) -> None:
    """A negative, absurd, unitless-text or non-numeric time bound stops startup naming the routing key."""
    with pytest.raises(UsageError, match=r"^routing\.max_"):
        config.load(toml(tmp_path, f"[routing]\n{text}\n"), env={})


def test_time_bounds_come_from_the_routing_keys(tmp_path: Path) -> None:
    """routing.max_future_skew and max_age_margin set the router's bounds."""
    bounds = config.load(toml(tmp_path, "[routing]\nmax_future_skew = 60\nmax_age_margin = 0\n"), env={}).time_bounds()
    assert (bounds.max_future_skew, bounds.max_age) == (60.0, 30 * 86400.0)


@pytest.mark.parametrize(("skew", "margin", "expected"), [
    ('"1d"', '"36h"', (86400.0, 30 * 86400.0 + 36 * 3600.0)),
    ('"90m"', '"30s"', (5400.0, 30 * 86400.0 + 30.0)),
])
def test_time_bounds_accept_durations_with_units(tmp_path: Path, skew: str, margin: str,
                                                 expected: tuple[float, float]) -> None:
    """routing.max_future_skew and max_age_margin take "1d", "36h", "90m", "30s" like every duration key."""
    text = f"[routing]\nmax_future_skew = {skew}\nmax_age_margin = {margin}\n"
    bounds = config.load(toml(tmp_path, text), env={}).time_bounds()
    assert expected == (bounds.max_future_skew, bounds.max_age)


def test_dead_letters_are_redacted_unless_raw_is_asked_for(tmp_path: Path) -> None:
    """By default dead letters get the redactor's line rule; redact.raw_dead_letters = true keeps lines raw."""
    default = config.load(None, env={}).dead_letter_redaction()
    raw = config.load(toml(tmp_path, "[redact]\nraw_dead_letters = true\n"), env={}).dead_letter_redaction()
    assert (default is not None and b"hunter2" not in default(b'{"pwd": "hunter2"}'), raw) == (True, None)


@pytest.mark.parametrize(("text", "seconds"), [('"30s"', 30.0), ('"5m"', 300.0), ('"1h"', 3600.0),
                                               ('"250ms"', 0.25), ('"1d"', 86400.0), ("2.5", 2.5)])
def test_duration_accepts_units(tmp_path: Path, text: str, seconds: float) -> None:
    """A duration key takes seconds as a number or text with ms, s, m, h or d."""
    cfg = config.load(toml(tmp_path, f"[retry]\nmax_backoff = {text}\n"), env={})
    assert seconds == cfg["retry.max_backoff"]


def test_every_duration_key_accepts_units(tmp_path: Path) -> None:
    """All interval, timeout and backoff keys accept a unit."""
    text = ('[inputs]\nrescan_interval = "10s"\npoll_interval = "500ms"\nclose_inactive = "1m"\n'
            '[elasticsearch]\nrequest_timeout = "2m"\n[batch]\nmax_latency = "2s"\n'
            '[retry]\ninitial_backoff = "200ms"\nmax_backoff = "1m"\n[shutdown]\ntimeout = "30s"\n')
    cfg = config.load(toml(tmp_path, text), env={})
    keys = ("inputs.rescan_interval", "inputs.poll_interval", "inputs.close_inactive", "elasticsearch.request_timeout",
            "batch.max_latency", "retry.initial_backoff", "retry.max_backoff", "shutdown.timeout")
    assert (10.0, 0.5, 60.0, 120.0, 2.0, 0.2, 60.0, 30.0) == tuple(cfg[k] for k in keys)


def test_bad_duration_is_named(tmp_path: Path) -> None:
    """A duration with an unknown unit stops startup naming the key."""
    with pytest.raises(UsageError, match=r"batch\.max_latency: must be seconds or a duration like"):
        config.load(toml(tmp_path, '[batch]\nmax_latency = "2 days"\n'), env={})


def test_duration_range_checked_after_units(tmp_path: Path) -> None:
    """The range check applies to the converted seconds."""
    with pytest.raises(UsageError, match=r"elasticsearch\.request_timeout: must be >= 1"):
        config.load(toml(tmp_path, '[elasticsearch]\nrequest_timeout = "500ms"\n'), env={})


def test_non_duration_key_refuses_text(tmp_path: Path) -> None:
    """A count key does not take text with a unit."""
    with pytest.raises(UsageError, match=r"batch\.max_events: must be int"):
        config.load(toml(tmp_path, '[batch]\nmax_events = "5m"\n'), env={})


def test_wrong_type_of_a_secret_names_the_key_without_its_value(tmp_path: Path) -> None:
    """A secret key of the wrong type names the key and the type, never the value."""
    with pytest.raises(UsageError) as refused:
        config.load(toml(tmp_path, '[elasticsearch]\npassword = ["hunter2-secret"]\n'), env={})
    expected = (True, False)
    assert expected == ("elasticsearch.password: must be string, got list" in str(refused.value),
                        "hunter2-secret" in str(refused.value))


def test_readable_config_holding_a_key_is_warned_about(tmp_path: Path) -> None:
    """A config file with an API key that other users may read loads with a warning to chmod 600 it."""
    path = toml(tmp_path, '[elasticsearch]\napi_key = "the-key"\n')
    path.chmod(0o644)
    warnings = config.load(path, env={}).warnings
    expected = (1, True, False)
    assert expected == (len(warnings), "chmod 600" in warnings[0], "the-key" in warnings[0])


@pytest.mark.parametrize("mode", [0o664, 0o646])
def test_a_config_others_may_write_is_warned_about(tmp_path: Path, mode: int) -> None:
    """A config file the group or others may write loads with one warning saying what they could change."""
    path = toml(tmp_path, '[batch]\nmax_events = 10\n')
    path.chmod(mode)
    warnings = config.load(path, env={}).warnings
    expected = (1, f"may be written by other users (mode {mode:04o})", True)
    assert expected == (len(warnings), warnings[0].split(": they")[0].split(" ", 1)[1], "chmod go-w" in warnings[0])


def test_private_config_holding_a_key_gives_no_warning(tmp_path: Path) -> None:
    """The same file with mode 0600 loads without a warning."""
    path = toml(tmp_path, '[elasticsearch]\napi_key = "the-key"\n')
    path.chmod(0o600)
    assert () == config.load(path, env={}).warnings


def test_several_node_urls_are_accepted(tmp_path: Path) -> None:
    """elasticsearch.url may list the nodes of one cluster, comma-separated."""
    urls = "http://127.0.0.1:9200,http://127.0.0.1:9201"
    assert urls == config.load(toml(tmp_path, f'[elasticsearch]\nurl = "{urls}"\n'), env={})["elasticsearch.url"]


def test_a_bad_url_among_several_is_named(tmp_path: Path) -> None:
    """One URL of the list without http(s) stops startup naming the key."""
    with pytest.raises(UsageError, match=r"elasticsearch\.url: must be http"):
        config.load(toml(tmp_path, '[elasticsearch]\nurl = "http://a:9200,b:9200"\n'), env={})


@pytest.mark.parametrize("value", ["inf", "nan", "1e309", '"99999999999d"'])
def test_a_duration_beyond_a_century_is_named(tmp_path: Path, value: str) -> None:
    """An infinite, NaN or century-plus duration stops startup naming the key (it overflowed the clock at shutdown)."""
    with pytest.raises(UsageError, match=r"shutdown\.timeout: must be a finite number of seconds up to a century"):
        config.load(toml(tmp_path, f"[shutdown]\ntimeout = {value}\n"), env={})


@pytest.mark.parametrize("name", sorted(f"{s}.{k}" for s, keys in config.SCHEMA.items() for k, d in keys.items()
                                        if d.duration))
def test_every_duration_key_refuses_infinity(tmp_path: Path, name: str) -> None:
    """No duration key takes inf: each would reach a clock or a sleep that cannot hold it."""
    section, key = name.split(".")
    with pytest.raises(UsageError, match=rf"{name}: must be a finite number of seconds"):
        config.load(toml(tmp_path, f"[{section}]\n{key} = inf\n"), env={})


def test_a_config_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    """A binary or UTF-16 file stops startup with one line naming the file, not a UnicodeDecodeError."""
    path = tmp_path / "agent.toml"
    path.write_bytes("[inputs]\n".encode("utf-16"))
    with pytest.raises(UsageError, match=r"invalid TOML in .*agent\.toml: not UTF-8 text"):
        config.load(path, env={})


@pytest.mark.parametrize("value", ["[" * 500 + "]" * 500, "{b=" * 500 + "1" + "}" * 500],
                         ids=["arrays", "inline-tables"])
def test_a_config_file_nested_too_deeply_is_named(tmp_path: Path, value: str) -> None:
    """Arrays or inline tables nested hundreds deep stop startup with one line naming the file, not a RecursionError."""
    with pytest.raises(UsageError, match=r"invalid TOML in .*agent\.toml: nested too deeply"):
        config.load(toml(tmp_path, f"a = {value}\n"), env={})


def test_a_url_the_client_cannot_parse_is_named_without_its_password(tmp_path: Path) -> None:
    """elasticsearch.url with a space in the host stops startup naming the key, the password hidden."""
    with pytest.raises(UsageError) as refused:
        config.load(toml(tmp_path, '[elasticsearch]\nurl = "http://elastic:hunter2@es node:9200"\n'), env={})
    assert (True, False) == (str(refused.value).startswith("elasticsearch.url: "), "hunter2" in str(refused.value))


@pytest.mark.parametrize("url", ["http://user:TOPSECRET,PW@127.0.0.1:1", "ftp://user:TOPSECRET,PW@127.0.0.1:1"])
def test_a_url_whose_password_holds_a_comma_is_named_without_any_of_it(tmp_path: Path, url: str) -> None:
    """elasticsearch.url whose password holds ',' stops startup naming the key, no part of the password shown."""
    with pytest.raises(UsageError) as refused:
        config.load(toml(tmp_path, f'[elasticsearch]\nurl = "{url}"\n'), env={})
    assert (True, False) == (str(refused.value).startswith("elasticsearch.url: "), "TOPSECRET" in str(refused.value))


def test_a_url_from_the_environment_whose_password_holds_a_comma_is_not_shown() -> None:
    """AUDITLOG_ES_URL whose password holds ',' is refused without any part of the password."""
    with pytest.raises(UsageError) as refused:
        config.load(None, env={"AUDITLOG_ES_URL": "http://user:TOPSECRET,PW@127.0.0.1:1"})
    assert "TOPSECRET" not in str(refused.value)


def _no_prompt(user: str, option: str) -> str:
    raise AssertionError(f"asked for {user}'s password ({option})")


def test_a_user_name_from_the_environment_takes_the_password_of_the_file(tmp_path: Path) -> None:
    """AUDITLOG_ES_USERNAME beside a file holding the password keeps that password; nobody is asked."""
    path = toml(tmp_path, '[elasticsearch]\nusername = "u"\npassword = "from-file"\n')
    cfg = config.load(path, env={"AUDITLOG_ES_USERNAME": "other"}, ask_password=_no_prompt)
    assert ("other", "from-file") == (cfg["elasticsearch.username"], cfg["elasticsearch.password"])


def test_a_user_name_from_the_environment_without_any_password_is_asked_for_one() -> None:
    """AUDITLOG_ES_USERNAME with no password anywhere asks for one, naming the variable it came from."""
    asked: list[tuple[str, str]] = []

    def answer(user: str, option: str) -> str:
        asked.append((user, option))
        return "typed"

    cfg = config.load(None, env={"AUDITLOG_ES_USERNAME": "u"}, ask_password=answer)
    assert ("typed", [("u", "AUDITLOG_ES_USERNAME")]) == (cfg["elasticsearch.password"], asked)


def test_a_password_from_the_environment_without_a_user_names_the_keys_to_set() -> None:
    """AUDITLOG_ES_PASSWORD without any user name is refused saying to set elasticsearch.username or --user."""
    with pytest.raises(UsageError) as refused:
        config.load(None, env={"AUDITLOG_ES_PASSWORD": "pw"}, ask_password=_no_prompt)
    assert "set elasticsearch.username (or --user, AUDITLOG_ES_USERNAME)" in str(refused.value)


def test_a_user_name_from_the_file_alone_is_not_asked_a_password(tmp_path: Path) -> None:
    """A user name only the file gives, without a password, is refused naming the key, never prompted for."""
    with pytest.raises(UsageError, match=r"^elasticsearch\.password: username and password go together"):
        config.load(toml(tmp_path, '[elasticsearch]\nusername = "u"\n'), env={}, ask_password=_no_prompt)


@pytest.mark.parametrize(("key", "entry"), [("words", "-"), ("keys", "_-")])
def test_a_redact_name_empty_once_normalised_names_its_own_key(tmp_path: Path, key: str, entry: str) -> None:
    """A redact.words or redact.keys entry that normalises to nothing is refused naming that key."""
    with pytest.raises(UsageError, match=rf"^redact\.{key}: "):
        config.load(toml(tmp_path, f'[redact]\n{key} = ["{entry}"]\n'), env={})


def test_a_non_ascii_password_is_named_without_its_value(tmp_path: Path) -> None:
    """elasticsearch.password with an umlaut stops startup naming the key, never the value."""
    path = toml(tmp_path, '[elasticsearch]\nusername = "u"\npassword = "h\u00fcnter2"\n')
    with pytest.raises(UsageError) as refused:
        config.load(path, env={})
    assert (True, False) == (str(refused.value).startswith("elasticsearch.password: must be printable ASCII"),
                             "h\u00fcnter2" in str(refused.value))


@pytest.mark.parametrize("host", ['""', '" "'])
def test_an_empty_metrics_host_is_named(tmp_path: Path, host: str) -> None:
    """metrics.host must name an address: an empty one (silently all interfaces) stops startup naming the key."""
    with pytest.raises(UsageError, match=r"metrics\.host: must be an address"):
        config.load(toml(tmp_path, f'[metrics]\nhost = {host}\n'), env={})


@pytest.mark.parametrize("host", ["224.0.0.1", "255.255.255.255", "ff02::1", "::ffff:224.0.0.1"])
def test_a_multicast_or_broadcast_metrics_host_is_named(tmp_path: Path, host: str) -> None:
    """A multicast or broadcast metrics.host (it binds, and nothing can ever connect) stops startup naming the key;
    all interfaces, a loopback address and a host name are taken."""
    with pytest.raises(UsageError, match=r"metrics\.host: must be an address of this host .* multicast or broadcast"):
        config.load(toml(tmp_path, f'[metrics]\nhost = "{host}"\n'), env={})
    for fine in ("0.0.0.0", "::", "127.0.0.1", "localhost"):
        assert config.load(toml(tmp_path, f'[metrics]\nhost = "{fine}"\n'), env={})["metrics.host"] == fine


def test_a_named_pipe_without_a_writer_as_config_is_one_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A FIFO nothing writes to, given as the config file, is a usage error after the wait, not a hang."""
    import os

    from auditlog.core import files

    monkeypatch.setattr(files, "NAMED_PIPE_WAIT", 0.2)
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(UsageError, match=r"cannot read config .*fifo: a named pipe that nothing wrote to"):
        config.load(tmp_path / "fifo", env={})


@pytest.mark.parametrize(("text", "named"), [
    ("[inputs]\nread_chunk_bytes = 68719476736", "inputs.read_chunk_bytes: must be <= 67108864"),
    ("[batch]\nworkers = 10000000000000000000000000000000", "batch.workers: must be <= 64"),
    ("[batch]\nworkers = 100000", "batch.workers: must be <= 64"),
    ("[batch]\nmax_events = 9223372036854775808", "batch.max_events: must be <= 1000000"),
    ("[batch]\nmax_bytes = 9223372036854775808", "batch.max_bytes: must be <= 104857600"),
    ("[batch]\nmax_in_flight = 100000", "batch.max_in_flight: must be <= 64"),
    ("[inputs]\nfingerprint_bytes = 10000000000000000000", "inputs.fingerprint_bytes: must be <= 1048576"),
    ("[inputs]\nmax_line_bytes = 10000000000000000000", "inputs.max_line_bytes: must be <= 104857600"),
    ("[inputs]\nmax_depth = 10000000000000000000", "inputs.max_depth: must be <= 1000"),
    ("[inputs]\nmax_open_files = 10000000000000000000", "inputs.max_open_files: must be <= 1048576"),
    ("[ids]\nwindow = 10000000000000000000", "ids.window: must be <= 100000000"),
    ("[digest]\nmax_events = 10000000000000000000", "digest.max_events: must be <= 50000"),
])
def test_a_size_or_count_beyond_its_maximum_is_named(tmp_path: Path, text: str, named: str) -> None:
    """A size or count the agent cannot run with (it used to start and fail later) stops startup naming the key."""
    with pytest.raises(UsageError, match=re.escape(named)):
        config.load(toml(tmp_path, text + "\n"), env={})


def test_the_sample_config_states_each_maximum(repo_root: Path) -> None:
    """deploy/agent.toml tells the operator each size and count maximum the loader enforces."""
    sample = (repo_root / "deploy" / "agent.toml").read_text()
    maxima = [config.MAX_READ_CHUNK_BYTES, config.MAX_BATCH_EVENTS, config.MAX_BATCH_BYTES, config.MAX_WORKERS,
              config.MAX_IN_FLIGHT, config.MAX_FINGERPRINT_BYTES, config.MAX_LINE_BYTES, config.MAX_DEPTH,
              config.MAX_OPEN_FILES, config.MAX_ID_WINDOW, config.MAX_DIGEST_EVENTS]
    assert [] == [m for m in maxima if f"to {m}" not in sample]


def test_the_digest_bound_is_the_seals_read() -> None:
    """digest.max_events stops at the events a seal reads at a time, which no digest spans beyond."""
    from auditlog.agent.digest_writer import DigestSettings

    assert config.MAX_DIGEST_EVENTS == DigestSettings().seal_events


@pytest.mark.parametrize("text", ["١٢s", "12\u0660s", "\uff11s", "1.\u0665m"])
def test_a_duration_with_other_scripts_digits_is_named(tmp_path: Path, text: str) -> None:
    """Digits of other scripts (Arabic-Indic, full-width) are no duration: the key is named, not read as 12 s."""
    with pytest.raises(UsageError, match=r"batch\.max_latency: must be seconds or a duration like"):
        config.load(toml(tmp_path, f'[batch]\nmax_latency = "{text}"\n'), env={})


@pytest.mark.parametrize(("text", "name"), [('[state]\ndir = "/x\\u0000y"', "state.dir"),
                                            ('[metrics]\nhost = "a\\u0000b"', "metrics.host"),
                                            ('[inputs]\npaths = ["/x/\\u0000y"]', "inputs.paths"),
                                            ('[elasticsearch]\nca_certs = "/x\\u0000y"', "elasticsearch.ca_certs")])
def test_a_nul_character_in_a_string_is_named(tmp_path: Path, text: str, name: str) -> None:
    """A NUL in a path, host or glob stops startup naming the key (it was a traceback or silently matched nothing)."""
    with pytest.raises(UsageError, match=re.escape(f"{name}: must not contain a NUL")):
        config.load(toml(tmp_path, text + "\n"), env={})


def test_a_missing_ca_bundle_is_named_when_the_connection_is_made(tmp_path: Path) -> None:
    """elasticsearch.ca_certs naming no file is a usage error naming the key where the connection is resolved."""
    cfg = config.load(toml(tmp_path, f'[elasticsearch]\nurl = "https://127.0.0.1:9200"\n'
                                     f'ca_certs = "{tmp_path}/none.crt"\n'), env={})
    with pytest.raises(UsageError, match=r"^elasticsearch\.ca_certs: no such file"):
        cfg.connection()


@pytest.mark.parametrize("entry", ["/", "{tmp}"])
def test_a_folder_named_as_a_log_path_stops_startup_naming_the_key(tmp_path: Path, entry: str) -> None:
    """inputs.paths naming a folder (no wildcard) would ship nothing and watch all below it: refused, key named."""
    path = toml(tmp_path, f'[inputs]\npaths = ["{entry.format(tmp=tmp_path)}"]\n')
    with pytest.raises(UsageError, match=r"inputs\.paths: .* is a folder: name its files, e\.g\. .*\*\.jsonl"):
        config.load(path, env={})


@pytest.mark.parametrize("entry", ["{tmp}/**/../*.jsonl", "{tmp}/**/./*.jsonl", "{tmp}/a/**/b/../*.jsonl"])
def test_a_dot_folder_after_a_double_star_stops_startup_naming_the_key(tmp_path: Path, entry: str) -> None:
    """'.' or '..' after '**' matches nothing in the walk: refused naming the key, not a glob that ships nothing."""
    path = toml(tmp_path, f'[inputs]\npaths = ["{entry.format(tmp=tmp_path)}"]\n')
    with pytest.raises(UsageError, match=r"inputs\.paths: .*: '\.' or '\.\.' after '\*\*' matches nothing"):
        config.load(path, env={})


def test_a_dot_folder_before_a_double_star_is_accepted(tmp_path: Path) -> None:
    """'..' in the fixed part before '**' is an ordinary path: the walk starts there."""
    entry = f"{tmp_path}/x/../**/*.jsonl"
    assert config.load(toml(tmp_path, f'[inputs]\npaths = ["{entry}"]\n'), env={})["inputs.paths"] == [entry]


def test_a_log_path_with_a_wildcard_below_a_folder_is_accepted(tmp_path: Path) -> None:
    """The usual form, a folder and a wildcard, is not taken for a folder."""
    assert config.load(toml(tmp_path, f'[inputs]\npaths = ["{tmp_path}/*.jsonl"]\n'), env={})["inputs.paths"] == [
        f"{tmp_path}/*.jsonl"]


@pytest.mark.parametrize("value", ['["https://elastic:TOPSECRET@es1:9200"]',
                                   '{ url = "https://elastic:TOPSECRET@es1" }'])
def test_a_url_of_the_wrong_type_is_named_without_its_password(tmp_path: Path, value: str) -> None:
    """elasticsearch.url given as an array or a table stops startup naming the key, never the password in it."""
    with pytest.raises(UsageError) as refused:
        config.load(toml(tmp_path, f"[elasticsearch]\nurl = {value}\n"), env={})
    assert (True, False) == (str(refused.value).startswith("elasticsearch.url: must be string, got "),
                             "TOPSECRET" in str(refused.value))
