"""Pipeline: the reader keeps reading while the sink is full, and a watcher's wake is never dropped."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from auditlog.agent.config import load
from auditlog.agent.contract import format_timestamp
from auditlog.agent.deadletter import read_records
from auditlog.agent.fastpath import PassThrough
from auditlog.agent.harvester import Block, Overlong
from auditlog.agent.pipeline import Pipeline, reader_wait
from auditlog.agent.shipper import ShipperFields
from auditlog.agent.watcher import WatchdogWatcher
from tests.agent.events import line
from tests.agent.test_fastpath import _NOW, emitter_lines
from tests.support.waiting import wait_until


class Resp:
    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body


class GatedES:
    """A bulk endpoint that answers only while ``open`` is set, recording the ids it received."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.ids: list[str] = []

    def options(self, **kw: Any) -> GatedES:
        return self

    def bulk(self, operations: bytes, filter_path: str) -> Resp:
        self.open.wait()
        ids = [orjson.loads(a)["create"]["_id"] for a in operations.split(b"\n")[0::2] if a]
        self.ids += ids
        # as Elasticsearch answers with the sink's filter_path: errors, and one item per document
        return Resp({"errors": False, "items": [{"create": {"status": 201}} for _ in ids]})


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[Pipeline, GatedES, Path]]:
    """A pipeline over tmp/audit.log with 1 worker, 1 queued batch, batches of 10, polling every 20 ms."""
    log = tmp_path / "audit.log"
    log.touch()
    config = tmp_path / "agent.toml"
    config.write_text(f'[inputs]\npaths = ["{log}"]\npoll_interval = 0.02\nwatcher = "polling"\n'
                      f'[state]\ndir = "{tmp_path / "state"}"\n'
                      "[batch]\nmax_events = 10\nmax_in_flight = 1\nworkers = 1\nmax_latency = 30\n"
                      "[metrics]\nenabled = false\n")
    es = GatedES()
    pipeline = Pipeline(load(config), es)  # type: ignore[arg-type]
    thread = threading.Thread(target=pipeline.run, daemon=True)
    thread.start()
    yield pipeline, es, log
    es.open.set()
    pipeline.request_stop()
    thread.join(10)


def write(log: Path, first: int, count: int) -> None:
    now = format_timestamp(datetime.now(UTC)).encode()  # inside the agent's time bounds
    with log.open("ab") as fh:
        fh.write(b"".join(line(i).replace(b"2026-01-02T03:04:05.000Z", now) + b"\n"
                          for i in range(first, first + count)))


def test_reader_keeps_reading_while_the_sink_is_full(running: tuple[Pipeline, GatedES, Path]) -> None:
    """With the worker busy and the queue full, later lines are still read into the open batch (up to its size)."""
    pipeline, _es, log = running
    write(log, 0, 5)  # batch 1: taken by the worker, which waits on the node
    assert wait_until(lambda: pipeline.metrics.lines_read == 5 and pipeline.queue.empty())
    write(log, 5, 5)  # batch 2: fills the one queue slot
    assert wait_until(lambda: pipeline.metrics.lines_read == 10 and pipeline.queue.full())
    write(log, 10, 5)  # read, kept in the open batch (no slot to send it to)
    assert wait_until(lambda: pipeline.metrics.lines_read == 15)
    write(log, 15, 4)  # still read: the open batch holds 9 of its 10
    assert wait_until(lambda: pipeline.metrics.lines_read == 19)


def test_lines_held_while_full_are_delivered_once_the_node_answers(
    running: tuple[Pipeline, GatedES, Path],
) -> None:
    """Everything read while the sink was full reaches the node, each line once."""
    pipeline, es, log = running
    write(log, 0, 5)
    assert wait_until(lambda: pipeline.metrics.lines_read == 5 and pipeline.queue.empty())
    write(log, 5, 12)
    assert wait_until(lambda: pipeline.metrics.lines_read == 17)
    es.open.set()
    assert wait_until(lambda: len(es.ids) == 17)
    assert sorted(es.ids) == sorted(f"ev-{i:08d}" for i in range(17))


def _inbox_pipeline(tmp_path: Path, poll: float) -> tuple[Pipeline, GatedES, Path]:
    """A watchdog pipeline over tmp/in/*.jsonl (periodic rescan every 120 s), its node answering at once."""
    inbox = tmp_path / "in"
    inbox.mkdir()
    config = tmp_path / "agent.toml"
    config.write_text(f'[inputs]\npaths = ["{inbox}/*.jsonl"]\npoll_interval = {poll}\nwatcher = "watchdog"\n'
                      "rescan_interval = 120\n"
                      f'[state]\ndir = "{tmp_path / "state"}"\n'
                      "[batch]\nmax_events = 10\nmax_latency = 0.05\n[metrics]\nenabled = false\n")
    es = GatedES()
    es.open.set()
    return Pipeline(load(config), es), es, inbox  # type: ignore[arg-type]


@contextlib.contextmanager
def _running(pipeline: Pipeline) -> Iterator[None]:
    """Run ``pipeline`` in a thread for the block, then stop it."""
    thread = threading.Thread(target=pipeline.run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        pipeline.request_stop()
        thread.join(10)


def test_a_file_renamed_in_right_after_a_scan_is_read_without_waiting_for_the_rescan(tmp_path: Path) -> None:
    """A watchdog wake inside the gap between two scans is kept until a scan ran, not dropped for the rescan."""
    staged = tmp_path / "audit.jsonl"
    write(staged, 0, 7)
    pipeline, es, inbox = _inbox_pipeline(tmp_path, poll=0.02)
    with _running(pipeline):
        assert wait_until(lambda: pipeline.watcher is not None)
        staged.rename(inbox / staged.name)  # within the first scan gap: the loop has just set its last scan
        assert wait_until(lambda: len(es.ids) == 7, timeout=30.0), "the file waited for the periodic rescan"


def test_a_file_created_while_the_agent_recovers_is_read_within_the_scan_gap(tmp_path: Path) -> None:
    """A file that appears during start-up's recovering scan is read soon, not at the next poll or periodic rescan."""
    pipeline, es, inbox = _inbox_pipeline(tmp_path, poll=60)
    recover = pipeline.tailer.recover

    def recover_then_write() -> None:
        recover()
        write(inbox / "audit.jsonl", 0, 7)  # after the recovering scan looked, before the reader's first wait

    pipeline.tailer.recover = recover_then_write  # type: ignore[method-assign]
    with _running(pipeline):
        assert wait_until(lambda: len(es.ids) == 7, timeout=30.0), "the file waited for a poll tick or the rescan"


def test_a_watched_folder_removed_and_made_again_is_watched_again(tmp_path: Path) -> None:
    """After the watched folder is removed and made again, files created in it are read at once, not at the
    periodic rescan (the watch had ended with the folder it began on)."""
    pipeline, es, inbox = _inbox_pipeline(tmp_path, poll=0.02)
    with _running(pipeline):
        write(inbox / "a.jsonl", 0, 2)
        assert wait_until(lambda: len(_events(es)) == 2, timeout=30.0)
        (inbox / "a.jsonl").unlink()
        inbox.rmdir()
        inbox.mkdir()
        for n in range(1, 4):
            time.sleep(1.5)  # the scans the removal woke are over
            write(inbox / f"{n}.jsonl", 10 * n, 2)
            assert wait_until(lambda want=2 + 2 * n: len(_events(es)) == want,  # type: ignore[misc]
                              timeout=15.0), f"file {n} waited for the rescan"


def test_a_matched_path_that_is_not_read_is_counted_once_in_the_metrics(tmp_path: Path) -> None:
    """A glob match the agent refuses (a FIFO here) shows in ``files_refused_total`` once, as its warning does,
    however many scans see it: an operator alerting on metrics learns that a matched file ships nothing."""
    from auditlog.agent.metrics import Counter

    (tmp_path / "app").mkdir()
    os.mkfifo(tmp_path / "app" / "audit.jsonl")
    config = tmp_path / "agent.toml"
    config.write_text(f'[inputs]\npaths = ["{tmp_path}/app/*.jsonl"]\npoll_interval = 0.02\nrescan_interval = 0.05\n'
                      f'watcher = "polling"\n[state]\ndir = "{tmp_path / "state"}"\n[metrics]\nenabled = false\n')
    pipeline = Pipeline(load(config), GatedES())  # type: ignore[arg-type]
    with _running(pipeline):
        time.sleep(0.5)  # ten scans
    counted = pipeline.metrics.value(Counter.FILES_REFUSED)
    assert (1, True) == (counted, "auditlog_agent_files_refused_total 1" in pipeline.metrics.render())


def test_a_start_that_fails_to_recover_leaves_no_watcher_running(tmp_path: Path) -> None:
    """When the recovering scan raises, run() raises it and the watcher it started is stopped again."""
    config = tmp_path / "agent.toml"
    config.write_text(f'[inputs]\npaths = ["{tmp_path}/*.jsonl"]\nwatcher = "watchdog"\n'
                      f'[state]\ndir = "{tmp_path / "state"}"\n[metrics]\nenabled = false\n')
    pipeline = Pipeline(load(config), GatedES())  # type: ignore[arg-type]

    def broken() -> None:
        raise OSError("registry unreadable")

    pipeline.tailer.recover = broken  # type: ignore[method-assign]
    with pytest.raises(OSError, match="registry unreadable"):
        pipeline.run()
    assert isinstance(pipeline.watcher, WatchdogWatcher) and pipeline.watcher._observer is None


def test_caught_up_reader_sleeps_one_poll_interval_without_a_pending_scan() -> None:
    """With no change held back, the reader sleeps a poll interval (or until the periodic rescan)."""
    assert (reader_wait(10.0, poll=0.25, next_scan=15.0, scan_due=None),
            reader_wait(10.0, poll=0.25, next_scan=10.1, scan_due=None)) == (0.25, pytest.approx(0.1))


def test_caught_up_reader_wakes_when_a_held_back_scan_may_run() -> None:
    """A change signalled within the scan gap ends the sleep when the gap has passed, not at the next poll tick."""
    assert (reader_wait(10.0, poll=0.25, next_scan=15.0, scan_due=10.05),
            reader_wait(10.0, poll=0.25, next_scan=15.0, scan_due=9.0)) == (pytest.approx(0.05), 0.0)


# -- the pass-through's runs of lines: the same batches and dead letters as line by line --

def _mixed_block(key: str, path: str) -> Block:
    """Emitter lines with lines the C check leaves to the per-line path among them: blank, broken, overlong,
    hostile numbers and texts, a time outside the bounds, an unknown tier, an IPv6 address with an IPv4 tail,
    user info in a URL."""
    base = emitter_lines(120)
    edited = [base[0].replace(b'"seq":', b'"seq":99999999999999999999999,"x":'),
              base[1].replace(b'"@timestamp":', b'"@timestamp":"x","@timestamp":', 1), base[2][:-1] + b',"extra":1}',
              _edited(base[3], "@timestamp", "2099-01-01T00:00:00.000Z"), _edited(base[4], "tier", "platinum"),
              base[5].replace(b'"message":"', b'"message":"Bearer abc '),
              base[6].replace(b'"message":"', b'"message":"ftp://a@b.c '),
              orjson.dumps({**orjson.loads(base[7]), "source": {"ip": "::ffff:10.0.0.1"}})]
    assert all(one != base[n] for n, one in enumerate(edited))  # each edit took
    odd = [b"", b"not json", b"{}", *edited]
    lines: list[bytes | Overlong] = []
    for i, one in enumerate(base):
        lines.append(one)
        if i % 9 == 4:
            lines.append(odd[(i // 9) % len(odd)])
        if i == 60:
            lines.append(Overlong(5_000_000, one[:100]))
    items: list[tuple[int, bytes | Overlong]] = []
    off = 0
    for item in lines:
        items.append((off, item))
        off += (item.length if isinstance(item, Overlong) else len(item)) + 1
    return Block(key, path, items, off - 3)  # the last line unterminated: completes at the block's end


def _edited(line_: bytes, key: str, value: str) -> bytes:
    """``line_`` with another ``@timestamp`` or ``audit.<key>``."""
    ev = orjson.loads(line_)
    (ev if key.startswith("@") else ev["audit"])[key] = value
    return orjson.dumps(ev)


def _process_block(tmp_path: Path, batch: str, block: Block,
                   blocks: int = 1) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The batches (entries, origins, stamps, ends, bytes, lines) and dead letters a fresh pipeline makes of
    ``block`` (the last of ``blocks`` passes over it), its clocks frozen at the emitter lines' time."""
    tmp_path.mkdir()
    config = tmp_path / "agent.toml"
    config.write_text(f'[inputs]\npaths = ["{tmp_path}/*.jsonl"]\n[state]\ndir = "{tmp_path / "state"}"\n'
                      f"[batch]\n{batch}\n[metrics]\nenabled = false\n")
    pipeline = Pipeline(load(config), GatedES())  # type: ignore[arg-type]
    enricher = pipeline.entries.enricher
    assert enricher.bounds is not None
    enricher.shipper = ShipperFields(host_name="h", agent_version="0", ephemeral_id="e", clock=lambda: int(_NOW * 1e9))
    enricher.bounds.clock = lambda: _NOW
    batches: list[Any] = []
    dead: list[tuple[Any, ...]] = []
    pipeline._submit = lambda b: batches.append(b) if b is not None else None  # type: ignore[method-assign,assignment]
    pipeline._dead = lambda dl: dead.append((dl.reason, dl.line, dl.offset, dl.key))  # type: ignore[method-assign]
    try:
        for _ in range(blocks):
            batches.clear()
            dead.clear()
            pipeline._process(block)
            batches.append(pipeline.batcher.flush())
    finally:  # what the reader's shutdown closes (no thread was started)
        pipeline.tailer.close()
        pipeline.dlq.close()
        if pipeline.ids is not None:
            pipeline.ids.close()
        pipeline.registry.close()
    return [(b.entries, b.origins, b.stamps, b.ends, b.nbytes, b.lines) for b in batches if b is not None], dead


@pytest.mark.parametrize("batch", ["max_events = 7", "max_bytes = 4096", "max_events = 2000"])
def test_runs_of_lines_make_the_batches_and_dead_letters_line_by_line_makes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batch: str) -> None:
    """A block of emitter lines with odd ones among them gives the same batches, split alike, with and without runs."""
    block = _mixed_block("key-1", str(tmp_path / "a.jsonl"))
    taken: list[int] = []
    real_run = PassThrough.run

    def counted(self: PassThrough, lines: list[Any], start: int, *rest: Any) -> tuple[int, Any]:
        at, full = real_run(self, lines, start, *rest)
        taken.append(at - start)
        return at, full

    monkeypatch.setattr(PassThrough, "run", counted)
    with_runs = _process_block(tmp_path / "runs", batch, block)
    assert sum(taken) >= 60  # most lines went in runs
    monkeypatch.setattr(PassThrough, "run", lambda self, lines, start, *rest: (start, None))
    line_by_line = _process_block(tmp_path / "lines", batch, block)
    assert with_runs == line_by_line
    batches, dead = with_runs
    stamps = [stamp for b in batches for stamp in b[2]]
    # every path was taken: runs and the per-line pass-through (stamps), the full path (None), dead letters
    assert len(stamps) >= 120 and None in stamps and len(dead) >= 5


def test_a_run_that_fails_turns_runs_off_and_the_lines_go_line_by_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unexpected error in a run is logged once; that block and the next go line by line, with the same batches."""
    block = _mixed_block("key-1", str(tmp_path / "a.jsonl"))
    calls: list[int] = []

    def broken(self: PassThrough, lines: list[Any], start: int, *rest: Any) -> tuple[int, Any]:
        calls.append(start)
        raise RuntimeError("run")

    monkeypatch.setattr(PassThrough, "run", lambda self, lines, start, *rest: (start, None))
    line_by_line = _process_block(tmp_path / "lines", "max_events = 7", block)
    monkeypatch.setattr(PassThrough, "run", broken)
    assert _process_block(tmp_path / "broken", "max_events = 7", block, blocks=2) == line_by_line
    assert calls == [0]


def _inbox_lines(inbox: Path, name: str, lines: list[bytes]) -> None:
    with (inbox / name).open("ab") as fh:
        fh.write(b"".join(ln + b"\n" for ln in lines))


def _events(es: GatedES) -> list[str]:
    """The event ids the node received, sorted (digests, sent through the same client, left out)."""
    return sorted(i for i in es.ids if i.startswith("ev-"))


def _failing(real: Callable[[Any], None], times: int, error: Exception,
             when: Callable[[Any], bool] = lambda arg: True) -> tuple[Callable[[Any], None], list[int]]:
    """``real`` that raises ``error`` on its first ``times`` calls for which ``when`` holds, and the count left."""
    left = [times]

    def call(arg: Any) -> None:
        if left[0] and when(arg):
            left[0] -= 1
            raise error
        real(arg)

    return call, left


def _now_line(i: int) -> bytes:
    return line(i).replace(b"2026-01-02T03:04:05.000Z", format_timestamp(datetime.now(UTC)).encode())


def test_a_dead_letter_that_cannot_be_written_holds_the_reader_and_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While the dead-letter file cannot be written (a full disk) reading waits; then every line arrives once."""
    pipeline, es, inbox = _inbox_pipeline(tmp_path, 0.02)
    full_disk, _left = _failing(pipeline.dlq.append, 2, OSError(28, "No space left on device"))
    monkeypatch.setattr(pipeline.dlq, "append", full_disk)
    _inbox_lines(inbox, "a.jsonl", [*map(_now_line, range(5)), b"not json", *map(_now_line, range(5, 10)),
                                    b"{broken", *map(_now_line, range(10, 15))])
    with _running(pipeline):
        assert wait_until(lambda: len(_events(es)) >= 15 and pipeline.dlq.count == 2, timeout=20)
    assert _events(es) == [f"ev-{i:08d}" for i in range(15)]
    assert [r["line"] for r in read_records(tmp_path / "state")] == ["not json", "{broken"]


def test_a_stop_while_a_dead_letter_cannot_be_written_is_no_reader_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Stopping while reading is held on a dead-letter file that cannot be written logs no reader error (a
    traceback at a clean stop); the held line stays behind the checkpoint, read again at the next start."""
    from auditlog.agent import pipeline as module

    errors: list[str] = []
    real = module.log

    class _Recorder:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def exception(self, event: str, **kw: Any) -> None:
            errors.append(event)

    monkeypatch.setattr(module, "log", _Recorder())
    pipeline, es, inbox = _inbox_pipeline(tmp_path, 0.02)
    full_disk, left = _failing(pipeline.dlq.append, 10**6, OSError(28, "No space left on device"))
    monkeypatch.setattr(pipeline.dlq, "append", full_disk)
    _inbox_lines(inbox, "a.jsonl", [_now_line(0), b"not json", _now_line(1)])
    with _running(pipeline):
        assert wait_until(lambda: left[0] < 10**6, timeout=20)  # held on the bad line
    assert (errors, "ev-00000001" in _events(es)) == ([], False)


def test_a_state_directory_removed_while_running_stops_the_pipeline_saying_why(tmp_path: Path) -> None:
    """The state directory removed under a running pipeline: the next scan stops it with one line saying so, rather
    than writing checkpoints on into a folder no one can open again."""
    pipeline, es, inbox = _inbox_pipeline(tmp_path, 0.02)
    with _running(pipeline):
        _inbox_lines(inbox, "a.jsonl", [_now_line(0)])
        assert wait_until(lambda: "ev-00000000" in _events(es), timeout=20)  # running
        shutil.rmtree(tmp_path / "state")
        _inbox_lines(inbox, "b.jsonl", [_now_line(1)])  # a change: the watcher asks for a scan
        assert wait_until(lambda: pipeline.lost_state is not None, timeout=20)
        assert wait_until(pipeline._stop_requested.is_set, timeout=5)
    assert pipeline.lost_state is not None and str(tmp_path / "state") in pipeline.lost_state


def test_a_pipeline_built_after_its_state_directory_was_replaced_makes_nothing_there(tmp_path: Path) -> None:
    """The state directory replaced after the lock was taken (during the pre-flight, a reload, a restart): the next
    pipeline refuses in one line and makes no registry in the new folder, which no lock guards."""
    from auditlog.agent.statelock import hold_state_dir
    from auditlog.core.errors import CommandError

    (tmp_path / "in").mkdir()
    config = tmp_path / "agent.toml"
    config.write_text(f'[inputs]\npaths = ["{tmp_path}/in/*.jsonl"]\n[state]\ndir = "{tmp_path / "state"}"\n'
                      "[metrics]\nenabled = false\n")
    with hold_state_dir(tmp_path / "state") as guarded:
        os.rename(tmp_path / "state", tmp_path / "state.old")
        (tmp_path / "state").mkdir()
        with pytest.raises(CommandError, match=r"^state directory .*state was removed or replaced"):
            Pipeline(load(config), GatedES(), state_id=guarded)  # type: ignore[arg-type]
    assert sorted(p.name for p in (tmp_path / "state").iterdir()) == []


def test_a_block_that_fails_halfway_is_read_again_from_its_first_unhandled_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An error in the middle of a block gives its unhandled lines back to the file: each line arrives once."""
    pipeline, es, inbox = _inbox_pipeline(tmp_path, 0.02)
    real = pipeline._process
    failed: list[Block] = []

    def half_then_fail(block: Block) -> None:
        if not failed and len(block.lines) > 4:
            failed.append(block)
            cut = block.lines[3][0]  # the first three lines are handled, then something breaks
            real(Block(block.key, block.path, block.lines[:3], cut))
            raise RuntimeError("injected")
        real(block)

    monkeypatch.setattr(pipeline, "_process", half_then_fail)
    _inbox_lines(inbox, "a.jsonl", list(map(_now_line, range(12))))
    with _running(pipeline):
        assert wait_until(lambda: len(_events(es)) >= 12, timeout=20)
        time.sleep(0.3)  # a line sent twice would show here
    assert (failed != [], _events(es)) == (True, [f"ev-{i:08d}" for i in range(12)])


def test_a_scan_that_keeps_failing_does_not_stop_reading_the_files_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Once the scans fail (a tree they cannot walk), lines appended to files already found still arrive."""
    pipeline, es, inbox = _inbox_pipeline(tmp_path, 0.02)
    _inbox_lines(inbox, "a.jsonl", list(map(_now_line, range(3))))
    with _running(pipeline):
        assert wait_until(lambda: len(_events(es)) == 3)

        scans: list[object] = []

        def fail(moves: object = ()) -> None:
            scans.append(moves)
            raise RecursionError("maximum recursion depth exceeded")

        monkeypatch.setattr(pipeline.tailer, "scan", fail)
        (inbox / "b.jsonl").touch()  # the watcher's wake asks for a scan, which fails
        assert wait_until(lambda: len(scans) >= 1)
        _inbox_lines(inbox, "a.jsonl", list(map(_now_line, range(3, 6))))
        assert wait_until(lambda: len(_events(es)) == 6, timeout=10)


def test_a_batch_whose_ids_cannot_be_recorded_is_sent_once_they_can(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The id record failing as a batch is sealed (a full state disk) neither drops the batch nor stalls its file."""
    pipeline, es, inbox = _inbox_pipeline(tmp_path, 0.02)
    full, fails = _failing(pipeline.sink.prepare, 1, sqlite3.OperationalError("database or disk is full"),
                           lambda batch: len(batch.entries) == 10)
    monkeypatch.setattr(pipeline.sink, "prepare", full)
    _inbox_lines(inbox, "a.jsonl", list(map(_now_line, range(25))))
    with _running(pipeline):
        assert wait_until(lambda: len(_events(es)) >= 25, timeout=20)
        key = next(iter(pipeline.tailer._tracked))
        size = (inbox / "a.jsonl").stat().st_size
        assert wait_until(lambda: pipeline.checkpoints.committed(key) == size)
    assert (fails, _events(es)) == ([0], [f"ev-{i:08d}" for i in range(25)])


def _run_with_settle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                     settle: Callable[..., None]) -> tuple[Pipeline, GatedES, threading.Thread]:
    """Run a pipeline over 50 lines with ``settle`` in place of the checkpointer's; return once it ended (30 s)."""
    from auditlog.agent.checkpoints import Checkpointer

    monkeypatch.setattr(Checkpointer, "settle", settle)
    pipeline, es, inbox = _inbox_pipeline(tmp_path, 0.02)
    write(inbox / "a.jsonl", 0, 50)
    thread = threading.Thread(target=pipeline.run, daemon=True)
    thread.start()
    thread.join(30)
    return pipeline, es, thread


def test_an_acknowledging_error_stops_the_pipeline_as_failed_and_leaves_no_thread_waiting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bug in acknowledging a batch does not kill the acknowledger silently: the run ends, marked failed,
    and no sender is left blocked on it."""
    from auditlog.agent.checkpoints import Checkpointer

    def broken(self: Checkpointer, *args: object) -> None:
        raise ValueError("a bug upstream")

    pipeline, es, thread = _run_with_settle(tmp_path, monkeypatch, broken)
    alive = [t.name for t in (*pipeline._senders, pipeline._acknowledger) if t is not None and t.is_alive()]
    assert (thread.is_alive(), pipeline.failed, alive, len(es.ids) >= 10) == (False, True, [], True)


def test_a_stop_with_every_sender_stuck_on_a_silent_node_ends_within_the_timeout_plus_two_seconds(
    tmp_path: Path,
) -> None:
    """32 workers in requests that never answer and a read of many small batches: the stop takes
    shutdown.timeout (1 s) plus 2 s at most, not a wait per worker or per batch (it took 13 s)."""
    inbox = tmp_path / "in"
    inbox.mkdir()
    config = tmp_path / "agent.toml"
    config.write_text(f'[inputs]\npaths = ["{inbox}/*.jsonl"]\npoll_interval = 0.02\nwatcher = "polling"\n'
                      f'[state]\ndir = "{tmp_path / "state"}"\n[shutdown]\ntimeout = 1\n'
                      "[batch]\nmax_events = 10\nworkers = 32\nmax_in_flight = 32\nmax_latency = 0.05\n"
                      "[metrics]\nenabled = false\n")
    es = GatedES()  # never opened while the pipeline runs
    pipeline = Pipeline(load(config), es)  # type: ignore[arg-type]
    write(inbox / "a.jsonl", 0, 2000)
    thread = threading.Thread(target=pipeline.run, daemon=True)
    thread.start()
    try:
        assert wait_until(lambda: pipeline.queue.full(), timeout=20)
        started = time.monotonic()
        pipeline.request_stop()
        thread.join(30)
        took = time.monotonic() - started
    finally:
        es.open.set()  # let the stuck senders go (they find the pipeline closed)
    assert (thread.is_alive(), took <= 1 + 2 + 0.5) == (False, True), took


def test_after_an_acknowledging_error_no_later_batch_is_settled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Once acknowledging failed, later batches are only drained: a later commit would move a checkpoint past
    the batch that failed (its digest records lost); the next pipeline reads from the last checkpoint."""
    from auditlog.agent.checkpoints import Checkpointer

    settled: list[int] = []

    def first_broken(self: Checkpointer, batch: Any, *args: object) -> None:
        settled.append(batch.seq)
        if len(settled) == 1:
            raise ValueError("a bug upstream")

    pipeline, _es, thread = _run_with_settle(tmp_path, monkeypatch, first_broken)
    assert (thread.is_alive(), pipeline.failed, len(settled)) == (False, True, 1)


def test_a_refused_dead_letter_file_leaves_the_registry_closed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pipeline that cannot open its dead-letter file (a link there) closes the registry it opened before."""
    from auditlog.agent import registry

    closed: list[Path] = []
    real_close = registry.Registry.close

    def close(self: registry.Registry) -> None:
        closed.append(self.path)
        real_close(self)

    monkeypatch.setattr(registry.Registry, "close", close)
    config = tmp_path / "agent.toml"
    config.write_text(f'[inputs]\npaths = ["{tmp_path}/*.jsonl"]\n'
                      f'[state]\ndir = "{tmp_path / "state"}"\n[metrics]\nenabled = false\n')
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "deadletter.jsonl").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(OSError, match="is a symbolic link"):
        Pipeline(load(config), GatedES())  # type: ignore[arg-type]
    assert closed == [tmp_path / "state" / "registry.sqlite"]


def test_a_glob_that_reaches_the_state_directory_does_not_read_the_dead_letter_file_back(tmp_path: Path) -> None:
    """With the state directory under the globbed tree, a bad line is dead-lettered once: the agent never harvests
    its own dead-letter file (read back, every record was dead-lettered again inside a longer one, without end)."""
    (tmp_path / "app").mkdir()
    config = tmp_path / "agent.toml"
    config.write_text(f'[inputs]\npaths = ["{tmp_path}/**/*.jsonl"]\npoll_interval = 0.02\nrescan_interval = 0.05\n'
                      f'watcher = "polling"\n[state]\ndir = "{tmp_path / "agent-state"}"\n'
                      "[batch]\nmax_latency = 0.05\n[metrics]\nenabled = false\n")
    es = GatedES()
    es.open.set()
    pipeline = Pipeline(load(config), es)  # type: ignore[arg-type]
    _inbox_lines(tmp_path / "app", "a.jsonl", [b"not json"])
    with _running(pipeline):
        assert wait_until(lambda: pipeline.dlq.count >= 1)
        time.sleep(1.0)  # a dozen scans and polls: time for the dead-letter file to be read back, if it were
    assert [r["line"] for r in read_records(tmp_path / "agent-state")] == ["not json"]
