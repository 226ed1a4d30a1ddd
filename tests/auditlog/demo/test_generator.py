"""Tests for the demo generator, its CLI (auditlog.commands.demo) and background parts (auditlog.demo.stack)."""

from __future__ import annotations

import copy
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from auditlog.agent.contract import parse_timestamp, validate
from auditlog.cli import main
from auditlog.core.processes import Outcome
from auditlog.demo.data import emitter_call, fabricate
from auditlog.demo.generator import DemoGenerator, DemoPlan, emitter_writer
from auditlog.demo.stack import DemoState, child_env, spawn, stop_part
from auditlog.indexer.client import ConnectionSettings

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


class FakeClock:
    """A monotonic clock that only moves when the generator waits."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def wait(self, seconds: float) -> bool:
        self.now += max(seconds, 0.001)
        return False


def _collect(plan: DemoPlan) -> tuple[list[dict[str, Any]], FakeClock]:
    events: list[dict[str, Any]] = []
    clock = FakeClock()
    DemoGenerator(plan, events.append, clock=clock, wall_clock=lambda: NOW, wait=clock.wait).run()
    return events, clock


def test_backfill_writes_count_events_in_window() -> None:
    """The back-fill writes exactly --count events within the last --backfill-days days."""
    events, _ = _collect(DemoPlan(backfill_days=2, backfill_count=300))
    moments = [parse_timestamp(e["@timestamp"]) for e in events]
    assert len(events) == 300
    assert min(moments) >= NOW - timedelta(days=2)
    assert max(moments) < NOW


def test_live_phase_paces_rate_times_duration() -> None:
    """Ten events per second for three seconds is thirty events, spread over the three seconds."""
    events, clock = _collect(DemoPlan(rate=10, duration=3))
    assert len(events) == 30
    assert 2.5 <= clock.now <= 3.5


def test_live_events_leave_id_and_time_to_the_emitter() -> None:
    """Live events carry neither @timestamp nor event.id (the emitter stamps them)."""
    events, _ = _collect(DemoPlan(rate=5, duration=1))
    assert all("@timestamp" not in e and "id" not in e["event"] for e in events)


def test_stop_ends_an_endless_live_phase() -> None:
    """stop() from the writer ends a --duration 0 run promptly."""
    written: list[dict[str, Any]] = []
    clock = FakeClock()
    generator = DemoGenerator(DemoPlan(rate=100), written.append, clock=clock, wall_clock=lambda: NOW,
                              wait=clock.wait)

    def write(event: dict[str, Any]) -> None:
        written.append(event)
        if len(written) == 250:
            generator.stop()

    generator.writer = write
    stats = generator.run()
    assert stats.live == 250


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [({"backfill_count": 5}, "backfill"), ({"rate": -1}, "rate"), ({"duration": -2, "rate": 1}, "duration")],
)
def test_plan_rejects_bad_values(kwargs: dict[str, Any], fragment: str) -> None:
    """A count without days, a negative rate or duration raise ValueError naming the value."""
    with pytest.raises(ValueError, match=fragment):
        DemoPlan(**kwargs)


def test_emitter_writes_the_fabricated_event_plus_enrichment(tmp_path: Path) -> None:
    """Each line the emitter writes is the fabricated event plus changed_fields, ECS categories and its number."""
    originals = list(fabricate(400, seed=5, start=NOW - timedelta(days=1), end=NOW))
    write, close = emitter_writer(tmp_path / "audit.jsonl")
    for event in originals:
        write(copy.deepcopy(event))
    close()
    lines = [orjson.loads(line) for line in (tmp_path / "audit.jsonl").read_bytes().splitlines()]
    assert len(originals) == len(lines)
    stream = lines[0]["audit"]["stream"]
    for n, (original, line) in enumerate(zip(originals, lines, strict=True), start=1):
        assert validate(line) == []
        assert (line["audit"].pop("seq"), line["audit"].pop("stream")) == (n, stream)
        assert {"kind", "category", "type"} <= set(line["event"])
        for key in ("kind", "category", "type"):
            del line["event"][key]
        changes = original["audit"].get("changes")
        if changes:
            assert sorted(changes) == line["audit"].pop("changed_fields")
            for name, change in changes.items():
                if name == "secret":  # the emitter redacts secrets before they reach the file
                    written = line["audit"]["changes"][name]
                    assert {k: "[REDACTED]" for k, v in change.items() if v is not None} == {
                        k: v for k, v in written.items() if v is not None}
                    line["audit"]["changes"][name] = change
        assert original == line


def test_emitter_call_uses_the_app_facing_keywords() -> None:
    """emitter_call maps an event to the verb, message and friendly keywords an app would pass."""
    event = next(fabricate(1, seed=1, start=NOW - timedelta(hours=1), end=NOW))
    verb, message, kwargs = emitter_call(event)
    assert event["event"]["action"] == verb
    assert event["message"] == message
    assert event["organization"]["id"] == kwargs["tenant"]
    assert event["user"]["email"] == kwargs["worker_email"]
    assert event["@timestamp"] == kwargs["timestamp"]


def test_cli_emit_writes_backfill_and_live(tmp_path: Path) -> None:
    """`auditlog demo emit` writes the back-fill then the live events, all valid."""
    out = tmp_path / "logs" / "audit.jsonl"
    status = main(["demo", "emit", "--path", str(out), "--backfill-days", "1", "--count", "50",
                   "--rate", "20", "--duration", "0.5"])
    lines = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert status == 0
    assert len(lines) == 60
    assert [p for line in lines for p in validate(line)] == []


@pytest.mark.parametrize(
    "argv",
    [
        ["demo", "emit", "--path", "x.jsonl"],
        ["demo", "emit", "--path", "x.jsonl", "--count", "5"],
        ["demo", "emit", "--path", "x.jsonl", "--backfill-days", "2"],
        ["demo", "emit", "--path", "x.jsonl", "--rate", "-3"],
        ["demo", "emit", "--path", "x.jsonl", "--rate", "fast"],
    ],
)
def test_cli_emit_bad_arguments_exit_2(argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing to write, a count without days, days without a count, a negative or unreadable rate exit 2."""
    monkeypatch.chdir(tmp_path)
    assert _exit_status(argv) == 2
    assert not (tmp_path / "x.jsonl").exists()


def _exit_status(argv: list[str]) -> int:
    # Our handlers return 2 for usage errors; argparse itself raises SystemExit(2) on unreadable values.
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


@pytest.mark.parametrize(("text", "per_second"), [("5", 5.0), ("5/s", 5.0), ("120/m", 2.0)])
def test_rate_accepts_per_second_and_per_minute(text: str, per_second: float) -> None:
    """--rate takes N, N/s or N/m and means events per second."""
    from auditlog.cli import build_parser

    args = build_parser().parse_args(["demo", "emit", "--path", "x", "--rate", text])
    assert per_second == args.rate


def test_cli_stop_without_state_is_a_no_op(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`auditlog demo stop` with no demo state says so and exits 0."""
    assert main(["demo", "stop", "--state-dir", str(tmp_path)]) == 0
    assert "nothing to stop" in capsys.readouterr().out


def test_state_round_trips(tmp_path: Path) -> None:
    """demo.json stores the URL, the node port and the pids."""
    state = DemoState(es_url="http://127.0.0.1:9299", node_port=9299, processes={"agent": 12, "generator": 13})
    state.save(tmp_path)
    assert state == DemoState.load(tmp_path)


def test_child_env_passes_credentials_by_environment() -> None:
    """Connection settings go to children as AUDITLOG_ES_* variables, stale ones removed."""
    env = child_env(ConnectionSettings(url="https://es:9200", api_key="k"), base={"AUDITLOG_ES_PASSWORD": "old"})
    assert env == {"AUDITLOG_ES_URL": "https://es:9200", "AUDITLOG_ES_API_KEY": "k"}


def test_stop_part_stops_the_whole_process_group(tmp_path: Path) -> None:
    """A spawned part and its own child are both gone after stop_part (no orphan)."""
    script = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    pid = spawn("auditlog-fake", [sys.executable, "-c", script, "auditlog.cli"], tmp_path, os.environ)
    deadline = time.monotonic() + 10
    log = tmp_path / "auditlog-fake.log"
    while time.monotonic() < deadline and not log.read_text().strip():
        time.sleep(0.05)
    grandchild = int(log.read_text().split()[0])
    state = DemoState(es_url="http://127.0.0.1:9")
    state.record("auditlog-fake", pid)
    assert stop_part(state, "auditlog-fake", grace=5).outcome is Outcome.STOPPED
    time.sleep(0.2)
    assert not Path(f"/proc/{grandchild}").exists() or "Z" in Path(f"/proc/{grandchild}/stat").read_text().split()[2]
    assert stop_part(state, "auditlog-fake").outcome is not Outcome.STOPPED


def test_cli_emit_writes_the_history_once_per_file(tmp_path: Path) -> None:
    """A second run on the same file skips the back-fill; --again writes it anyway."""
    out = tmp_path / "audit.jsonl"
    argv = ["demo", "emit", "--path", str(out), "--backfill-days", "1", "--count", "40"]
    main(argv)
    main([*argv, "--rate", "50", "--duration", "0.1"])
    after_restart = len(out.read_bytes().splitlines())
    main([*argv, "--again"])
    assert (after_restart, len(out.read_bytes().splitlines())) == (45, 85)


def test_cli_run_unreachable_cluster_records_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`demo run --es` on a closed port exits 1 with one line naming the URL and records nothing."""
    status = main(["demo", "run", "--no-tui", "--es", "http://127.0.0.1:1", "--state-dir", str(tmp_path)])
    assert (status, DemoState.load(tmp_path)) == (1, None)
    assert "cannot reach Elasticsearch at http://127.0.0.1:1" in capsys.readouterr().err


@pytest.mark.parametrize("flags", [["--rate", "nan"], ["--rate", "inf"], ["--rate", "5", "--duration", "nan"],
                                   ["--rate", "5", "--duration", "inf"], ["--count", "5", "--backfill-days", "nan"],
                                   ["--count", "5", "--backfill-days", "inf"],
                                   ["--count", "5", "--backfill-days", "100000000"],
                                   ["--count", "5", "--backfill-days", "1e21"]])
def test_demo_emit_refuses_numbers_that_are_not_finite_or_too_large(
        tmp_path: Path, flags: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """nan, inf or a history beyond a century exits 2 naming the flag, and writes nothing."""
    with pytest.raises(SystemExit) as caught:
        main(["demo", "emit", "--path", str(tmp_path / "e.jsonl"), *flags])
    err = capsys.readouterr().err.strip().splitlines()
    assert (2, True, False) == (caught.value.code, f"argument {flags[-2]}:" in err[-1], (tmp_path / "e.jsonl").exists())


@pytest.mark.parametrize("flags", [["--metrics-port", "-5"], ["--port", "70000"], ["--wait", "inf"],
                                   ["--rate", "nan"]])
def test_demo_run_refuses_bad_values_before_starting_anything(
        tmp_path: Path, flags: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """demo run with an invalid port, wait or rate exits 2 naming the flag before any part starts."""
    from auditlog.cli import build_parser

    with pytest.raises(SystemExit) as caught:  # parsing only: a regression must not start a node or an agent
        build_parser().parse_args(["demo", "run", "--state-dir", str(tmp_path / "d"), "--no-tui", *flags])
    err = capsys.readouterr().err.strip().splitlines()
    assert (2, True, False) == (caught.value.code, f"argument {flags[0]}:" in err[-1], (tmp_path / "d").exists())


@pytest.mark.parametrize("field", ["backfill_days", "rate", "duration"])
def test_a_plan_with_a_number_that_is_not_finite_is_refused(field: str) -> None:
    """DemoPlan refuses nan for the window, rate or duration (nan passed the '< 0' checks)."""
    values: dict[str, Any] = {"backfill_days": 1.0, "backfill_count": 1, "rate": 1.0, "duration": 1.0}
    values[field] = float("nan")
    with pytest.raises(ValueError, match="finite"):
        DemoPlan(**values)


def test_stop_at_any_bytecode_of_the_live_wait_ends_the_run() -> None:
    """stop() run before every bytecode of the generator's wait (its SIGTERM handler) ends an endless run."""
    import threading

    from auditlog.core import wakeup
    from tests.support.reentry import survives_handler_everywhere

    written: list[dict[str, Any]] = []
    generator = DemoGenerator(DemoPlan(rate=10), written.append)
    stop_once_writing = lambda: generator.stop() if written else None  # noqa: E731  (so the wait is reached)
    assert (survives_handler_everywhere(generator.run, stop_once_writing, [threading, wakeup], timeout=30),
            len(written)) == (True, 1)


def test_cli_emit_to_a_device_that_takes_nothing_is_one_line_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    """`demo emit --path /dev/full`: exit 1 with one line naming the path (before: the bare OS error)."""
    status = main(["demo", "emit", "--path", "/dev/full", "--backfill-days", "1", "--count", "5"])
    err = capsys.readouterr().err.strip().splitlines()
    assert (status, err) == (1, ["auditlog demo: cannot write /dev/full: No space left on device"])
