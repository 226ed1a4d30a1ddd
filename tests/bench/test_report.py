"""The results page says what was measured, the ratios, and what was not available."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.ingest import CEILING, CEILING_AGENT_DOCS
from bench.report import HAND_WRITTEN, main, render, write_outputs


def _summary(name: str, eps: float | None, unavailable: str | None = None) -> dict[str, Any]:
    return {"shipper": name, "events": 1000, "unavailable": unavailable, "failures": [], "runs": [],
            "median": {"events_per_s": eps, "seconds": None if eps is None else 1000 / eps, "cpu_s_per_100k": 0.5,
                       "peak_rss_bytes": 50 * 2**20, "es_cpu_s_per_100k": 4.0}}


def _results(**parts: Any) -> dict[str, Any]:
    return {
        "mode": "quick", "argv": ["--quick"], "started": "2026-11-26T10:00:00+00:00", "duration_s": 1.0,
        "machine": {"cores": 2, "cores_usable": 2, "memory_bytes": 2**30, "cpu_model": "cpu", "kernel": "6",
                    "load_at_start": [0.5, 0.5]},
        "versions": {"python": "3.11"},
        "settings": {"sizes": [1000], "repeats": 1, "batch_size": 100, "ceiling_workers": 2},
        **parts,
    }


def test_ratios_to_ceiling_and_rsyslog_are_printed() -> None:
    """An agent at 900 ev/s next to a 1000 ev/s ceiling and 450 ev/s rsyslog reads 0.90x and 2.00x."""
    page = render(_results(ingest=[_summary(CEILING, 1000.0), _summary("auditlog agent", 900.0),
                                   _summary("rsyslog", 450.0)]))
    agent_row = next(line for line in page.splitlines() if line.startswith("| auditlog agent |"))
    assert agent_row.endswith("| 0.90 | 2.00 |")
    assert "agent >= 0.9x ceiling: 0.90x, met" in page
    assert "agent CPU <= 10 µs/event: 5.0 µs, met" in page


def test_missing_part_is_named_not_estimated() -> None:
    """A shipper that did not exist yet appears with its reason and no numbers."""
    page = render(_results(ingest=[_summary(CEILING, 1000.0),
                                   _summary("auditlog agent", None, "not available yet: shipper")]))
    assert "| auditlog agent | not available yet: shipper |" in page
    assert "agent not measured (not available yet: shipper)" in page


def test_emitter_target_missed_is_stated_plainly() -> None:
    """An emitter at 0.8x the baseline misses the 0.6x target, and the page says so."""
    page = render(_results(emitter={"events": 10, "repeats": 1, "baseline": "stdlib", "baseline_us_per_event": 20.0,
                                    "emitter_us_per_event": 16.0, "ratio": 0.8}))
    assert "target emitter <= 0.6x baseline: 0.80x, **missed**" in page


def test_agent_line_cost_by_producer_is_shown() -> None:
    """The in-process line cost table names both paths and the extra cost of other producers' lines."""
    page = render(_results(agent_lines={"events": 10, "repeats": 1, "emitter_lines_us": 3.5,
                                        "foreign_lines_us": 7.25}))
    assert "| pass-through (`agent/fastpath.py`) | 3.50 |" in page
    assert "cost 3.8 µs more per line" in page
    assert "The emitter's lines against the pass-through's budget of 4 µs: met." in page


def test_agent_line_cost_names_where_the_line_check_ran() -> None:
    """A run that recorded where the line check ran says so in the row, and a cost over 4 µs is missed."""
    page = render(_results(agent_lines={"events": 10, "repeats": 1, "emitter_lines_us": 4.48,
                                        "foreign_lines_us": 9.0, "line_check": "in C"}))
    assert "| pass-through (`agent/fastpath.py`; line check in C) | 4.48 |" in page
    assert "budget of 4 µs: **missed**" in page


def test_digest_cost_is_shown_beside_its_hash_floor() -> None:
    """The tamper-evidence line gives the verdict against 1.5 µs, the same run's SHA-256 cost and the ratio to it."""
    page = render(_results(agent_lines={"events": 10, "repeats": 1, "emitter_lines_us": 3.5,
                                        "foreign_lines_us": 7.25, "digest_us": 4.2, "digest_hash_us": 1.7,
                                        "digest_share": 0.005}))
    assert "target <= 1.5 µs: **missed**), of which SHA-256 of the document alone" in page
    assert "is 1.70 µs in the same run (the bookkeeping beside it 2.50 µs; the whole 2.5x the hash" in page


def test_split_cores_run_has_its_own_table_and_verdict() -> None:
    """The split run is shown beside the shared one, with its own ratio and verdict."""
    shared = [_summary(CEILING, 1000.0), _summary("auditlog agent", 850.0)]
    split = {"node_cores": [0], "shipper_cores": [1],
             "summaries": [_summary(CEILING, 500.0), _summary("auditlog agent", 490.0)]}
    page = render(_results(ingest=shared, ingest_split=split))
    assert "agent >= 0.9x ceiling: 0.85x, **missed**" in page
    assert "agent >= 0.9x ceiling with the node on its own core(s): 0.98x, met" in page
    assert "node pinned to core(s) [0]" in page


def test_split_cores_not_measured_says_why() -> None:
    """A node that is not local cannot be pinned, and the page says so."""
    page = render(_results(ingest=[_summary(CEILING, 1000.0)],
                           ingest_split={"summaries": [], "unavailable": "the node does not run on this machine"}))
    assert "Split cores: not measured (the node does not run on this machine)." in page


def test_the_ceiling_of_the_agents_documents_splits_the_gap_and_is_no_peer() -> None:
    """With the agent's documents at 800 ev/s under a 1000 ev/s ceiling, an agent at 720 ev/s reads 0.80x and 0.90x."""
    page = render(_results(ingest=[_summary(CEILING, 1000.0), _summary(CEILING_AGENT_DOCS, 800.0),
                                   _summary("auditlog agent", 720.0)]))
    assert ("(the ceiling of the agent's own documents is 0.80x the ceiling; the agent ships 0.90x that one)"
            in page)
    assert f"agent vs {CEILING_AGENT_DOCS}" not in page and f"{CEILING_AGENT_DOCS} throughput at" not in page


def test_every_peer_gets_a_throughput_and_cpu_verdict() -> None:
    """Filebeat at half the agent's speed and twice its CPU meets the peer target; an unbuilt peer says why."""
    slow = _summary("filebeat (throughput)", 450.0)
    slow["median"]["cpu_s_per_100k"] = 1.0
    page = render(_results(ingest=[_summary(CEILING, 1000.0), _summary("auditlog agent", 900.0), slow,
                                   _summary("syslog-ng", None, "syslog-ng not installed"),
                                   _summary("naive streaming_bulk", 300.0)]))
    assert ("agent >= 1.0x filebeat (throughput) throughput at <= 0.5x its CPU per event: 2.00x throughput, "
            "0.50x CPU, met") in page
    assert "agent vs syslog-ng: not measured (syslog-ng not installed)" in page
    assert "agent vs naive" not in page and "naive streaming_bulk throughput at" not in page


def test_reliability_table_shows_altered_documents_and_how() -> None:
    """A shipper that dropped nulls has its altered count and the kind of change in the row."""
    rel = {"params": {"events": 100, "rate": 10, "kills": 1, "outage_s": 1.0, "rotate_every": 10},
           "results": [{"shipper": "filebeat", "scenario": "kill9", "written": 100, "documents": 100, "lost": 0,
                        "duplicated": 0, "altered": 37, "altered_kinds": {"audit.changes.*.old: null dropped": 37}}]}
    page = render(_results(reliability=rel))
    row = next(line for line in page.splitlines() if line.startswith("| filebeat | kill9 |"))
    assert "| 100 | 100 | 0 | 0 | 37 | altered: audit.changes.*.old: null dropped (37) |" in row


def test_node_cores_busy_and_slow_cores_are_reported() -> None:
    """The node's busy cores appear per shipper, and a slow-cores run says so above the table."""
    agent = _summary("auditlog agent", 900.0)
    agent["median"]["node_cores_busy"] = 1.5
    results = _results(ingest=[_summary(CEILING, 1000.0), agent])
    results["settings"]["slow_cores"] = "one busy-looping neighbour process per core during the ingest runs"
    page = render(results)
    agent_row = next(line for line in page.splitlines() if line.startswith("| auditlog agent |"))
    assert "| 1.50 | 0.90 |" in agent_row
    assert "**Slow cores:** one busy-looping neighbour process per core" in page


def _big_row(events: int, p95: float) -> dict[str, Any]:
    timing = {"median_ms": p95 / 2, "p95_ms": p95, "samples": 10}
    reads = {k: {"layer": timing, "raw": timing} for k in
             ("first_page", "facets", "histogram", "filter_change", "live_tick")}
    return {"events": events, **reads, "live_visibility_s": 1.2, "tenant_slice": events // 10,
            "export": {"rows": events // 10, "seconds": events / 100_000, "peak_rss_bytes": 100 * 2**20},
            "export_raw": {"rows": events // 10, "seconds": 1.0, "peak_rss_bytes": 50 * 2**20}}


def test_bigscale_section_gives_growth_and_target_verdicts() -> None:
    """At 10M a 600 ms first page misses its 500 ms target with the ratio; facets under 1 s meet theirs."""
    big = {"rows": [_big_row(1_000_000, 100.0), _big_row(10_000_000, 600.0)], "days": 30, "tenant": "org-scale",
           "targets_ms": {"first_page": 500.0, "facets": 1000.0}}
    page = render(_results(bigscale=big))
    assert "6. Ten million events" in page
    assert "- first page <= 500 ms p95: 600 ms (1.20x the limit), **missed**" in page
    assert "- facets <= 1000 ms p95: 600 ms (0.60x the limit), met" in page
    assert "- export of 1M rows <= 60 s: 100 s per 1M rows (from the tenant slice), **missed**" in page


def _node_loss() -> dict[str, Any]:
    from bench.node_loss import NodeLossResult, Probe

    result = NodeLossResult(events=200, rate=20, written=200, documents=200, killed_node="auditlog-9201",
                            primaries_before={"auditlog-9201": 5}, replicas={"enterprise": 1},
                            node_down_s=40.0, longest_stall_s=12.5, stall_began_after_kill_s=0.4,
                            longest_stall_after_kill_s=12.5, catch_up_s=3.0,
                            items_retried=700, duplicates_answered=90,
                            probes=[Probe("tui first page", True, 1.25, "100 hits of 150"),
                                    Probe("export", False, 30.0, "exit 1: unreachable")])
    return {"params": {"events": 200, "rate": 20, "down_s": 30.0, "settle_s": 60.0}, "cluster_start_s": 50.0,
            "result": result.to_json()}


def test_node_loss_row_gives_loss_stall_and_catch_up() -> None:
    """The node-loss table shows lost, duplicated, dead letters, re-sends, downtime, the stall and the catch-up."""
    page = render(_results(nodeloss=_node_loss()))
    assert "| 200 | 200 | 0 | 0 | 0 | 700 / 90 | 40.0 s | 12.5 s (from 0.4 s after the kill) | 12.5 s | 3.0 s |" in page


def test_node_loss_reads_during_the_outage_say_whether_they_answered() -> None:
    """Each read made while the node was down has a row; one that failed says so with its reason."""
    page = render(_results(nodeloss=_node_loss()))
    assert ["| tui first page | yes | 1.25 s |", "| export | **no**: exit 1: unreachable | 30.00 s |"] == [
        line for line in page.splitlines() if line.startswith(("| tui first page", "| export"))]


def test_a_new_run_keeps_the_hand_written_end_of_the_docs_page(tmp_path: Path) -> None:
    """Rewriting docs/benchmarks.md keeps everything from the HAND_WRITTEN marker on, after the new tables."""
    docs = tmp_path / "docs"
    docs.mkdir()
    tail = f"{HAND_WRITTEN}\n\n## Measured by hand\n\nexport 8.9 s\n"
    (docs / "benchmarks.md").write_text(f"# old generated page\n\n{tail}")
    write_outputs(_results(ingest=[_summary(CEILING, 1000.0)]), results_dir=tmp_path / "results",
                  docs_dir=docs, repo=tmp_path)
    page = (docs / "benchmarks.md").read_text()
    assert (False, True) == ("# old generated page" in page, page.endswith("\n" + tail))


@pytest.mark.parametrize("content", [None, "{not json"])
def test_re_rendering_a_missing_or_broken_results_file_exits_2(tmp_path: Path, content: str | None,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """python -m bench.report with a file that is missing or not JSON prints one line and exits 2."""
    results = tmp_path / "results.json"
    if content is not None:
        results.write_text(content)
    code = main([str(results)])
    err = capsys.readouterr().err
    assert (2, 1, True) == (code, len(err.strip().splitlines()), "not a readable results file" in err)


def test_agent_time_split_is_shown_next_to_node_cpu() -> None:
    """An agent run with a time split gets a line with each part and the node's busy cores beside the ceiling's."""
    agent = _summary("auditlog agent", 900.0)
    agent["median"].update(node_cores_busy=1.2, time_shares={"reading": 0.05, "building": 0.3, "slot_wait": 0.4,
                                                             "response_wait": 1.9, "acknowledging": 0.02})
    ceiling = _summary(CEILING, 1000.0)
    ceiling["median"]["node_cores_busy"] = 1.8
    page = render(_results(ingest=[ceiling, agent]))
    expected = ("- auditlog agent time split (seconds per wall second of the run, medians): reading 0.05, building "
                "bodies 0.30, waiting for a free request slot 0.40, acknowledging 0.02; requests in flight on average "
                "1.90; node cores busy 1.20 against the ceiling's 1.80.")
    assert expected in page.splitlines()


def test_the_agents_state_work_is_shown_when_measured() -> None:
    """The agent-lines section names the state work's µs per event when the run measured it."""
    page = render(_results(agent_lines={"events": 10, "repeats": 1, "emitter_lines_us": 2.5,
                                        "foreign_lines_us": 7.25, "state_us": 2.71}))
    assert "state work around sending costs 2.71 µs per event" in page
