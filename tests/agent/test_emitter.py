"""The app-facing emitter: configure(), the verb logger, context binding, bad-event policy and the append writer."""

from __future__ import annotations

import collections
import dataclasses
import enum
import multiprocessing
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import structlog
from structlog.testing import capture_logs

import auditlog.agent.emitter as emitter_module
from auditlog.agent.contract import ContractError, Problem, validate
from auditlog.agent.emitter import (
    AppendWriter,
    EmitterNotConfiguredError,
    audit_context,
    bind_audit_context,
    clear_audit_context,
    configure,
    get_audit_logger,
    shutdown,
)
from auditlog.agent.redact import REDACTED

TENANT = {"tenant": "org-4711", "tenant_name": "Praxis Muster", "tier": "enterprise"}


@pytest.fixture(autouse=True)
def _clean_emitter() -> Iterator[None]:
    """Every test starts without a configured emitter or bound audit context."""
    shutdown()
    clear_audit_context()
    yield
    shutdown()
    clear_audit_context()


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    """Where the emitter writes."""
    return tmp_path / "audit.jsonl"


def lines(path: Path) -> list[dict[str, Any]]:
    """The decoded lines of ``path``."""
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


# ---------------------------------------------------------------------------------------------- writing events


def test_update_writes_one_valid_contract_line(log_path: Path) -> None:
    """One update() call appends exactly one line that the contract accepts."""
    configure(path=log_path, strict=True)
    audit = get_audit_logger(**TENANT)
    audit.update("moved appointment 4711", source="appointments", changes={"start": ("10:00", "11:00")})
    (event,) = lines(log_path)
    assert validate(event) == []
    assert (event["event"]["action"], event["audit"]["changes"], event["message"]) == (
        "update",
        {"start": {"old": "10:00", "new": "11:00"}},
        "moved appointment 4711",
    )


def test_line_carries_ecs_categories_and_changed_fields(log_path: Path) -> None:
    """The emitter adds ECS categorisation and the sorted changed field names."""
    configure(path=log_path, strict=True)
    get_audit_logger(**TENANT).create(source="services", changes={"name": (None, "Cut"), "duration": (None, 30)})
    (event,) = lines(log_path)
    assert (event["event"]["category"], event["event"]["type"], event["audit"]["changed_fields"]) == (
        ["configuration"],
        ["creation"],
        ["duration", "name"],
    )


def test_message_is_optional(log_path: Path) -> None:
    """A call without a message writes no message field."""
    configure(path=log_path, strict=True)
    get_audit_logger(**TENANT).auth(source="login", outcome="success")
    (event,) = lines(log_path)
    assert "message" not in event


def test_other_verbs_via_action(log_path: Path) -> None:
    """action() records any lowercase verb."""
    configure(path=log_path, strict=True)
    get_audit_logger(**TENANT).action("export", "exported 120 rows", source="reports")
    assert lines(log_path)[0]["event"]["action"] == "export"


def test_secrets_in_changes_are_redacted(log_path: Path) -> None:
    """A password change is written without the password."""
    configure(path=log_path, strict=True)
    get_audit_logger(**TENANT).update(source="settings", changes={"smtp_password": ("old-pw", "new-pw")})
    assert lines(log_path)[0]["audit"]["changes"] == {"smtp_password": {"old": REDACTED, "new": REDACTED}}


def test_value_shaped_secrets_are_redacted_in_url_message_and_changes(log_path: Path) -> None:
    """A URL password, a bearer token in the message and a JWT in a change value are written redacted."""
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    configure(path=log_path, strict=True)
    get_audit_logger(**TENANT).update(
        "sent header Authorization: Bearer Zm9vYmFyYmF6cXV4", source="settings",
        url="https://admin:hunter2@app.example/s?access_token=abc123&page=2", changes={"note": (None, jwt)})
    text = log_path.read_text()
    assert [s for s in ("hunter2", "Zm9vYmFyYmF6cXV4", "abc123", jwt) if s in text] == []
    assert lines(log_path)[0]["url"]["full"] == f"https://admin:{REDACTED}@app.example/s?access_token={REDACTED}&page=2"


def test_secret_named_extra_field_is_redacted(log_path: Path) -> None:
    """A field the contract does not define is redacted by name at any depth."""
    configure(path=log_path, strict=True)
    get_audit_logger(**TENANT).emit({"event": {"action": "update"}, "audit.source": "settings",
                                     "http": {"request": {"headers": {"Cookie": "sid=abc", "Accept": "x"}}}})
    assert lines(log_path)[0]["http"] == {"request": {"headers": {"Cookie": REDACTED, "Accept": "x"}}}


def test_redaction_can_be_turned_off(log_path: Path) -> None:
    """redact_keys=None writes change values as given."""
    configure(path=log_path, strict=True, redact_keys=None)
    get_audit_logger(**TENANT).update(source="settings", changes={"token_ttl": (60, 120)})
    assert lines(log_path)[0]["audit"]["changes"] == {"token_ttl": {"old": 60, "new": 120}}


def test_emit_keeps_given_time_and_id(log_path: Path) -> None:
    """emit() writes a ready nested event, keeping its timestamp and id and adding categories."""
    configure(path=log_path, strict=True)
    get_audit_logger().emit(
        {
            "@timestamp": "2024-05-01T10:00:00Z",
            "event": {"id": "fixed-id-1", "action": "delete"},
            "audit": {"source": "slots", "tier": "basic"},
            "organization": {"id": "org-2"},
            "message": "removed slot",
        }
    )
    (event,) = lines(log_path)
    assert (event["@timestamp"], event["event"]["id"], event["event"]["type"], event["message"]) == (
        "2024-05-01T10:00:00Z",
        "fixed-id-1",
        ["deletion"],
        "removed slot",
    )


def test_bound_values_apply_to_every_event(log_path: Path) -> None:
    """bind() adds fields to each later call and keeps earlier bindings."""
    configure(path=log_path, strict=True)
    audit = get_audit_logger(**TENANT).bind(source="appointments")
    audit.update("a")
    audit.delete("b")
    assert [e["audit"]["source"] for e in lines(log_path)] == ["appointments", "appointments"]


def test_emit_with_non_object_event_is_refused(log_path: Path) -> None:
    """emit() of an event whose "event" is not an object is refused naming the field."""
    configure(path=log_path, strict=True)
    with pytest.raises(ContractError) as caught:
        get_audit_logger(**TENANT).emit({"event": "update", "audit": {"source": "slots"}})
    assert ([p.field for p in caught.value.problems], log_path.read_bytes()) == (["event"], b"")


def test_unbind_removes_a_binding(log_path: Path) -> None:
    """unbind() and try_unbind() return loggers without the key, structlog-style."""
    configure(path=log_path, strict=True)
    audit = get_audit_logger(**TENANT, worker_id="w-1").unbind("worker_id").try_unbind("missing")
    audit.update("x", source="slots")
    assert "user" not in lines(log_path)[0]


def test_one_write_per_line(log_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each event is exactly one os.write of one complete line."""
    writes: list[bytes] = []
    real_write = os.write

    def counting_write(fd: int, data: Any) -> int:
        writes.append(bytes(data))
        return real_write(fd, data)

    configure(path=log_path, strict=True)
    monkeypatch.setattr(emitter_module.os, "write", counting_write)
    audit = get_audit_logger(**TENANT)
    for i in range(5):
        audit.update(f"event {i}", source="slots")
    assert (len(writes), all(w.endswith(b"\n") and w.count(b"\n") == 1 for w in writes)) == (5, True)


def test_emitter_ignores_app_structlog_configuration(log_path: Path) -> None:
    """capture_logs() (the app's global structlog config) neither sees nor stops audit events."""
    configure(path=log_path, strict=True)
    with capture_logs() as app_logs:
        structlog.get_logger().info("app log line")
        get_audit_logger(**TENANT).update("audited", source="slots")
    assert ([e["event"] for e in app_logs], len(lines(log_path))) == (["app log line"], 1)


# ---------------------------------------------------------------------------------------------- context


def test_audit_context_binds_tenant_tier_worker(log_path: Path) -> None:
    """Values bound with audit_context() appear in events written inside the block."""
    configure(path=log_path, strict=True)
    audit = get_audit_logger()
    with audit_context(tenant="org-1", tier="business", worker_id="w-9", worker_name="Ben"):
        audit.update("x", source="slots")
    (event,) = lines(log_path)
    assert (event["organization"], event["audit"]["tier"], event["user"]) == (
        {"id": "org-1"},
        "business",
        {"id": "w-9", "name": "Ben"},
    )


def test_audit_context_is_restored_after_block(log_path: Path) -> None:
    """After the with block the binding is gone (the next event lacks the tenant)."""
    configure(path=log_path, strict=False, on_problem=lambda event, problems: None)
    audit = get_audit_logger()
    with audit_context(tenant="org-1", tier="business"):
        pass
    audit.update("x", source="slots")
    assert log_path.read_bytes() == b""


def test_context_is_isolated_per_thread(log_path: Path) -> None:
    """Two threads with different tenants never mix them up."""
    configure(path=log_path, strict=True)
    audit = get_audit_logger(tier="enterprise")

    def work(tenant: str) -> None:
        bind_audit_context(tenant=tenant)
        for _ in range(200):
            audit.update("x", source="slots", worker_id=tenant)

    threads = [threading.Thread(target=work, args=(f"org-{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    events = lines(log_path)
    assert (len(events), all(e["organization"]["id"] == e["user"]["id"] for e in events)) == (800, True)


@pytest.mark.parametrize(
    "name",
    ["tenant", "tenant_name", "tier", "source", "login_type", "worker_id", "worker_name", "worker_email",
     "worker_roles", "ip", "url", "user_agent"],
)
def test_every_documented_context_field_binds(name: str) -> None:
    """Each context field the guide lists is accepted and bound under its contract path."""
    value: Any = ["admin"] if name == "worker_roles" else "10.0.0.1" if name == "ip" else "v"
    tokens = bind_audit_context(**{name: value})
    assert len(tokens) == 1 and "." in next(iter(tokens))


def test_bind_audit_context_rejects_unknown_field() -> None:
    """A misspelt context field is an error naming it."""
    with pytest.raises(TypeError, match="tennant"):
        bind_audit_context(tennant="org-1")


# ---------------------------------------------------------------------------------------------- bad events


def test_strict_mode_raises_and_writes_nothing(log_path: Path) -> None:
    """In strict mode a bad call raises ContractError naming the field; the file stays empty."""
    configure(path=log_path, strict=True)
    with pytest.raises(ContractError) as caught:
        get_audit_logger(**TENANT).update("x", source="slots", outcome="maybe")
    assert ([p.field for p in caught.value.problems], log_path.read_bytes()) == (["event.outcome"], b"")


def test_given_bad_timestamp_is_refused_after_generated_ones(log_path: Path) -> None:
    """A timestamp the app passes is checked even though the emitter's own stamps are trusted."""
    configure(path=log_path, strict=True)
    audit = get_audit_logger(**TENANT)
    audit.update("x", source="slots")
    with pytest.raises(ContractError) as caught:
        audit.update("x", source="slots", timestamp="2024-05-01 10:00:00Z")
    assert ([p.field for p in caught.value.problems], len(lines(log_path))) == (["@timestamp"], 1)


@pytest.mark.parametrize(
    ("given", "field"), [({"event_id": "has a space"}, "event.id"), ({"event.category": [7]}, "event.category[0]")]
)
def test_given_values_of_generated_fields_are_checked(log_path: Path, given: dict[str, Any], field: str) -> None:
    """An id or ECS category the app passes is checked (only the ones the emitter generates skip it)."""
    configure(path=log_path, strict=True)
    with pytest.raises(ContractError) as caught:
        get_audit_logger(**TENANT).update("x", source="slots", **given)
    assert ([p.field for p in caught.value.problems], log_path.read_bytes()) == ([field], b"")


def test_lenient_mode_reports_and_writes_nothing(log_path: Path) -> None:
    """In lenient mode the callback gets the problems and no line is written."""
    reports: list[list[Problem]] = []
    emitter = configure(path=log_path, strict=False, on_problem=lambda event, problems: reports.append(problems))
    get_audit_logger(**TENANT).update("x")  # no source
    assert (reports, log_path.read_bytes(), emitter.rejected) == ([[Problem("audit.source", "missing")]], b"", 1)


def test_lenient_mode_default_reports_on_stderr(log_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without a callback the problem is one stderr line naming the field."""
    configure(path=log_path, strict=False)
    get_audit_logger(**TENANT).update("x")
    assert "audit.source: missing" in capsys.readouterr().err


def test_lenient_mode_survives_unserialisable_value(log_path: Path) -> None:
    """An object JSON cannot hold is reported, not raised into the app."""
    reports: list[Any] = []
    configure(path=log_path, strict=False, on_problem=lambda event, problems: reports.append(problems))
    get_audit_logger(**TENANT).update("x", source="slots", changes={"when": (object(), 1)})
    assert (len(reports), log_path.read_bytes()) == (1, b"")


class _Unshowable:
    """An app object whose str and repr raise (an ORM object whose session is gone)."""

    def __str__(self) -> str:
        raise RuntimeError("session closed")

    __repr__ = __str__


def _circular() -> dict[str, Any]:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    return loop


@pytest.mark.parametrize("fields", [{"changes": {"when": _Unshowable()}}, {"changes": {"when": _circular()}},
                                    {"extra": _circular()}, {"changes": _Unshowable()}])
def test_lenient_mode_survives_values_that_cannot_become_text(log_path: Path, capsys: pytest.CaptureFixture[str],
                                                              fields: dict[str, Any]) -> None:
    """A circular value or one whose str raises is reported on stderr in one line; the app call returns."""
    configure(path=log_path, strict=False)
    get_audit_logger(**TENANT).update("x", source="slots", **fields)
    err = capsys.readouterr().err.strip().splitlines()
    assert (log_path.read_bytes(), 1, True) == (b"", len(err), "audit event not written" in err[0])


def test_lenient_report_escapes_names_that_would_drive_a_terminal(log_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """A change name with ESC and a line break is reported in one line, escaped: no forged line, no sequence."""
    configure(path=log_path, strict=False)
    get_audit_logger(**TENANT).update("x", source="slots", changes={"a\x1b]0;owned\x07\nforged": ("only-one",)})
    err = capsys.readouterr().err
    assert (1, "\x1b" in err, "\\x1b" in err) == (len(err.strip().splitlines()), False, True)


def test_strict_mode_names_a_value_that_cannot_become_text(log_path: Path) -> None:
    """In strict mode the same value raises ContractError saying why, not the object's own error."""
    configure(path=log_path, strict=True)
    with pytest.raises(ContractError, match="cannot be written: RecursionError"):
        get_audit_logger(**TENANT).update("x", source="slots", changes={"when": _circular()})


def test_a_huge_integer_in_a_contract_field_is_refused_naming_the_field(log_path: Path) -> None:
    """An integer of 5,001 digits as event.id is refused naming the field (its repr raised, hiding which field)."""
    configure(path=log_path, strict=True)
    with pytest.raises(ContractError, match=r"event\.id: .*an integer of about 5001 digits"):
        get_audit_logger(**TENANT).update("x", source="slots", event_id=10**5000)


def test_default_is_strict_under_pytest(log_path: Path) -> None:
    """With strict=None the emitter is strict while pytest runs."""
    assert configure(path=log_path).strict is True


def test_env_can_force_lenient(log_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """AUDITLOG_STRICT=0 makes the default lenient."""
    monkeypatch.setenv("AUDITLOG_STRICT", "0")
    assert configure(path=log_path).strict is False


# ---------------------------------------------------------------------------------------------- configuration


def test_logger_used_before_configure_raises() -> None:
    """A logger may be created before configure(), but an event written through it then says what to do."""
    audit = get_audit_logger(**TENANT)
    with pytest.raises(EmitterNotConfiguredError, match="configure"):
        audit.update("x", source="slots")


def test_module_level_logger_created_before_configure_writes_after_it(log_path: Path) -> None:
    """A logger made before configure() (module level) binds to the emitter at its first call."""
    audit = get_audit_logger(**TENANT, source="slots")
    configure(path=log_path, strict=True)
    audit.update("moved")
    assert [("update", "slots")] == [(e["event"]["action"], e["audit"]["source"]) for e in lines(log_path)]


def test_logger_follows_reconfiguration(tmp_path: Path) -> None:
    """After a second configure() the same logger writes to the new file (the old writer is closed)."""
    audit = get_audit_logger(**TENANT, source="slots")
    configure(path=tmp_path / "first.jsonl", strict=True)
    audit.update("one")
    configure(path=tmp_path / "second.jsonl", strict=True)
    audit.update("two")
    assert (["one"], ["two"]) == ([e["message"] for e in lines(tmp_path / "first.jsonl")],
                                  [e["message"] for e in lines(tmp_path / "second.jsonl")])


def test_bind_on_a_lazy_logger_stays_lazy(log_path: Path) -> None:
    """bind() before configure() returns a logger that also binds at first use, with both bindings."""
    audit = get_audit_logger(**TENANT).bind(source="appointments", worker_id="w-1")
    configure(path=log_path, strict=True)
    audit.try_unbind("worker_id", "missing").create("made")
    (event,) = lines(log_path)
    assert ("appointments", None) == (event["audit"]["source"], event.get("user"))


def test_logger_works_in_a_forked_child(log_path: Path) -> None:
    """A logger already used in the parent writes from a forked child into the same file."""
    audit = get_audit_logger(**TENANT, source="slots")
    configure(path=log_path, strict=True)
    audit.update("parent")
    pid = os.fork()
    if pid == 0:  # the child: write one event and leave without running pytest's teardown
        code = 1
        try:
            audit.update("child")
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert (0, ["parent", "child"]) == (status, [e["message"] for e in lines(log_path)])


def test_configure_needs_exactly_one_sink(log_path: Path) -> None:
    """Both path and writer (or neither) is a configuration error."""
    with pytest.raises(ValueError, match="exactly one"):
        configure()


def test_configure_missing_folder_raises(tmp_path: Path) -> None:
    """A log folder that does not exist is reported at configure time."""
    with pytest.raises(ValueError, match="folder does not exist"):
        configure(path=tmp_path / "nope" / "audit.jsonl")


def test_configure_bad_redact_mode_raises(log_path: Path) -> None:
    """An unknown redaction mode stops configure()."""
    with pytest.raises(ValueError, match="mode"):
        configure(path=log_path, redact_mode="fuzzy")  # type: ignore[arg-type]


def test_reconfigure_closes_previous_file(log_path: Path, tmp_path: Path) -> None:
    """A second configure() switches files; events go to the new one."""
    configure(path=log_path, strict=True)
    configure(path=tmp_path / "second.jsonl", strict=True)
    get_audit_logger(**TENANT).update("x", source="slots")
    assert (log_path.read_bytes(), len(lines(tmp_path / "second.jsonl"))) == (b"", 1)


# ---------------------------------------------------------------------------------------------- the writer


def test_writer_follows_rename_rotation(log_path: Path) -> None:
    """After logrotate renames the file, the next line goes to a new file at the path."""
    writer = AppendWriter(log_path, reopen_interval=0)
    writer.write(b"one\n")
    log_path.rename(log_path.with_suffix(".1"))
    writer.write(b"two\n")
    writer.close()
    assert (log_path.with_suffix(".1").read_bytes(), log_path.read_bytes()) == (b"one\n", b"two\n")


def test_writer_appends_after_copytruncate(log_path: Path) -> None:
    """After copytruncate empties the file, the next line starts at offset 0 (O_APPEND), intact."""
    writer = AppendWriter(log_path, reopen_interval=3600)
    writer.write(b"one\n")
    os.truncate(log_path, 0)
    writer.write(b"two\n")
    writer.close()
    assert log_path.read_bytes() == b"two\n"


def test_writer_closed_raises(log_path: Path) -> None:
    """Writing after close is an OSError, never a silent loss."""
    writer = AppendWriter(log_path, reopen_interval=0)
    writer.close()
    with pytest.raises(OSError):
        writer.write(b"late\n")


def test_writer_rejects_folder_path(tmp_path: Path) -> None:
    """A folder is not a log file."""
    with pytest.raises(ValueError, match="folder"):
        AppendWriter(tmp_path)


def _append_from_process(path: str, worker: int, count: int) -> None:
    configure(path=path, strict=True)
    audit = get_audit_logger(tenant=f"org-{worker}", tier="basic")
    filler = "x" * (worker * 700)  # lines from ~100 bytes to several KiB, beyond PIPE_BUF for some
    for i in range(count):
        audit.update(f"{worker}:{i}", source="slots", changes={"note": ("", filler)})
    shutdown()


def test_processes_appending_concurrently_never_interleave(log_path: Path) -> None:
    """Four processes appending to one file leave every line intact and none lost."""
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=_append_from_process, args=(str(log_path), w, 1500)) for w in range(4)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(60)
    events = lines(log_path)  # every line must decode
    messages = {e["message"] for e in events}
    assert (len(events), len(messages), all(validate(e) == [] for e in events)) == (6000, 6000, True)
    assert len({e["event"]["id"] for e in events}) == 6000


def test_configure_refuses_a_fifo_instead_of_hanging(tmp_path: Path) -> None:
    """A FIFO at the log path (no one reading) is refused at once with an OSError naming it, not waited on."""
    fifo = tmp_path / "audit.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="FIFO"):
        configure(path=fifo, strict=True)


def test_writer_refuses_a_fifo_someone_reads(tmp_path: Path) -> None:
    """A FIFO with a reader is refused too: its writes would block the app whenever the reader lags."""
    fifo = tmp_path / "audit.jsonl"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        with pytest.raises(OSError, match="FIFO"):
            AppendWriter(fifo)
    finally:
        os.close(reader)


def test_writer_refuses_a_fifo_swapped_in_at_rotation(log_path: Path) -> None:
    """A FIFO put at the path after a rotation makes the next write raise OSError instead of hanging."""
    writer = AppendWriter(log_path, reopen_interval=0)
    log_path.rename(log_path.with_suffix(".1"))
    os.mkfifo(log_path)
    with pytest.raises(OSError, match="FIFO"):
        writer.write(b"line\n")
    writer.close()


@dataclasses.dataclass
class _Login:
    user: str
    password: str


class _Setting(enum.Enum):
    DB = {"password": "S3CRET-enum"}  # noqa: RUF012 - an enum member, not a class attribute


class _Markup(str):
    """A str subclass, like markupsafe's Markup or Django's SafeString."""


@pytest.mark.parametrize(
    ("message", "fields"),
    [
        ("m", {"login": _Login("anna", "S3CRET-dataclass")}),
        ("m", {"changes": {"login": (None, _Login("anna", "S3CRET-dataclass"))}}),
        ("m", {"meta": ({"password": "S3CRET-tuple"},)}),
        ("m", {"changes": {"cfg": (None, ({"password": "S3CRET-tuple"},))}}),
        ("m", {"setting": _Setting.DB}),
        ("m", {"changes": {"cfg": (None, collections.OrderedDict(password="S3CRET-ordered"))}}),
        ("m", {"changes": collections.OrderedDict(password={"old": None, "new": "S3CRET-ordered"})}),
        ("m", {"changes": {"hdrs": (None, {"Authorization: Bearer S3CRET-set-1x2y3z"})}}),
        ("m", {"changes": {"note": (None, _Markup("password=S3CRET-strsub"))}}),
        ("m", {"note": _Markup("password=S3CRET-strsub")}),
        (_Markup("signed in with password=S3CRET-message"), {}),
    ],
    ids=["dataclass", "dataclass-change", "tuple", "tuple-change", "enum", "ordereddict-change",
         "ordereddict-changes", "set-change", "str-subclass-change", "str-subclass-field", "str-subclass-message"],
)
def test_secrets_inside_any_value_shape_are_redacted_in_the_line(log_path: Path, message: str,
                                                                  fields: dict[str, Any]) -> None:
    """A secret inside a dataclass, tuple, enum, set, dict or str subclass never reaches the file."""
    configure(path=log_path, strict=True)
    get_audit_logger(**TENANT).update(message, source="slots", **fields)
    line = log_path.read_bytes()
    assert (line.count(b"\n"), b"S3CRET" in line, REDACTED.encode() in line) == (1, False, True)


def test_emit_of_a_non_mapping_follows_the_lenient_policy(log_path: Path) -> None:
    """emit(None) in lenient mode is reported and dropped like any bad call, not a TypeError into the app."""
    reports: list[Any] = []
    configure(path=log_path, strict=False, on_problem=lambda event, problems: reports.append(problems))
    get_audit_logger(**TENANT).emit(None)  # type: ignore[arg-type]
    assert (len(reports), log_path.read_bytes()) == (1, b"")


@dataclasses.dataclass
class _Reading:
    value: float


@pytest.mark.parametrize(
    "fields",
    [{"changes": {"f": (None, collections.OrderedDict(x=float("nan")))}}, {"meta": _Reading(float("inf"))}],
    ids=["ordereddict", "dataclass"],
)
def test_nan_inside_a_dict_subclass_or_dataclass_is_refused(log_path: Path, fields: dict[str, Any]) -> None:
    """NaN or infinity inside an OrderedDict or a dataclass is refused, not written silently as null."""
    configure(path=log_path, strict=True)
    with pytest.raises(ContractError, match="NaN or infinity"):
        get_audit_logger(**TENANT).update("m", source="slots", **fields)
