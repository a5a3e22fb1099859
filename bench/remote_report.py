"""Outputs of ``python -m bench.remote``: remote.json, remote.png and its RESULTS.md section."""

from __future__ import annotations

import os
import statistics
from pathlib import Path
from typing import Any

from bench import report, sections

LABELS = {
    "lightning": "Lightning (plan + diff + delta read)",
    "basic": "Basic (app-side diff in Python)",
}
PROFILE_LABELS = {
    "loopback": "loopback (veth, no cap, no proxy)",
    "1gbit_2ms": "1 Gbit/s + 2 ms RTT",
    "100mbit_20ms": "100 Mbit/s + 20 ms RTT",
}
FIGURES = (
    "total_s",
    "process_wall_s",
    "client_rx_bytes",
    "client_tx_bytes",
    "statements",
    "server_exec_s",
    "server_cpu_s",
    "client_cpu_s",
    "proxy_cpu_s",
)
# The targets at N = 1M: (profile, figure, at least basic / Lightning).
TARGET_N = "1000000"
TARGETS = (
    ("100mbit_20ms", "total_s", 5.0),
    ("1gbit_2ms", "total_s", 2.0),
    ("100mbit_20ms", "client_rx_bytes", 40.0),
)


def summarize(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians of each figure over the successful runs."""
    ok = [s for s in samples if "error" not in s]
    summary: dict[str, Any] = {"runs": len(samples), "ok": len(ok)}
    if ok:
        for name in FIGURES:
            summary[name] = statistics.median(float(s[name]) for s in ok)
        summary["delta_rows"] = statistics.median(int(s["delta_rows"]) for s in ok)
        phases = {p for s in ok for p in s.get("phases", {})}
        summary["phases"] = {
            p: statistics.median(float(s["phases"].get(p, 0.0)) for s in ok) for p in phases
        }
    return summary


def _ratio(summaries: dict[str, Any], figure: str) -> float | None:
    basic, light = summaries.get("basic", {}), summaries.get("lightning", {})
    if figure not in basic or not light.get(figure):
        return None
    return float(basic[figure]) / float(light[figure])


def summaries(results: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """N -> profile -> method -> medians, plus ``ratios`` (basic / Lightning)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for n, run in results["runs"].items():
        out[n] = {}
        for profile, by_method in run["samples"].items():
            summary = {m: summarize(s) for m, s in by_method.items()}
            summary["ratios"] = {
                f: _ratio(summary, f) for f in ("total_s", "client_rx_bytes", "client_tx_bytes")
            }
            out[n][profile] = summary
    return out


def targets(summary: dict[str, Any], rtt_ms: dict[str, float]) -> list[dict[str, Any]]:
    checks = []
    for profile, figure, limit in TARGETS:
        found = summary.get(TARGET_N, {}).get(profile, {})
        ratio = found.get("ratios", {}).get(figure)
        what = "time" if figure == "total_s" else "bytes out of the warehouse"
        check = {
            "target": f"N=1M, {PROFILE_LABELS[profile]}: basic / Lightning {what} >= {limit:g}x",
            "measured": None if ratio is None else round(ratio, 2),
            "verdict": "n/a" if ratio is None else ("pass" if ratio >= limit else "FAIL"),
        }
        if ratio is not None:
            local = summary[TARGET_N].get("loopback", {}).get("lightning", {})
            check["bound"] = _bound(found, figure, limit, rtt_ms[profile], local)
        checks.append(check)
    return checks


def _bound(
    found: dict[str, Any], figure: str, limit: float, rtt_ms: float, local: dict[str, Any]
) -> str:
    """What the target leaves Lightning and what its measured figures need of it.

    ``local`` is Lightning at the same N on the loopback profile (may be empty)."""
    light, basic = found["lightning"], found["basic"]
    if figure == "total_s":
        text = f"the target leaves Lightning {basic['total_s'] / limit:.2f} s; "
        if local.get("phases"):
            warehouse = sum(local["phases"].get(p, 0.0) for p in ("plan", "keys", "diff"))
            text += f"its plan, key check and diff alone took {warehouse:.2f} s on loopback, "
        return text + (
            f"{light['server_cpu_s']:.2f} s of server CPU here, and its "
            f"{light['statements']:.0f} statements' round trips take at least "
            f"{light['statements'] * rtt_ms / 1000:.2f} s"
        )
    per_delta = light["client_rx_bytes"] / max(light["delta_rows"], 1)
    return (
        f"the target leaves Lightning {basic['client_rx_bytes'] / limit / 1e6:.2f} MB, "
        f"{basic['client_rx_bytes'] / limit / max(light['delta_rows'], 1):.0f} bytes per "
        f"delta row; it read {per_delta:.0f} (each row's mapped values as JSON texts, "
        "joined; the field names are written by Python)"
    )


def _mb(value: float) -> str:
    return f"{value / 1e6:,.2f}"


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _per_row_and_phases(n: str, by_profile: dict[str, Any]) -> list[str]:
    """Bytes in per row (Lightning: per delta row; basic: per model row) and Lightning's
    phases per profile."""
    lines = []
    for profile, summary in by_profile.items():
        light, basic = summary.get("lightning", {}), summary.get("basic", {})
        if not light.get("ok") or not basic.get("ok"):
            continue
        per_delta = light["client_rx_bytes"] / max(light["delta_rows"], 1)
        per_model = basic["client_rx_bytes"] / int(n)
        phases = ", ".join(
            f"{p} {light['phases'][p]:.2f}"
            for p in ("connect", "plan", "keys", "diff", "stream")
            if p in light["phases"]
        )
        lines.append(
            f"- {PROFILE_LABELS[profile]}: bytes in per row: Lightning {per_delta:,.0f} per "
            f"delta row ({light['delta_rows']:,.0f} rows), basic {per_model:,.0f} per model "
            f"row; Lightning's phases (median s): {phases}."
        )
    return lines


def markdown(results: dict[str, Any], command: str, chart: str) -> str:
    m = results["machine"]
    load = results["load_average_1m"]
    lines = [
        sections.REMOTE[0],
        "## The warehouse across a network link (PostgreSQL, Lightning against the app-side "
        "diff)",
        "",
        f"Command: `{command}` (root). Run {m['date_utc']} UTC at commit `{m.get('commit')}`, "
        f"{m['cores']} cores shared with other work (1-minute load average {load['start']:.1f}"
        f" at the start, {load['end']:.1f} at the end): ratios come from the same run, "
        f"interleaved (every round runs each profile, each method), medians of "
        f"{results['settings']['repeats']}. PostgreSQL "
        f"{results['server']['settings'].get('server_version')} in a network namespace of "
        "its own, the client across a veth pair; bandwidth capped with `tbf` on both ends, "
        "round trips added by `bench/latency_proxy.py` in the warehouse's namespace "
        "(`loopback`: the same veth, no cap, no proxy). See bench/README.md.",
        "",
        "The link as delivered (`SELECT 1` round trip, median of 20; one 8 MB read):",
        "",
        "| profile | SELECT 1 median ms | min ms | bulk read Mbit/s |",
        "|---|---|---|---|",
    ]
    for profile, link in results["link"]["profiles"].items():
        lines.append(
            f"| {PROFILE_LABELS[profile]} | {link['select1_ms_median']:.2f} | "
            f"{link['select1_ms_min']:.2f} | {link['bulk_read_mbit_s']:,.0f} |"
        )
    lines += [
        "",
        "Time: the method's own time (Lightning: connect, plan, key validation, diff and "
        "the delta read into Python; basic: load its saved state, read and hash the whole "
        "model, save the new state). Bytes: received (in: out of the warehouse) and sent "
        "(out) by the client's end of the veth during the whole client process. Statements: "
        "`pg_stat_statements` calls in the run's database (SET, BEGIN, FETCH ... included), "
        "for the whole process: Lightning's also include writing its sync logs (rolled "
        "back) and dropping its run tables, after its time stops. Server CPU: user + system "
        "seconds of the postmaster and all its processes (`/proc`); client CPU: the client "
        "process's rusage; proxy CPU is the latency proxy's. Statements x RTT: the statements "
        "times the profile's median `SELECT 1`, the time their round trips take at the least.",
        "",
    ]
    rtt_s = {
        p: link["select1_ms_median"] / 1000 for p, link in results["link"]["profiles"].items()
    }
    for n, by_profile in results["summary"].items():
        lines += [
            f"### N = {int(n):,}",
            "",
            "| profile | method | time s | MB in | MB out | statements | statements x RTT s "
            "| server CPU s | client CPU s | proxy CPU s | basic / Lightning (time, MB in) |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for profile, summary in by_profile.items():
            for method in ("lightning", "basic"):
                s = summary.get(method, {})
                if not s.get("ok"):
                    lines.append(f"| {PROFILE_LABELS[profile]} | {LABELS[method]} | failed "
                                 "| | | | | | | | |")  # fmt: skip
                    continue
                ratios = summary["ratios"]
                ratio = (
                    f"{_x(ratios['total_s'])}, {_x(ratios['client_rx_bytes'])}"
                    if method == "basic"
                    else ""
                )
                lines.append(
                    f"| {PROFILE_LABELS[profile]} | {LABELS[method]} | {s['total_s']:.2f} | "
                    f"{_mb(s['client_rx_bytes'])} | {_mb(s['client_tx_bytes'])} | "
                    f"{s['statements']:.0f} | {s['statements'] * rtt_s[profile]:.2f} | "
                    f"{s['server_cpu_s']:.2f} | {s['client_cpu_s']:.2f}"
                    f" | {s['proxy_cpu_s']:.2f} | {ratio} |"
                )
        lines += ["", *_per_row_and_phases(n, by_profile), ""]
    lines += ["Targets (issue: the remote link at N = 1M, 2% churn):", ""]
    lines += ["| target | measured | verdict | what bounds it |", "|---|---|---|---|"]
    for check in results["targets"]:
        measured = "-" if check["measured"] is None else f"{check['measured']:.2f}x"
        bound = check.get("bound", "")
        lines.append(f"| {check['target']} | {measured} | {check['verdict']} | {bound} |")
    lines += ["", f"![time against link profile]({chart})", ""]
    for text in results.get("problems", []):
        lines.append(f"- problem: {text}")
    lines.append(sections.REMOTE[1])
    return "\n".join(lines) + "\n"


def chart(results: dict[str, Any], path: Path) -> None:
    """Time against link profile, one bar per method, a panel per N."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = list(results["summary"])
    fig, axes = plt.subplots(1, len(sizes), figsize=(6 * len(sizes), 4.5), squeeze=False)
    for ax, n in zip(axes[0], sizes, strict=True):
        by_profile = results["summary"][n]
        profiles = list(by_profile)
        width = 0.38
        for i, method in enumerate(("lightning", "basic")):
            times = [by_profile[p].get(method, {}).get("total_s", 0.0) for p in profiles]
            xs = [x + (i - 0.5) * width for x in range(len(profiles))]
            bars = ax.bar(xs, times, width, label=LABELS[method],
                          color=report.COLORS[method])  # fmt: skip
            ax.bar_label(bars, fmt="%.1f", fontsize=8)
        ax.set_xticks(range(len(profiles)))
        ax.set_xticklabels([PROFILE_LABELS[p].split(" (")[0] for p in profiles], fontsize=8)
        ax.set_ylabel("seconds (median)")
        ax.set_title(f"PostgreSQL across a link, N = {int(n):,}")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_all(results: dict[str, Any], out: Path, md_path: Path, command: str) -> None:
    """remote.json, remote.png and the section of ``md_path``."""
    results["summary"] = summaries(results)
    rtt_ms = {p: v["select1_ms_median"] for p, v in results["link"]["profiles"].items()}
    results["targets"] = targets(results["summary"], rtt_ms)
    out.mkdir(parents=True, exist_ok=True)
    chart_path = out / "remote.png"
    report.write_json(results, out / "remote.json")
    chart(results, chart_path)
    md_path.parent.mkdir(parents=True, exist_ok=True)
    rel = os.path.relpath(chart_path, md_path.parent)
    sections.write(md_path, markdown(results, command, rel), sections.REMOTE)
