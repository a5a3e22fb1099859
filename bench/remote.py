"""The engine against the app-side diff with the warehouse across an emulated network link.

python -m bench.remote            # N = 100k and 1M, three link profiles, medians of 3
python -m bench.remote --smoke    # N = 1,000, the 100 Mbit/s + 20 ms profile, 1 run, temp dir
python -m bench.remote --cleanup  # remove what a killed (SIGKILL) run left behind

Linux, as root. PostgreSQL runs in a network namespace of its own (``bench.netns``), and
each run's client (a process of its own, as in ``python -m bench``) reaches it over a veth
pair. Profiles (``PROFILES``): ``loopback`` is the same namespace and veth with no qdisc
and no proxy (straight to the server); the others cap the bandwidth with ``tbf`` on both
ends of the pair and go through ``bench.latency_proxy`` in the warehouse's namespace, which
holds each chunk for half the round trip in each direction.

For each N the data is loaded and both methods' baselines are prepared once (over the
server's Unix socket); then ``--repeats`` rounds, each of every profile, each of both
methods: ``lightning`` (the engine's plan through the delta read, ``bench.lightning``'s
PostgreSQL path) and ``basic`` (the app-side diff, ``bench.basic``'s PostgreSQL path).
Per run: the method's own time, the bytes the client's end of the veth received (out of
the warehouse) and sent, statements and server CPU (``bench.remote_warehouse``), and the
client process's CPU (its rusage).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import shlex
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from bench import machine, netns, postgres, remote_report
from bench.__main__ import Bench
from bench.common import BENCH_DIR, KEY, MAPPED, MODEL_TABLE, REPO_DIR, WORK_DIR
from bench.remote_warehouse import (
    NamespacedPostgres,
    Proxy,
    StatementCounter,
    clean_leftovers,
    probe,
    process_tree_cpu_s,
    write_leftovers,
)
from bench.runner import run_child

# name -> (bandwidth cap in Mbit/s or None, round trip added by the proxy in ms or None)
PROFILES: dict[str, tuple[float | None, float | None]] = {
    "loopback": (None, None),
    "1gbit_2ms": (1000, 2),
    "100mbit_20ms": (100, 20),
}
SMOKE_PROFILE = "100mbit_20ms"
METHODS = ("lightning", "basic")
DSN_ENV = "LIGHTNING_BENCH_REMOTE_DSN"
LEFTOVERS = WORK_DIR / "remote_leftovers.json"


def _say(text: str) -> None:
    print(text, flush=True)


def _parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.remote", description=__doc__)
    parser.add_argument("--sizes", default="100000,1000000", help="model sizes N")
    parser.add_argument("--profiles", default=",".join(PROFILES), help="link profiles")
    parser.add_argument("--repeats", type=int, default=3, help="runs per case (median)")
    parser.add_argument("--smoke", action="store_true", help="N=1000, one shaped profile")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results")
    parser.add_argument("--report", type=Path, default=None, help="default bench/RESULTS.md")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per run")
    parser.add_argument("--cleanup", action="store_true", help="remove a killed run's leftovers")
    args = parser.parse_args(argv)
    args.sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    args.profiles = [p.strip() for p in args.profiles.split(",") if p.strip()]
    unknown = sorted(set(args.profiles) - set(PROFILES))
    if unknown:
        parser.error(f"unknown profile(s) {', '.join(unknown)}; choose from {list(PROFILES)}")
    if args.smoke:
        args.sizes, args.profiles, args.repeats = [1000], [SMOKE_PROFILE], 1
        if args.out == BENCH_DIR / "results":
            args.out = Path(tempfile.mkdtemp(prefix="lightning-bench-remote-smoke-"))
    if args.report is None:
        args.report = args.out / "RESULTS.md" if args.smoke else BENCH_DIR / "RESULTS.md"
    # What bench.__main__.Bench reads of its arguments.
    args.methods = list(METHODS)
    args.lightning_memory_limit = "1GB"
    return args


def _raise_on_signal(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


class Remote:
    """One session: the link, the server, the proxies; runs the cases and records them."""

    def __init__(self, args: argparse.Namespace, stack: contextlib.ExitStack) -> None:
        self.args = args
        self.bench = Bench(args)  # datasets, baselines, expected deltas, problems
        self.link = netns.Link()
        stack.callback(self.link.destroy)
        self.link.create()
        self.server = NamespacedPostgres()
        stack.callback(self.server.stop)
        self.server.start()
        self.admin = postgres.Server(
            self.server.admin_dsn(), True, postgres._server_settings(self.server.admin_dsn())
        )
        self.counter = StatementCounter(self.server.admin_dsn())
        self.proxies: dict[str, Proxy] = {}
        for offset, name in enumerate(args.profiles, start=1):
            rtt_ms = PROFILES[name][1]
            if rtt_ms:
                proxy = Proxy.start(self.server.port + offset, self.server.port, rtt_ms / 2)
                stack.callback(proxy.stop)
                self.proxies[name] = proxy
        write_leftovers(LEFTOVERS, self.server, list(self.proxies.values()))
        stack.callback(LEFTOVERS.unlink, missing_ok=True)

    def dsn(self, profile: str, dbname: str) -> str:
        proxy = self.proxies.get(profile)
        return postgres.database_uri(
            self.server.link_dsn(proxy.port if proxy else None), dbname
        )

    def shape(self, profile: str) -> None:
        self.link.shape(netns.Shaping(PROFILES[profile][0]))

    def probe_profiles(self) -> dict[str, Any]:
        """Each profile's delivered round trip (``SELECT 1``) and bulk read rate."""
        found = {}
        for profile in self.args.profiles:
            self.shape(profile)
            rate, rtt = PROFILES[profile]
            measured = probe(self.dsn(profile, "postgres"))
            found[profile] = {
                "rate_mbit": rate,
                "added_rtt_ms": rtt,
                "proxy": profile in self.proxies,
                "qdiscs": self.link.qdiscs(),
                **measured,
            }
            _say(
                f"  {profile:<13} SELECT 1 median {measured['select1_ms_median']:.2f} ms "
                f"(min {measured['select1_ms_min']:.2f}), bulk read "
                f"{measured['bulk_read_mbit_s']:.0f} Mbit/s"
            )
        return found

    # -- one N -------------------------------------------------------------------------------

    def _prepare(self, n: int) -> dict[str, Any]:
        """Load the data and prepare both baselines; the calls of each method by profile."""
        data = self.bench._dataset(n)
        meta = {k: v for k, v in data.meta.items() if k != "rejected_keys"}
        loaded = run_child(
            "pg_load",
            {"server_dsn": self.admin.dsn, "n": n, "seed": data.seed,
             "db_path": str(data.db_path), "meta": meta},  # fmt: skip
            timeout_s=self.args.timeout,
        )
        if "error" in loaded:
            raise RuntimeError(f"N={n}: loading the data failed: {loaded['error']}")
        _say(f"  data in database {loaded['database']} ({loaded['load_s']} s to load)")
        source_db = loaded["database"]
        basic_state = self.bench._basic_state_postgres(
            data, postgres.database_uri(self.admin.dsn, source_db)
        )
        prepared = self.bench._prepare_lightning_postgres(data, self.admin, source_db)
        if basic_state is None or prepared is None:
            raise RuntimeError(f"N={n}: preparing the baselines failed: {self.bench.problems}")
        workdir = Path(prepared[1])
        _dsn_from_environment(workdir / "lightning.yml")
        light_db = postgres.lightning_database_name(n, data.seed)
        return {
            "data": data,
            "meta": meta,
            "lightning": (
                "pg_lightning_plan",
                light_db,
                {"table": MODEL_TABLE, "key": KEY, "mapped": MAPPED, "workdir": str(workdir)},
            ),
            "basic": ("pg_basic", source_db, {"state_path": basic_state}),
        }

    def measure(self, profile: str, call: tuple[str, str, dict[str, Any]]) -> dict[str, Any]:
        """One run of ``call`` across ``profile``, with what it cost on both sides."""
        entry, dbname, kwargs = call
        dsn = self.dsn(profile, dbname)
        proxy = self.proxies.get(profile)
        self.counter.reset()
        postmaster = self.server.postmaster_pid()
        server_cpu = process_tree_cpu_s(postmaster)
        proxy_cpu = proxy.cpu_s() if proxy else 0.0
        rx, tx = self.link.counters()
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        result = run_child(
            entry, {"dsn": dsn, **kwargs}, timeout_s=self.args.timeout, extra_env={DSN_ENV: dsn}
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        rx2, tx2 = self.link.counters()
        result.update(
            {
                "client_rx_bytes": rx2 - rx,
                "client_tx_bytes": tx2 - tx,
                "client_cpu_s": (after.ru_utime + after.ru_stime)
                - (children.ru_utime + children.ru_stime),
                "server_cpu_s": process_tree_cpu_s(postmaster) - server_cpu,
                "proxy_cpu_s": (proxy.cpu_s() - proxy_cpu) if proxy else 0.0,
                **self.counter.read(dbname),
            }
        )
        return result

    def run_size(self, n: int) -> dict[str, Any]:
        _say(f"\n== N = {n:,}")
        prepared = self._prepare(n)
        want = Bench._want(prepared["data"])
        samples: dict[str, dict[str, list[dict[str, Any]]]] = {
            p: {m: [] for m in METHODS} for p in self.args.profiles
        }
        try:
            for rep in range(self.args.repeats):
                for profile in self.args.profiles:
                    self.shape(profile)
                    for method in METHODS:
                        result = self.measure(profile, prepared[method])
                        samples[profile][method].append(result)
                        self._check(n, profile, method, rep, result, want[method])
        finally:
            postgres.drop_database(self.admin.dsn, prepared["lightning"][1])
        return {"dataset": prepared["meta"], "samples": samples}

    def _check(
        self, n: int, profile: str, method: str, rep: int, result: dict[str, Any], want: int
    ) -> None:
        where = f"N={n} {profile} {method} run {rep + 1}"
        if "error" in result:
            self.bench.problem(f"{where} failed: {result['error']}")
            return
        _say(
            f"  run {rep + 1}/{self.args.repeats} {profile:<13} {method:<10} "
            f"{result['total_s']:8.2f} s  in {result['client_rx_bytes'] / 1e6:8.2f} MB  "
            f"out {result['client_tx_bytes'] / 1e6:6.2f} MB  {result['statements']:4} stmts  "
            f"server CPU {result['server_cpu_s']:6.2f} s  "
            f"client CPU {result['client_cpu_s']:6.2f} s"
        )
        if result.get("delta_rows") != want:
            self.bench.problem(f"{where} found {result.get('delta_rows')} delta rows, not {want}")


def _dsn_from_environment(project_file: Path) -> None:
    """Make the engine's project read its source's DSN from ``DSN_ENV`` (set per run)."""
    config = yaml.safe_load(project_file.read_text(encoding="utf-8"))
    for source in config["sources"].values():
        source["dsn"] = "${" + DSN_ENV + "}"
    project_file.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    os.chdir(REPO_DIR)
    if args.cleanup:
        for line in clean_leftovers(LEFTOVERS):
            _say(line)
        return 0
    if os.geteuid() != 0 or not sys.platform.startswith("linux"):
        _say("python -m bench.remote needs root on Linux (network namespaces, veth, tc).")
        return 2
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_on_signal)
    info = machine.describe()
    load_start = os.getloadavg()[0]
    started = time.perf_counter()
    results: dict[str, Any] = {"machine": info, "runs": {}}
    with contextlib.ExitStack() as stack:
        _say("Setting up the link and the server ...")
        remote = Remote(args, stack)
        results["server"] = remote.admin.describe()
        results["link"] = {
            "namespace": netns.NAMESPACE,
            "client_if": netns.CLIENT_IF,
            "subnet": netns.SUBNET,
            "tbf_latency": netns.TBF_LATENCY,
            "profiles": remote.probe_profiles(),
        }
        for n in args.sizes:
            results["runs"][str(n)] = remote.run_size(n)
        problems = remote.bench.problems
    results["settings"] = {
        "sizes": args.sizes,
        "profiles": args.profiles,
        "repeats": args.repeats,
        "seed": args.seed,
        "smoke": args.smoke,
        "methods": list(METHODS),
    }
    results["elapsed_s"] = round(time.perf_counter() - started, 1)
    results["load_average_1m"] = {"start": load_start, "end": os.getloadavg()[0]}
    results["problems"] = problems
    command = "python -m bench.remote " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    remote_report.write_all(results, args.out, args.report, command.strip())
    _say(f"\nWrote {args.out}/remote.json, {args.out}/remote.png and {args.report}.")
    for check in results["targets"]:
        _say(f"  target {check['target']}: {check['measured']} -> {check['verdict']}")
    for text in problems:
        _say(f"PROBLEM: {text}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
