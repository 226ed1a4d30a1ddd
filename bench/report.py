"""Turn a run's results into ``bench/results/<date>.{json,md}``, ``docs/benchmarks.md`` and its plot.

The JSON is the record; the Markdown tables and the plot are rendered from it, so a results file can be
re-rendered later (``python -m bench.report bench/results/<file>.json``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.growth import growth
from bench.ingest import CEILING, CEILING_AGENT_DOCS

AGENT = "auditlog agent"
RSYSLOG = "rsyslog"
MIB = 2**20


def _f(value: float | None, digits: int = 0, suffix: str = "") -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}{suffix}"


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def _verdict(ok: bool | None) -> str:
    return "not measured" if ok is None else ("met" if ok else "**missed**")


def ingest_rows(results: dict[str, Any], events: int) -> dict[str, dict[str, Any]]:
    """Return the ingest summaries at one size, by shipper."""
    return {s["shipper"]: s for s in results.get("ingest", []) if s["events"] == events}


def _ingest_section(results: dict[str, Any], h: str) -> list[str]:
    summaries = results.get("ingest")
    if not summaries:
        return []
    sizes = sorted({s["events"] for s in summaries})
    largest = sizes[-1]
    by = ingest_rows(results, largest)
    ceiling = by.get(CEILING, {}).get("median", {}).get("events_per_s")
    rsyslog = by.get(RSYSLOG, {}).get("median", {}).get("events_per_s")
    settings = results["settings"]
    out = [
        f"{h} 1. Ingest: file -> Elasticsearch until searchable ({largest:,} events)", "",
        f"Median of {settings.get('repeats_by_size', {}).get(str(largest), settings['repeats'])} runs per shipper "
        f"(smaller sizes: {settings['repeats']}), shippers taking turns; batch size "
        f"{settings['batch_size']}; events from {settings.get('events_source', '?')}, mean line "
        f"{settings.get('mean_line_bytes', '?')} bytes; the clock stops when `_count` after `_refresh` equals "
        "the number of lines (polled once the indices' statistics show them all indexed: no refresh is forced "
        "while a shipper writes, as none is while the ceiling posts). CPU and peak RSS are the "
        "shipper process's (from `/proc`), ES CPU is the node's. "
        "*Node cores busy* is the node's CPU seconds per wall second of the run: a shipper that keeps the node as "
        "busy as the ceiling does feeds it well; the gap is node time left idle. "
        "The node and the shippers share every core here, as on one machine."
        + (f" **Slow cores:** {settings['slow_cores']} (`bench/neighbour.py`)." if settings.get("slow_cores") else ""),
        "",
        *_ingest_table(by, ceiling, rsyslog),
    ]
    if CEILING in by:
        out.append(f"- The ceiling's CPU column is the harness's own posting threads "
                   f"({settings['ceiling_workers']} connections); it has no shipper process.")
    if CEILING_AGENT_DOCS in by:
        out.append(f"- *{CEILING_AGENT_DOCS}* posts, the same way, the documents the agent's own code makes of the "
                   "lines (`event.ingested`, `ecs`, `agent`, `host` added): its gap to the ceiling is what those "
                   "fields cost the node, the agent's gap to it is the agent's own CPU and pacing.")
    out += ["", "Throughput (events/s, median) by input size:", "",
            "| shipper | " + " | ".join(f"{n:,}" for n in sizes) + " |",
            "|---|" + "---:|" * len(sizes)]
    for name in by:
        cells = []
        for n in sizes:
            row = ingest_rows(results, n).get(name, {})
            cells.append(_f(row.get("median", {}).get("events_per_s")) if not row.get("unavailable") else "n/a")
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    out += ["", *_ingest_targets(by, ceiling, rsyslog), "", *_split_section(results)]
    return out


def _ingest_table(by: dict[str, dict[str, Any]], ceiling: float | None, rsyslog: float | None) -> list[str]:
    """The per-shipper table (medians, ratios to the ceiling and to rsyslog) and notes on failed runs."""
    out = ["| shipper | events/s | seconds | CPU s / 100k events | CPU µs / event | peak RSS | ES CPU s / 100k "
           "| node cores busy | x ceiling | x rsyslog |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    notes = []
    for name, s in by.items():
        if s.get("unavailable"):
            out.append(f"| {name} | {s['unavailable']} | | | | | | | | |")
            continue
        m = s["median"]
        if m["events_per_s"] is None:
            out.append(f"| {name} | failed: {'; '.join(s['failures'])[:200]} | | | | | | | | |")
            continue
        cpu = m["cpu_s_per_100k"]
        out.append(
            f"| {name} | {_f(m['events_per_s'])} | {_f(m['seconds'], 1)} | {_f(cpu, 2)} | "
            f"{_f(None if cpu is None else cpu * 10, 1)} | "
            f"{_f(None if m['peak_rss_bytes'] is None else m['peak_rss_bytes'] / MIB, 0, ' MiB')} | "
            f"{_f(m['es_cpu_s_per_100k'], 2)} | {_f(m.get('node_cores_busy'), 2)} | "
            f"{_f(_ratio(m['events_per_s'], ceiling), 2)} | "
            f"{_f(_ratio(m['events_per_s'], rsyslog), 2)} |")
        if s["failures"]:
            notes.append(f"- {name}: {len(s['failures'])} failed run(s): {'; '.join(s['failures'])[:300]}")
        shares = m.get("time_shares")
        if shares:
            notes.append(time_split_note(name, shares, m.get("node_cores_busy"),
                                         by.get(CEILING, {}).get("median", {}).get("node_cores_busy")))
    return [*out, "", *notes]


#: the agent's time split parts (``auditlog_agent_time_seconds_total{part}``) as the report words them.
_PARTS = (("reading", "reading"), ("building", "building bodies"), ("slot_wait", "waiting for a free request slot"),
          ("acknowledging", "acknowledging"))


def time_split_note(name: str, shares: dict[str, float], busy: float | None, ceiling_busy: float | None) -> str:
    """One line: where the agent's time went during its runs, next to how busy it kept the node."""
    parts = ", ".join(f"{label} {_f(shares.get(part), 2)}" for part, label in _PARTS)
    return (f"- {name} time split (seconds per wall second of the run, medians): {parts}; requests in flight on "
            f"average {_f(shares.get('response_wait'), 2)}; node cores busy {_f(busy, 2)} against the ceiling's "
            f"{_f(ceiling_busy, 2)}.")


def _split_section(results: dict[str, Any]) -> list[str]:
    split = results.get("ingest_split")
    if not split:
        return []
    if split.get("unavailable") or not split.get("summaries"):
        return [f"Split cores: not measured ({split.get('unavailable') or 'no runs'}).", ""]
    by = {s["shipper"]: s for s in split["summaries"]}
    events = split["summaries"][0]["events"]
    ceiling = by.get(CEILING, {}).get("median", {}).get("events_per_s")
    rsyslog = by.get(RSYSLOG, {}).get("median", {}).get("events_per_s")
    out = [f"The same {events:,} events with the node pinned to core(s) {split.get('node_cores')} and the shippers "
           f"(and this harness) to core {split.get('shipper_cores')} (`bench/affinity.py`): the shipper no longer "
           "takes CPU from the node, as when it runs on the application hosts and the node elsewhere. "
           "\"x ceiling\" here says how well a shipper feeds the node, whatever its own CPU cost.", "",
           *_ingest_table(by, ceiling, rsyslog)]
    agent = by.get(AGENT, {}).get("median", {}).get("events_per_s")
    ratio = _ratio(agent, ceiling)
    out += [f"- agent >= 0.9x ceiling with the node on its own core(s): {_f(ratio, 2)}x, "
            f"{_verdict(None if ratio is None else ratio >= 0.9)}", ""]
    return out


def _ingest_targets(by: dict[str, dict[str, Any]], ceiling: float | None, rsyslog: float | None) -> list[str]:
    agent = by.get(AGENT)
    if agent is None or agent.get("unavailable") or agent["median"]["events_per_s"] is None:
        reason = agent.get("unavailable") if agent else "not run"
        return [f"Targets (issue 3 / 7): agent not measured ({reason or 'all runs failed'})."]
    m = agent["median"]
    to_ceiling, to_rsyslog = _ratio(m["events_per_s"], ceiling), _ratio(m["events_per_s"], rsyslog)
    own = by.get(CEILING_AGENT_DOCS, {}).get("median", {}).get("events_per_s")
    cpu_us = None if m["cpu_s_per_100k"] is None else m["cpu_s_per_100k"] * 10
    rss = None if m["peak_rss_bytes"] is None else m["peak_rss_bytes"] / MIB
    return [
        "Targets (issue 3 / 7):", "",
        f"- agent >= 0.9x ceiling: {_f(to_ceiling, 2)}x, {_verdict(None if to_ceiling is None else to_ceiling >= 0.9)}",
        *([f"  (the ceiling of the agent's own documents is {_f(_ratio(own, ceiling), 2)}x the ceiling; the agent "
           f"ships {_f(_ratio(m['events_per_s'], own), 2)}x that one)"] if own else []),
        f"- agent >= 1.0x rsyslog: {_f(to_rsyslog, 2)}x, {_verdict(None if to_rsyslog is None else to_rsyslog >= 1.0)}",
        f"- agent CPU <= 10 µs/event: {_f(cpu_us, 1)} µs, {_verdict(None if cpu_us is None else cpu_us <= 10)}",
        f"- agent RSS <= 100 MiB: {_f(rss)} MiB, {_verdict(None if rss is None else rss <= 100)}",
        *_peer_targets(by),
    ]


#: Contenders that are neither the product, the physical limit nor the strawman: the shippers users would pick.
def _peers(by: dict[str, dict[str, Any]]) -> list[str]:
    return [name for name in by if name not in (AGENT, CEILING, CEILING_AGENT_DOCS) and not name.startswith("naive")]


def _peer_targets(by: dict[str, dict[str, Any]]) -> list[str]:
    """One line per peer: agent >= 1.0x its throughput at <= half its CPU per event."""
    agent = by[AGENT]["median"]
    out = []
    for name in _peers(by):
        peer = by[name]
        if peer.get("unavailable") or peer["median"]["events_per_s"] is None:
            out.append(f"- agent vs {name}: not measured ({peer.get('unavailable') or 'all runs failed'})")
            continue
        speed = _ratio(agent["events_per_s"], peer["median"]["events_per_s"])
        cpu = _ratio(agent["cpu_s_per_100k"], peer["median"]["cpu_s_per_100k"])
        ok = None if speed is None or cpu is None else speed >= 1.0 and cpu <= 0.5
        out.append(f"- agent >= 1.0x {name} throughput at <= 0.5x its CPU per event: {_f(speed, 2)}x throughput, "
                   f"{_f(cpu, 2)}x CPU, {_verdict(ok)}")
    return out


def _reliability_section(results: dict[str, Any], h: str) -> list[str]:
    rel = results.get("reliability")
    if not rel or "params" not in rel:
        return []
    p = rel["params"]
    out = [f"{h} 2. Reliability under load", "",
           f"{p['events']:,} events written at {p['rate']:,}/s while the shipper runs; kill9 = {p['kills']} "
           f"SIGKILLs + restarts; outage = Elasticsearch unreachable for {p['outage_s']:.0f} s; rotation every "
           f"{p['rotate_every']:,} lines; the shipper reads the live path only, or with `*` the live file and its "
           "rotated copies (`audit.jsonl*`). Counted by a full scan after the shipper settles; *altered* = documents "
           "whose stored fields differ from the line written (a missing or changed leaf; fields a shipper adds do "
           "not count, `bench/fidelity.py`).", "",
           "| shipper | scenario | written | documents | lost | duplicated | altered | detail |",
           "|---|---|---:|---:|---:|---:|---:|---|"]
    for r in rel["results"]:
        detail = []
        if "kills" in r:
            detail.append(f"{r['kills']} kills")
        if "rss_before_bytes" in r:
            detail.append(f"RSS {r['rss_before_bytes'] / MIB:.0f} -> max {r['rss_max_during_bytes'] / MIB:.0f} "
                          f"-> {r['rss_after_bytes'] / MIB:.0f} MiB across the outage")
        if r.get("rotations"):
            detail.append(f"{r['rotations']} rotations")
        if r.get("altered_kinds"):
            detail.append("altered: " + ", ".join(f"{kind} ({n:,})" for kind, n in r["altered_kinds"].items()))
        if r.get("note"):
            detail.append(r["note"][:160].replace("\n", " "))
        altered = r.get("altered")
        out.append(f"| {r['shipper']} | {r['scenario']} | {r['written']:,} | {r['documents']:,} | {r['lost']:,} | "
                   f"{r['duplicated']:,} | {'-' if altered is None else f'{altered:,}'} | {'; '.join(detail)} |")
    for name, reason in rel.get("unavailable", {}).items():
        out.append(f"| {name} | all | | | | | | {reason} |")
    return [*out, ""]


def _scale_section(results: dict[str, Any], h: str) -> list[str]:
    sc = results.get("scale")
    if not sc or not sc.get("rows"):
        return []
    rows = sc["rows"]
    sizes = [r["events"] for r in rows]
    agent_cpu = []
    for n in sizes:
        a = ingest_rows(results, n).get(AGENT, {})
        cpu = a.get("median", {}).get("cpu_s_per_100k")
        agent_cpu.append(None if cpu is None else cpu * 10)

    def lat(r: dict[str, Any], key: str) -> str:
        v = r.get(key)
        return "n/a" if v is None else f"{v['median_ms']:.1f} ({v['p95_ms']:.1f})"

    out = [f"{h} 3. Scale: cost against stored events", "",
           "First page = 100 newest rows with the exact total: median (p95) ms. Query layer = "
           "`indexer.query.Pager.page(0)` (opens a point in time), raw = one plain `_search` with the same sort. "
           "Tenant = one tenant's updates. Export = every event: `auditlog export -o FILE.xlsx` as a user runs it "
           "(own process, start-up included) vs a plain point-in-time scan in its own process.", "",
           "| events | agent CPU µs/event | first page raw | first page query layer | tenant raw | tenant query layer "
           "| scan all (raw) s | xlsx export s | export peak RSS |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r, cpu in zip(rows, agent_cpu, strict=True):
        exp = r.get("export")
        out.append(
            f"| {r['events']:,} | {_f(cpu, 1)} | {lat(r, 'first_page_raw_all')} | {lat(r, 'first_page_layer_all')} | "
            f"{lat(r, 'first_page_raw_tenant')} | {lat(r, 'first_page_layer_tenant')} | "
            f"{_f(r['export_raw']['seconds'], 2)} | {_f(exp['seconds'] if exp else None, 2)} | "
            f"{_f(exp['peak_rss_bytes'] / MIB if exp else None, 0, ' MiB')} |")

    def series(key: str, field: str = "median_ms") -> list[float | None]:
        return [(r[key][field] if key in r else None) for r in rows]

    def export(field: str) -> list[float | None]:
        return series("export", field)

    out += ["", "Growth from the smallest to the largest size (log-log slope; flat < 0.25, linear ~ 1):", "",
            f"- agent CPU per event: {growth(sizes, agent_cpu)}",
            f"- first page, query layer: {growth(sizes, series('first_page_layer_all'))}; "
            f"raw: {growth(sizes, series('first_page_raw_all'))}",
            f"- first page for one tenant, query layer: {growth(sizes, series('first_page_layer_tenant'))}",
            f"- xlsx export time: {growth(sizes, export('seconds'))}; "
            f"raw scan: {growth(sizes, [r['export_raw']['seconds'] for r in rows])}",
            f"- export peak RSS: {growth(sizes, export('peak_rss_bytes'))}",
            ""]
    for part, reason in sc.get("unavailable", {}).items():
        if reason:
            out.append(f"- {part}: {reason}")
    return [*out, ""]


def _agent_lines(results: dict[str, Any]) -> list[str]:
    lines = results.get("agent_lines")
    if not lines:
        return []
    fast, full = lines["emitter_lines_us"], lines["foreign_lines_us"]
    return ["Agent: CPU to turn one line into its bulk entry, in-process (no node; "
            f"{lines['events']:,} lines, median of {lines['repeats']} runs; `bench/stage_cost.py`):", "",
            "| line written by | path | µs / line |", "|---|---|---:|",
            f"| the emitter (what section 1 ships) | pass-through (`agent/fastpath.py`"
            f"{'; line check ' + lines['line_check'] if lines.get('line_check') else ''}) | {_f(fast, 2)} |",
            f"| another producer (no ECS categories, no changed fields) | full path: decode, validate, enrich, "
            f"re-encode | {_f(full, 2)} |", "",
            f"- Lines from other producers cost {_f(full - fast, 1)} µs more per line than section 1's agent "
            "CPU shows; reading, batching and sending cost the same for both.",
            f"- The emitter's lines against the pass-through's budget of 4 µs: {_verdict(fast <= 4.0)}.",
            *([f"- Tamper evidence adds {_f(lines['digest_us'], 2)} µs per event in the agent (digest record, "
               f"packing, signing; target <= 1.5 µs: {_verdict(lines['digest_us'] <= 1.5)})"
               + (f", of which SHA-256 of the document alone, the part no design can skip, is "
                  f"{_f(lines['digest_hash_us'], 2)} µs in the same run (the bookkeeping beside it "
                  f"{_f(lines['digest_us'] - lines['digest_hash_us'], 2)} µs; the whole "
                  f"{_f(lines['digest_us'] / lines['digest_hash_us'], 1)}x the hash)"
                  if lines.get("digest_hash_us") else "")
               + f"; digests are {_f(100 * lines['digest_share'], 1)} % of the "
               "events' `_source` bytes before compression (target <= 1 %)."] if "digest_us" in lines else []),
            *([f"- The agent's state work around sending costs {_f(lines['state_us'], 2)} µs per event with SQLite "
               "(the id record before a batch is sent, the checkpoint commit with the digest feed's pending row, "
               "the seals; one file, in a fresh state folder)."] if "state_us" in lines else []),
            ""]


def _emitter_section(results: dict[str, Any], h: str) -> list[str]:
    em = results.get("emitter")
    if em is None:
        return _agent_lines(results)
    out = [f"{h} 4. Emitter cost per event (in the application's process)", "",
           f"{em['events']:,} calls per run, median of {em['repeats']} runs, writing to a local file.", "",
           "| writer | µs / event | x baseline |", "|---|---:|---:|",
           f"| baseline: {em['baseline']} | {_f(em['baseline_us_per_event'], 1)} | 1.00 |"]
    if em.get("unavailable"):
        out += [f"| auditlog emitter | {em['unavailable']} | |", ""]
        return out + _agent_lines(results)
    ratio, us = em["ratio"], em["emitter_us_per_event"]
    out += [f"| auditlog emitter (`agent.emitter`) | {_f(us, 1)} | {_f(ratio, 2)} |", "",
            f"- target emitter <= 0.6x baseline: {_f(ratio, 2)}x, {_verdict(ratio <= 0.6)}",
            f"- target emitter <= 10 µs/event: {_f(us, 1)} µs, {_verdict(us <= 10)}", ""]
    return out + _agent_lines(results)


def _tui_section(results: dict[str, Any], h: str) -> list[str]:
    tui = results.get("tui")
    if tui is None:
        return []
    out = [f"{h} 5. TUI latency ({tui.get('events', 0):,} events stored)", ""]
    base = tui.get("baseline", {})
    out += ["| measurement | median ms | p95 ms | baseline (raw ES) median / p95 ms | target |",
            "|---|---:|---:|---:|---|"]
    for key, label, target, base_key in (
        ("first_rows_start", "first rows after start", "p95 <= 500 ms", "first_page"),
        ("first_rows_filter", "first rows after a filter change", "p95 <= 500 ms", "filtered_page"),
        ("scroll_redraw", "keypress -> redraw while scrolling (pagedown)", "<= 50 ms", "next_page"),
        ("cursor_redraw", "keypress -> redraw, cursor down", "<= 50 ms", None),
    ):
        m, b = tui.get(key), base.get(base_key) if base_key else None
        base_cell = f"{b['median_ms']:.1f} / {b['p95_ms']:.1f}" if b else "-"
        if m is None:
            out.append(f"| {label} | {tui.get('unavailable', 'not measured')} | | {base_cell} | {target} |")
        else:
            out.append(f"| {label} | {m['median_ms']:.1f} | {m['p95_ms']:.1f} | {base_cell} | {target} |")
    app_export = tui.get("export_in_app")
    if app_export:
        out += ["", f"Export from the app (`e`, tenant {app_export['tenant']}, default time range): "
                f"{app_export['rows']:,} rows in {app_export['seconds']:.1f} s."]
    out += _export_100k(results)
    return [*out, ""]


def _export_100k(results: dict[str, Any]) -> list[str]:
    rows = [r for r in (results.get("scale") or {}).get("rows", []) if "export" in r]
    if not rows:
        return []
    near = min(rows, key=lambda r: abs(r["events"] - 100_000))
    exp = near["export"]
    secs, rss = exp["seconds"], exp["peak_rss_bytes"] / 1e6
    return ["", f"`auditlog export` of {exp['rows']:,} rows (scale benchmark): {secs:.1f} s, peak RSS {rss:.0f} MB; "
            f"raw point-in-time scan of the same rows {near['export_raw']['seconds']:.1f} s. "
            + (f"Targets for 100k rows: <= 10 s {_verdict(secs <= 10)}, <= 250 MB {_verdict(rss <= 250)}."
               if exp["rows"] == 100_000 else "(targets are for 100k rows; this run had no 100k size)")]


_BIG_READS = (("first_page", "first page (100 rows + exact total)"), ("facets", "facets (workers, types, sources)"),
              ("histogram", "histogram (30 days)"), ("filter_change", "filter change (one tenant's updates)"),
              ("live_tick", "live tail tick (fresh listing + first page)"))


def _bigscale_section(results: dict[str, Any], h: str) -> list[str]:
    big = results.get("bigscale")
    if not big or not big.get("rows"):
        return []
    rows = big["rows"]
    sizes = [r["events"] for r in rows]
    out = [f"{h} 6. Ten million events: the reading side", "",
           f"Events seeded with pre-built bulk bodies (`bench/bigscale.py`) over {big['days']} daily indices of every "
           f"class; one enterprise tenant (`{big['tenant']}`) holds every tenth copy. Each read through the query "
           "layer against the raw Elasticsearch call it wraps: median (p95) ms.", "",
           "| read | " + " | ".join(f"{n:,} layer | {n:,} raw" for n in sizes) + " |",
           "|---|" + "---:|---:|" * len(sizes)]

    def cell(v: dict[str, float]) -> str:
        return f"{v['median_ms']:.0f} ({v['p95_ms']:.0f})"

    for key, label in _BIG_READS:
        out.append(f"| {label} | " + " | ".join(f"{cell(r[key]['layer'])} | {cell(r[key]['raw'])}" for r in rows)
                   + " |")
    out += ["", "| events | new event visible in live tail | tenant slice rows | `auditlog export` s | raw scan s "
            "| export peak RSS | primary store bytes / event |", "|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append(f"| {r['events']:,} | {r['live_visibility_s']:.2f} s | {r['tenant_slice']:,} | "
                   f"{r['export']['seconds']:.1f} | {r['export_raw']['seconds']:.1f} | "
                   f"{r['export']['peak_rss_bytes'] / MIB:.0f} MiB | {_f(r.get('store_bytes_per_event'))} |")
    largest = rows[-1]
    out += ["", f"Growth from {sizes[0]:,} to {sizes[-1]:,} events (log-log slope; flat < 0.25, linear ~ 1):", ""]
    for key, label in _BIG_READS:
        out.append(f"- {label}: {growth(sizes, [r[key]['layer']['median_ms'] for r in rows])}")
    out += ["", f"Targets at {largest['events']:,} events:", ""]
    for key, limit in big["targets_ms"].items():
        p95 = largest[key]["layer"]["p95_ms"]
        out.append(f"- {key.replace('_', ' ')} <= {limit:.0f} ms p95: {p95:.0f} ms ({p95 / limit:.2f}x the limit), "
                   f"{_verdict(p95 <= limit)}")
    export_s = largest["export"]["seconds"] * 1_000_000 / max(largest["tenant_slice"], 1)
    out.append(f"- export of 1M rows <= 60 s: {export_s:.0f} s per 1M rows (from the tenant slice), "
               f"{_verdict(export_s <= 60)}")
    return [*out, ""]


def _stall_when(r: dict[str, Any]) -> str:
    began = r.get("stall_began_after_kill_s")
    if began is None:
        return ""
    return f" (from {began} s after the kill)" if began >= 0 else f" ({-began} s before the kill)"


def _node_loss_section(results: dict[str, Any], h: str) -> list[str]:
    loss = results.get("nodeloss")
    if not loss or "result" not in loss:
        return []
    p, r = loss["params"], loss["result"]
    replicas = ", ".join(f"{cls} {n}" for cls, n in r["replicas"].items())
    out = [f"{h} Node loss (three-node cluster)", "",
           f"A local three-node cluster (`auditlog es start --nodes 3`'s code, 512 MB heap per node, started in "
           f"{loss.get('cluster_start_s', '?')} s), replicas chosen by `auditlog setup` ({replicas}); the agent, given "
           f"all three URLs, ships {p['events']:,} events written at a steady {p['rate']:,}/s. After a third of the "
           f"lines the node holding the most started primaries ({r['killed_node']}, "
           f"{r['primaries_before'].get(r['killed_node'], 0)} primaries) is SIGKILLed, restarted after "
           f"{p['down_s']:.0f} s and rejoins; while it is down the TUI's first page and facets and an `auditlog "
           "export` of one tenant run through the three URLs (`bench/node_loss.py`). Delivered = the agent's "
           "201 + 409 counts; lost / duplicated from a full scan of every `event.id`.", "",
           "| written | documents | lost | duplicated | dead letters | items re-sent / answered 409 | node down (kill "
           "to rejoined) | longest stall, whole run | longest stall from the kill on | catch-up after the last line |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
           f"| {r['written']:,} | {r['documents']:,} | {r['lost']:,} | {r['duplicated']:,} | {r['dead_letters']:,} | "
           f"{r.get('items_retried', 0):,} / {r.get('duplicates_answered', 0):,} | {r['node_down_s']} s | "
           f"{r['longest_stall_s']} s{_stall_when(r)} | {r.get('longest_stall_after_kill_s', '-')} s | "
           f"{r['catch_up_s']} s |", "",
           "| read while the node is down | answered | time |", "|---|---|---:|"]
    for probe in r["probes"]:
        answer = "yes" if probe["ok"] else f"**no**: {probe['detail'][:120]}"
        out.append(f"| {probe['what']} | {answer} | {probe['seconds']:.2f} s |")
    if r.get("note"):
        out += ["", f"Note: {r['note'][:300]}"]
    return [*out, ""]


def render(results: dict[str, Any], level: int = 2) -> str:
    """Return the Markdown tables of one run (``level`` = heading depth of the sections)."""
    h = "#" * level
    m, v, s = results["machine"], results["versions"], results["settings"]
    out = [
        f"{h} Machine and versions", "",
        f"Run {results['started']} ({results['mode']}, {results.get('duration_s', '?')} s, "
        f"`python -m bench {' '.join(results['argv'])}`) on {m['cores']} cores "
        f"({m['cores_usable']} usable), {m['memory_bytes'] / 2**30:.1f} GiB RAM, {m['cpu_model']}, "
        f"Linux {m['kernel']}, load at start {m['load_at_start'][0]}.", "",
        f"Elasticsearch: {s.get('es', 'not used')}; indices mapped by the product's templates "
        "(`indexer.setup.install_templates`), one fresh prefix per measured run.", "",
        "| component | version |", "|---|---|",
        *[f"| {k} | {val} |" for k, val in v.items()], "",
    ]
    if results.get("interrupted"):
        out += ["**This run was interrupted; only the parts below were measured.**", ""]
    for name, error in results.get("errors", {}).items():
        out += [f"- {name} benchmark failed: `{error}`"]
    if results.get("errors"):
        out.append("")
    for section in (_ingest_section, _reliability_section, _node_loss_section, _scale_section, _bigscale_section,
                    _emitter_section, _tui_section):
        out += section(results, h)
    return "\n".join(out).rstrip() + "\n"


def plot(results: dict[str, Any], path: Path) -> bool:
    """Draw throughput and latency against input size into ``path`` (PNG); False when there is nothing to plot."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    summaries = results.get("ingest") or []
    rows = (results.get("scale") or {}).get("rows") or []
    if not summaries and not rows:
        return False
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    shippers = list(dict.fromkeys(s["shipper"] for s in summaries))
    for name in shippers:
        pts = [(s["events"], s["median"]["events_per_s"]) for s in summaries
               if s["shipper"] == name and s["median"]["events_per_s"]]
        if pts:
            axes[0].plot(*zip(*pts, strict=True), marker="o", label=name)
    axes[0].set(title="Ingest until searchable", xlabel="events", ylabel="events / s", xscale="log")
    sizes = [r["events"] for r in rows]
    for key, label in (("first_page_raw_all", "raw _search"), ("first_page_layer_all", "query layer"),
                       ("first_page_raw_tenant", "raw, one tenant"), ("first_page_layer_tenant", "layer, one tenant")):
        pts = [(n, r[key]["p95_ms"]) for n, r in zip(sizes, rows, strict=True) if key in r]
        if pts:
            axes[1].plot(*zip(*pts, strict=True), marker="o", label=label)
    axes[1].set(title="First page (p95)", xlabel="events stored", ylabel="ms", xscale="log")
    for key, label in (("export_raw", "raw PIT scan"), ("export", "xlsx export")):
        pts = [(n, r[key]["seconds"]) for n, r in zip(sizes, rows, strict=True) if key in r]
        if pts:
            axes[2].plot(*zip(*pts, strict=True), marker="o", label=label)
    axes[2].set(title="Export every event", xlabel="events stored", ylabel="seconds", xscale="log", yscale="log")
    for ax in axes:
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.suptitle(f"auditlog benchmarks {results['started'][:10]} ({results['mode']}, "
                 f"{results['machine']['cores']} cores)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


_DOCS_INTRO = """# Benchmarks

Numbers measured side by side in one run, on one machine, against one Elasticsearch node (the node-loss
scenario: a three-node cluster of its own). Run them with `make bench` (= `python -m bench`: 10k / 100k / 1M
events, every benchmark, about 25-35 minutes on 2 cores) or `python -m bench --quick` (20k events, a few
minutes). Options: `--only ingest,reliability,nodeloss,scale,bigscale,emitter,tui`, `--size N`, `--repeat N`,
`--repeat-largest N`, `--batch-size N`; `AUDITLOG_BENCH_ES_URL` uses an existing node instead of starting a
dedicated one. Every ratio is against a baseline measured in the same run.

How each number is taken (code in `bench/`):

- **Events** (`events.py`): fabricated by `auditlog.demo.data` (every tier, the seed's sources and types, Raw
  changes and Meta) and written through the product's emitter, as an application writes them; the agent
  ships such lines on its pass-through (`agent/fastpath.py`), and the in-process line cost of lines from
  other producers (full path) is measured beside the emitter (`stage_cost.py`).
- **Ingest** (`ingest.py`): a fresh index prefix with the product's templates per measured run; the clock
  stops when `_count` after `_refresh` equals the number of lines, polled once the indices' statistics show
  them all indexed (no refresh is forced while a shipper writes, as none is while the ceiling posts;
  section 19). Contenders: the *ceiling* (pre-built
  `_bulk` bodies posted straight to the node with urllib3, the physical limit of this node; a second one
  posts the documents the agent's own code makes of the same lines, ECS fields added), the *auditlog
  agent* (`auditlog agent --config`, started first on an empty folder, then the complete file is renamed in, so
  interpreter start-up is neither timed nor counted), *rsyslog* `imfile` + `omelasticsearch` from Debian's
  packages as a separate `rsyslogd -n` instance (bulk mode, JSON pass-through, `create` with `event.id` as bulk
  id, per-class daily indices, bounded queues with imfile flow control, retry of failed items; the reasoning
  is in `shippers/rsyslog.py`), *syslog-ng* (Debian's `syslog-ng-core` + `syslog-ng-mod-http`: `wildcard-file`,
  `json-parser` for routing only, the `http()` destination with `create` actions and `event.id` as id, flow
  control; `shippers/syslog_ng.py`), *Filebeat* built from the Go module proxy with a two-place handshake patch
  for the test distribution's missing `GET /` (`filebeat_build.py`; `filestream` + `ndjson` into the root,
  `copy_fields` of `event.id` to `@metadata._id`, per-class daily indices, its `throughput` preset and its
  default; `shippers/filebeat.py`), and a *naive* `helpers.streaming_bulk` reader (timed from its start). Every
  contender uses the same batch size. CPU and peak RSS (`VmHWM`) of the shipper process come from `/proc`;
  "ES CPU" is what the node spent for the same events.
- **Reliability** (`reliability.py`): events are appended at a steady rate while the shipper runs; kill -9s,
  an outage staged by a proxy that refuses/resets connections, rename+create and copytruncate rotations, and
  copytruncate while the events cross the next UTC midnight (both days' indices created ahead, as production
  does); afterwards every `event.id` in Elasticsearch is compared with the lines written.
- **Node loss** (`node_loss.py`): a three-node cluster of its own; the agent ships at a steady rate while the
  node with the most primaries is SIGKILLed and later restarted; lists, facets and an export run while it is down.
- **Scale** (`scale.py`): first page (100 rows + exact total) through the query layer vs one plain `_search`;
  export of every event with `auditlog export` (own process, wall time, peak RSS) vs a plain point-in-time scan;
  the growth label comes from the log-log slope between the smallest and largest size.
- **Emitter** (`emitter_cost.py`): the same per-call inputs through `agent.emitter` and through stdlib
  `logging` + `json.dumps` writing the same nested line.
- **TUI** (`tui_pilot.py`): the real app headless (`run_test()`), timed to the painted frame.

A part that did not exist at run time is shown as "not available yet", never estimated; a target that is
missed says **missed** with the measured ratio. Raw records: `bench/results/*.json` (re-render this page with
`python -m bench.report bench/results/<file>.json`).

Latest run: `{source}`.

![throughput and latency against input size](benchmarks.png)

"""


#: docs/benchmarks.md from this line on is written by hand (measurements outside ``python -m bench``); kept.
HAND_WRITTEN = "<!-- written by hand from here on: python -m bench keeps this part of the page -->"


def hand_written_tail(page: Path) -> str:
    """Return the hand-written end of an existing docs page (from :data:`HAND_WRITTEN` on), or ``""``."""
    if not page.is_file():
        return ""
    text = page.read_text(encoding="utf-8")
    start = text.find(HAND_WRITTEN)
    return "" if start < 0 else "\n" + text[start:]


def write_outputs(results: dict[str, Any], *, results_dir: Path, docs_dir: Path | None, repo: Path) -> list[Path]:
    """Write the results JSON + Markdown and, unless ``docs_dir`` is None, the docs page and plot.

    Returns:
        The files written.
    """
    results_dir.mkdir(parents=True, exist_ok=True)
    stem = results["started"][:10] + ("-quick" if results["mode"] == "quick" else "")
    json_path, md_path = results_dir / f"{stem}.json", results_dir / f"{stem}.md"
    json_path.write_text(json.dumps(results, indent=1, default=str) + "\n")
    md_path.write_text(f"# Benchmark results {results['started']} ({results['mode']})\n\n" + render(results))
    written = [json_path, md_path]
    if docs_dir is not None:
        png = docs_dir / "benchmarks.png"
        has_plot = plot(results, png)
        intro = _DOCS_INTRO.format(source=md_path.relative_to(repo) if md_path.is_relative_to(repo) else md_path)
        if not has_plot:
            intro = intro.replace("![throughput and latency against input size](benchmarks.png)\n",
                                  "(plot not drawn: matplotlib missing, `pip install -e '.[bench]'`)\n")
        page = docs_dir / "benchmarks.md"
        page.write_text(intro + render(results, level=2) + hand_written_tail(page))
        written += [page] + ([png] if has_plot else [])
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Re-render the docs page and plot from a results JSON file."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m bench.report bench/results/<file>.json", file=sys.stderr)
        return 2
    repo = Path(__file__).resolve().parents[1]
    try:
        results = json.loads(Path(args[0]).read_text())
    except (OSError, ValueError) as exc:
        print(f"python -m bench.report: {args[0]}: not a readable results file ({exc})", file=sys.stderr)
        return 2
    for path in write_outputs(results, results_dir=Path(args[0]).parent, docs_dir=repo / "docs", repo=repo):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
