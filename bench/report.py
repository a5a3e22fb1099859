"""Summaries, targets and the three outputs: results JSON, RESULTS.md and a chart."""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path
from typing import Any

# Display names, in the order tables and the chart show them.
METHOD_LABELS = {
    "lightning": "Lightning (plan + diff + delta read)",
    "lower_bound": "Lower bound (copy + key join)",
    "basic": "Basic (app-side diff in Python)",
    "reladiff": "reladiff joindiff",
}
PLAN_METHODS = list(METHOD_LABELS)
# The issue's memory target on PostgreSQL: the engine's Python process, at any N.
POSTGRES_RSS_LIMIT_MIB = 300
BARE_CLIENTS = {"httpx": "bare httpx loop", "httpx_aiohttp": "bare httpx loop, aiohttp transport"}
COLORS = {
    "lightning": "tab:blue",
    "lower_bound": "tab:gray",
    "basic": "tab:orange",
    "reladiff": "tab:green",
}


def summarize(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians of a method's successful samples (time, phases, peak RSS)."""
    ok = [s for s in samples if "error" not in s]
    summary: dict[str, Any] = {"runs": len(samples), "ok": len(ok)}
    errors = sorted({s["error"] for s in samples if "error" in s})
    if errors:
        summary["errors"] = errors
    if not ok:
        return summary
    key = "total_s" if "total_s" in ok[0] else "seconds"
    summary[key] = statistics.median(s[key] for s in ok)
    if "rows_per_s" in ok[0]:
        summary["rows_per_s"] = statistics.median(s["rows_per_s"] for s in ok)
    phases: dict[str, list[float]] = {}
    for s in ok:
        for name, value in (s.get("phases") or {}).items():
            phases.setdefault(name, []).append(float(value))
    if phases:
        summary["phases"] = {k: statistics.median(v) for k, v in phases.items()}
    # The child's own VmHWM: a figure from ru_maxrss can include the parent's RSS at fork.
    rss = [float(s.get("child_peak_rss_mb", s.get("peak_rss_mb", 0.0))) for s in ok]
    summary["peak_rss_mb_median"] = statistics.median(rss)
    summary["peak_rss_mb_max"] = max(rss)
    deltas = {s["delta_rows"] for s in ok if "delta_rows" in s}
    if deltas:
        summary["delta_rows"] = sorted(deltas)
    return summary


def memory_limit_mib(text: str) -> float | None:
    """A DuckDB memory limit such as ``1GB`` or ``512MiB`` in MiB, None if unparsable."""
    m = re.fullmatch(r"\s*([\d.]+)\s*([KMGT]?I?B)\s*", text.upper())
    if not m:
        return None
    value, unit = float(m.group(1)), m.group(2)
    powers = {"B": 0, "KB": 1, "MB": 2, "GB": 3, "TB": 4}
    if unit.endswith("IB"):
        return value * 1024 ** powers[unit.replace("I", "")] / 2**20
    return value * 1000 ** powers[unit] / 2**20


def _check(name: str, measured: float | None, limit: str, passed: bool | None) -> dict:
    return {"target": name, "measured": measured, "limit": limit, "pass": passed}


def _ratio(num: float | None, den: float | None) -> float | None:
    return num / den if num and den else None


def _at_most(value: float | None, limit: float) -> bool | None:
    return None if value is None else value <= limit


def _at_least(value: float | None, limit: float) -> bool | None:
    return None if value is None else value >= limit


def _engine_memory_limit(results: dict[str, Any], summary: dict[str, Any]) -> float | None:
    """The DuckDB limit the engine ran with: its own report, else the one it was given."""
    reported: list[float] = []
    for sample in summary.get("samples", []):
        if isinstance(sample.get("memory_limit_mb"), int | float):
            reported.append(float(sample["memory_limit_mb"]))
        elif isinstance(sample.get("memory_limit"), str):
            mib = memory_limit_mib(sample["memory_limit"])
            if mib is not None:
                reported.append(mib)
    if reported:
        return max(reported)
    limit = results["settings"].get("lightning_memory_limit_mib")
    return float(limit) if limit else None


def targets(results: dict[str, Any]) -> dict[str, Any]:
    """The issue's targets: plan ones at the largest N measured on DuckDB, and delivery."""
    runs = results.get("duckdb", {})
    checks: list[dict[str, Any]] = []
    n = max(runs, key=int) if runs else None
    if n is not None:
        med = {m: s.get("total_s") for m, s in runs[n]["methods"].items()}
        light = med.get("lightning")
        vs_lower = _ratio(light, med.get("lower_bound"))
        vs_basic = _ratio(med.get("basic"), light)
        vs_reladiff = _ratio(med.get("reladiff"), light)
        checks += [
            _check("Lightning total / lower bound", vs_lower, "<= 2", _at_most(vs_lower, 2)),
            _check("Basic / Lightning", vs_basic, ">= 10", _at_least(vs_basic, 10)),
            _check(
                "reladiff joindiff / Lightning", vs_reladiff, ">= 10", _at_least(vs_reladiff, 10)
            ),
        ]
        summary = runs[n]["methods"].get("lightning", {})
        limit = _engine_memory_limit(results, summary)
        rss = summary.get("peak_rss_mb_max")
        checks.append(
            _check(
                "Lightning peak RSS (MiB, max of runs)",
                rss,
                f"< {limit:.0f} + 300 (DuckDB limit + 300)" if limit else "< DuckDB limit + 300",
                _at_most(rss, limit + 300 - 1e-9) if limit else None,
            )
        )
        phases = summary.get("phases") or {}
        warehouse = sum(float(phases.get(p, 0.0)) for p in ("stage", "plan", "keys", "diff"))
        logs = phases.get("audit_logs")
        growth = _ratio(logs, warehouse) if logs is not None and warehouse else None
        checks.append(
            _check(
                "Sync logs (changelog + runs) / warehouse time of stage, plan, keys and diff",
                growth,
                "<= 0.15",
                _at_most(growth, 0.15),
            )
        )
    pg_runs = results.get("postgres") or {}
    if pg_runs:
        rss = [
            run["methods"]["lightning"]["peak_rss_mb_max"]
            for run in pg_runs.values()
            if run["methods"].get("lightning", {}).get("peak_rss_mb_max") is not None
        ]
        peak = max(rss) if rss else None
        checks.append(
            _check(
                "PostgreSQL: Lightning peak RSS (MiB, max of runs, any N)",
                peak,
                f"< {POSTGRES_RSS_LIMIT_MIB}",
                None if peak is None else peak < POSTGRES_RSS_LIMIT_MIB,
            )
        )
    for case in results.get("delivery", {}).get("cases", []):
        ratio = _ratio(case.get("lightning", {}).get("rows_per_s"), best_bare_rate(case))
        checks.append(
            _check(
                f"Delivery batch {case['batch_size']}: Lightning / fastest bare httpx loop",
                ratio,
                ">= 0.8",
                _at_least(ratio, 0.8),
            )
        )
    return {"n": int(n) if n is not None else None, "checks": checks}


def best_bare_rate(case: dict[str, Any]) -> float | None:
    """The faster bare loop's rate (httpx's own transport or the aiohttp one)."""
    rates = [case.get(c, {}).get("rows_per_s") for c in BARE_CLIENTS]
    known = [r for r in rates if r]
    return max(known) if known else None


def write_json(results: dict[str, Any], path: Path) -> None:
    """The full results, samples included."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, sort_keys=False) + "\n")


def _fmt_s(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def _fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _verdict(passed: bool | None) -> str:
    return {True: "pass", False: "FAIL", None: "n/a"}[passed]


def _method_table(run: dict[str, Any]) -> list[str]:
    """One N's table: per method the median time, phases, peak RSS, delta rows, ratio."""
    light = run["methods"].get("lightning", {}).get("total_s")
    lines = [
        "| method | median s | phases (median s) | peak RSS MiB | delta rows "
        "| method / Lightning |",
        "|---|---|---|---|---|---|",
    ]
    for method in PLAN_METHODS:
        summary = run["methods"].get(method)
        if summary is None:
            continue
        if summary.get("ok", 0) == 0:
            err = "; ".join(summary.get("errors", ["not run"]))
            lines.append(f"| {METHOD_LABELS[method]} | error: {err} | | | | |")
            continue
        phases = ", ".join(f"{k} {_fmt_s(v)}" for k, v in summary.get("phases", {}).items())
        total = summary["total_s"]
        ratio = total / light if light and method != "lightning" else None
        delta = "/".join(f"{d:,}" for d in summary.get("delta_rows", []))
        lines.append(
            f"| {METHOD_LABELS[method]} | {_fmt_s(total)} | {phases or '-'} | "
            f"{summary['peak_rss_mb_max']:.0f} | {delta} | {_fmt_ratio(ratio)} |"
        )
    lines.append("")
    return lines


def markdown(results: dict[str, Any], command: str, chart_path: str) -> str:
    """RESULTS.md: machine, targets, one table per N, delivery, notes."""
    m = results["machine"]
    s = results["settings"]
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {m['cores']} cores ({m['cpu_model']}), {m['memory_gib']} GiB memory, "
        f"{m['os']}. Python {m['python']}, DuckDB {m['versions'].get('duckdb')}, "
        f"pyarrow {m['versions'].get('pyarrow')}, httpx {m['versions'].get('httpx')}, "
        f"reladiff {m['versions'].get('reladiff')}. Run {m['date_utc']} UTC at commit "
        f"`{m.get('commit')}`. 1-minute load average at start/end: "
        f"{results.get('load_average_1m', {}).get('start', 0):.1f}/"
        f"{results.get('load_average_1m', {}).get('end', 0):.1f}.",
        "",
        f"Command: `{command}`. Median of {s['repeats']} run(s) per method, each run in its "
        "own process; peak RSS is that process's own (MiB). Model: key + 8 mapped columns "
        "(integer, bigint, three 20-40 character strings, timestamp, nullable double, "
        "boolean) + 3 unmapped; 1% changed, 0.5% removed, 0.5% added, 0.1% earlier "
        "rejections retried. Lightning's DuckDB memory limit: "
        f"{s.get('lightning_memory_limit')}; the other methods run with DuckDB's defaults.",
        "",
    ]
    server = results.get("postgres_server")
    if results.get("postgres") and server:
        conf = server.get("settings", {})
        lines += [
            f"PostgreSQL {conf.get('server_version')}, {server.get('source')} on the same "
            f"machine: shared_buffers {conf.get('shared_buffers')}, work_mem "
            f"{conf.get('work_mem')}, max_parallel_workers_per_gather "
            f"{conf.get('max_parallel_workers_per_gather')}, fsync {conf.get('fsync')}. "
            "The same data as on DuckDB, loaded with COPY (no keys or indexes, VACUUM "
            "ANALYZE); Lightning runs on its own copy of the database. Peak RSS is the "
            "Python process's own (the server's memory is not in it).",
            "",
        ]
    t = results.get("targets", {})
    if t.get("checks"):
        if t["n"] is None:
            title = "## Targets"
        elif t["n"] == 10_000_000:
            title = "## Targets (DuckDB, N = 10,000,000)"
        else:
            title = f"## Targets (DuckDB, N = {t['n']:,}; the targets are set for N = 10,000,000)"
        lines += [title, "", "| target | measured | limit | result |", "|---|---|---|---|"]
        for c in t["checks"]:
            measured = "-" if c["measured"] is None else f"{c['measured']:.2f}"
            lines.append(f"| {c['target']} | {measured} | {c['limit']} | {_verdict(c['pass'])} |")
        lines.append("")
    for n, run in sorted(results.get("duckdb", {}).items(), key=lambda kv: int(kv[0])):
        lines += [
            f"## DuckDB, N = {int(n):,}",
            "",
            f"Data: generated in {run['dataset'].get('generate_s')} s (or cached), "
            f"{run['dataset'].get('file_mb')} MB file; expected delta "
            f"{run['dataset']['expected']['total']:,} rows "
            f"({run['dataset']['expected']['retried']:,} of them retried rejections).",
            "",
            *_method_table(run),
        ]
    for n, run in sorted(results.get("postgres", {}).items(), key=lambda kv: int(kv[0])):
        data = run["dataset"]
        cached = " (cached in the database from an earlier run)" if data.get("load_cached") else ""
        lines += [
            f"## PostgreSQL, N = {int(n):,}",
            "",
            f"Data: database `{data.get('postgres_database')}`, loaded in "
            f"{data.get('load_s')} s{cached}; expected delta {data['expected']['total']:,} "
            f"rows ({data['expected']['retried']:,} of them retried rejections).",
            "",
            *_method_table(run),
        ]
    d = results.get("delivery")
    if d and d.get("cases"):
        lines += [
            f"## Delivery: {d['rows']:,} rows to a local HTTP sink ({d['sink']}, own process)",
            "",
            "The bare loops send the engine's requests with nothing around them: on httpx's "
            "own transport (httpcore's pool) and on the aiohttp transport the engine's HTTP "
            "client uses. The target compares Lightning with the faster of the two.",
            "",
            "| batch size | concurrency | bare httpx rows/s | bare httpx + aiohttp transport "
            "rows/s | Lightning rows/s | Lightning / fastest bare |",
            "|---|---|---|---|---|---|",
        ]

        def rate(value: float | None) -> str:
            return f"{value:,.0f}" if value else "-"

        for case in d["cases"]:
            engine = case.get("lightning", {}).get("rows_per_s")
            best = best_bare_rate(case)
            lines.append(
                f"| {case['batch_size']} | {case['concurrency']} | "
                f"{rate(case.get('httpx', {}).get('rows_per_s'))} | "
                f"{rate(case.get('httpx_aiohttp', {}).get('rows_per_s'))} | {rate(engine)} | "
                f"{_fmt_ratio(engine / best if engine and best else None)} |"
            )
        lines.append("")
    if results.get("notes"):
        lines += ["## Notes", ""] + [f"- {note}" for note in results["notes"]] + [""]
    lines += [f"![time against N]({chart_path})", ""]
    return "\n".join(lines)


def chart(results: dict[str, Any], path: Path) -> None:
    """Time against N (log-log, one line per method) and delivery rates beside it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = results.get("duckdb", {})
    pg_runs = results.get("postgres") or {}
    cases = results.get("delivery", {}).get("cases", [])
    draw_duckdb = bool(runs) or not (cases or pg_runs)
    panels = int(draw_duckdb) + int(bool(pg_runs)) + int(bool(cases))
    fig, axes = plt.subplots(1, panels, figsize=(6.5 * panels, 5.5), squeeze=False)
    next_panel = iter(axes[0])
    if draw_duckdb:
        _time_panel(next(next_panel), runs)
    if pg_runs:
        _time_panel(next(next_panel), pg_runs, "PostgreSQL")
    if cases:
        _delivery_panel(next(next_panel), cases, results["delivery"]["rows"])
    m = results["machine"]
    postgres = ""
    if pg_runs and results.get("postgres_server"):
        version = results["postgres_server"]["settings"].get("server_version", "")
        postgres = f", PostgreSQL {version.split()[0] if version else '?'}"
    fig.suptitle(
        f"{m['cores']} cores, {m['memory_gib']} GiB, DuckDB "
        f"{m['versions'].get('duckdb')}{postgres}, median of "
        f"{results['settings']['repeats']} run(s)",
        fontsize=10,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _time_panel(ax: Any, runs: dict[str, Any], warehouse: str = "DuckDB") -> None:
    """Median time against N, log-log, one line per method."""
    styles = {"lightning": "o-", "lower_bound": "s--", "basic": "^-", "reladiff": "d-"}
    for method in PLAN_METHODS:
        points = sorted(
            (int(n), run["methods"][method]["total_s"])
            for n, run in runs.items()
            if run["methods"].get(method, {}).get("total_s") is not None
        )
        if points:
            xs, ys = zip(*points, strict=True)
            ax.plot(
                xs,
                ys,
                styles[method],
                color=COLORS[method],
                label=METHOD_LABELS[method],
                linewidth=2,
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("rows in the model (N)")
    ax.set_ylabel("median seconds (log scale)")
    ax.set_title(f"{warehouse}: time to find the delta")
    ax.grid(True, which="both", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=9)


def _delivery_panel(ax2: Any, cases: list[dict[str, Any]], rows: int) -> None:
    """Delivery rates, bare httpx loop beside the engine, per batch size."""
    labels = [f"batch {c['batch_size']}\n(concurrency {c['concurrency']})" for c in cases]
    series = [(c, label) for c, label in BARE_CLIENTS.items() if any(c in k for k in cases)]
    if any("lightning" in k for k in cases):
        series.append(("lightning", "Lightning"))
    width = 0.8 / max(1, len(series))
    pos = list(range(len(cases)))
    colors = {"httpx": "tab:gray", "httpx_aiohttp": "silver", "lightning": COLORS["lightning"]}
    for i, (client, label) in enumerate(series):
        values = [c.get(client, {}).get("rows_per_s") or 0 for c in cases]
        offset = (i - (len(series) - 1) / 2) * width
        bars = ax2.bar([x + offset for x in pos], values, width, label=label, color=colors[client])
        ax2.bar_label(bars, fmt="{:,.0f}", fontsize=8)
    ax2.set_xticks(pos, labels)
    ax2.set_yscale("log")
    ax2.set_ylabel("rows per second (log scale)")
    ax2.set_title(f"Delivery of {rows:,} rows to a local sink")
    ax2.grid(True, axis="y", alpha=0.3)
    ax2.legend(fontsize=9)
