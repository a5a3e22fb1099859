"""Run the benchmarks: ``python -m bench`` (see bench/README.md)."""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import datagen, lightning_calls, machine, postgres, report, sections
from bench.common import (
    BENCH_DIR,
    KEY,
    MAPPED,
    MODEL_TABLE,
    PREV_TABLE,
    REPO_DIR,
    WORK_DIR,
    quote_ident,
)
from bench.delivery import sink_process
from bench.runner import run_child

# Plan-method calls of one N: method -> (child entry point, its arguments, extra env).
Calls = dict[str, tuple[str, dict[str, Any], dict[str, str] | None]]

ALL_METHODS = ["lightning", "lower_bound", "basic", "reladiff", "delivery"]
DEFAULT_POSTGRES_SIZES = "100000,1000000"


def _say(text: str) -> None:
    print(text, flush=True)


def _parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Lightning against the lower bound, an app-side diff and reladiff.",
    )
    parser.add_argument(
        "--sizes",
        default="100000,1000000,10000000",
        help="comma-separated model sizes N on DuckDB, or 'none' (default: %(default)s)",
    )
    parser.add_argument(
        "--postgres-sizes",
        default=None,
        help="comma-separated model sizes N on PostgreSQL, or 'none' "
        f"(default: {DEFAULT_POSTGRES_SIZES}; 1000 with --smoke)",
    )
    parser.add_argument(
        "--postgres-dsn",
        default=os.environ.get(postgres.DSN_ENV) or None,
        help="PostgreSQL server to run on (a user that may create databases); default "
        f"${postgres.DSN_ENV}, else a throwaway server started for the run",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="runs per method; the median is reported (default: %(default)s)",
    )
    parser.add_argument(
        "--methods",
        default=",".join(ALL_METHODS),
        help="comma-separated subset of: " + ", ".join(ALL_METHODS),
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="N=1000, 1 run, 2000 delivered rows; outputs go to a temp dir",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=BENCH_DIR / "results",
        help="directory for results.json and chart.png (default: bench/results)",
    )
    parser.add_argument(
        "--report",
        type=Path,
        default=None,
        help="where to write RESULTS.md (default: bench/RESULTS.md, or "
        "beside the results in --smoke)",
    )
    parser.add_argument("--seed", type=int, default=42, help="data generator seed")
    parser.add_argument("--delivery-rows", type=int, default=200_000)
    parser.add_argument(
        "--delivery-repeats",
        type=int,
        default=None,
        help="runs per delivery case (default: --repeats)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=32,
        help="requests in flight in the delivery runs (default: %(default)s)",
    )
    parser.add_argument(
        "--lightning-memory-limit",
        default="1GB",
        help="DuckDB memory limit asked of the engine, passed to "
        f"bench/lightning.py as ${lightning_calls.MEMORY_LIMIT_ENV} "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=3600.0,
        help="seconds one measurement may take (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    args.methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = sorted(set(args.methods) - set(ALL_METHODS))
    if unknown:
        parser.error(f"unknown method(s) {', '.join(unknown)}; choose from {ALL_METHODS}")
    args.sizes = _sizes(args.sizes)
    args.postgres_sizes = _sizes(
        DEFAULT_POSTGRES_SIZES if args.postgres_sizes is None else args.postgres_sizes
    )
    if args.smoke:
        # N = 1000 wherever sizes were not turned off with 'none'.
        args.sizes = [1000] if args.sizes else []
        args.postgres_sizes = [1000] if args.postgres_sizes else []
        args.repeats = 1
        args.delivery_rows = 2000
        if args.out == BENCH_DIR / "results":
            args.out = Path(tempfile.mkdtemp(prefix="lightning-bench-smoke-"))
    if args.report is None:
        args.report = args.out / "RESULTS.md" if args.smoke else BENCH_DIR / "RESULTS.md"
    return args


def _sizes(text: str) -> list[int]:
    """``100000,1000000`` (commas or spaces, ``_`` allowed) as ints; ``none`` is empty."""
    if text.strip().lower() in ("", "none"):
        return []
    return [int(s.replace("_", "")) for s in text.replace(",", " ").split()]


class Bench:
    """One benchmark session: runs the methods and gathers their results."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.notes: list[str] = []
        self.problems: list[str] = []
        self.lightning = "lightning" in args.methods and lightning_calls.available()
        self.memory_env = {lightning_calls.MEMORY_LIMIT_ENV: args.lightning_memory_limit}

    def note(self, text: str) -> None:
        self.notes.append(text)
        _say(f"NOTE: {text}")

    def problem(self, text: str) -> None:
        self.problems.append(text)
        _say(f"PROBLEM: {text}")

    # -- plan methods -------------------------------------------------------------

    def _prepare_lightning(self, data: datagen.Dataset) -> str | None:
        """Copy the data file for the engine and commit the previous state as baseline.

        The copy keeps the cached file clean of the engine's tables. The engine always
        sees the model as ``users``: for the baseline run the previous state is renamed
        to ``users``, then the current state is put back under that name.
        """
        import duckdb

        workdir = WORK_DIR / f"lightning_n{data.n}"
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir(parents=True)
        db_path = workdir / "model.duckdb"
        shutil.copyfile(data.db_path, db_path)

        def rename(pairs: list[tuple[str, str]]) -> None:
            con = duckdb.connect(str(db_path))
            try:
                for old, new in pairs:
                    con.execute(f"ALTER TABLE {quote_ident(old)} RENAME TO {quote_ident(new)}")
            finally:
                con.close()

        rename([(MODEL_TABLE, "bench_users_current"), (PREV_TABLE, MODEL_TABLE)])
        started = time.perf_counter()
        result = run_child(
            "lightning_prepare",
            {
                "db_path": str(db_path),
                "table": MODEL_TABLE,
                "key": KEY,
                "mapped": MAPPED,
                "workdir": str(workdir),
                "rejected_keys": data.rejected_keys,
            },
            timeout_s=self.args.timeout,
            extra_env=self.memory_env,
        )
        rename([(MODEL_TABLE, PREV_TABLE), ("bench_users_current", MODEL_TABLE)])
        if "error" in result:
            self.problem(f"N={data.n}: lightning prepare_baseline failed: {result['error']}")
            return None
        _say(f"  lightning baseline prepared in {time.perf_counter() - started:.1f} s")
        return str(db_path)

    def _basic_state(self, data: datagen.Dataset) -> str | None:
        """The app-side baseline's saved state (built once per dataset, not timed)."""
        py = f"py{sys.version_info.major}{sys.version_info.minor}"
        path = data.db_path.with_name(data.db_path.stem + f"_basic_state_{py}.npz")
        if path.exists():
            return str(path)
        started = time.perf_counter()
        result = run_child(
            "basic_state",
            {
                "db_path": str(data.db_path),
                "state_path": str(path),
                "rejected_keys": data.rejected_keys,
            },
            timeout_s=self.args.timeout,
        )
        if "error" in result:
            self.problem(
                f"N={data.n}: building the basic baseline's state failed: {result['error']}"
            )
            return None
        _say(f"  basic baseline state built in {time.perf_counter() - started:.1f} s")
        return str(path)

    def _dataset(self, n: int, what: str = "data") -> datagen.Dataset:
        """The generated DuckDB data at N (generated in a child process if not cached)."""
        started = time.perf_counter()
        data = datagen.load_dataset(n, self.args.seed)
        if data is None:
            result = run_child(
                "generate", {"n": n, "seed": self.args.seed}, timeout_s=self.args.timeout
            )
            data = datagen.load_dataset(n, self.args.seed)
            if data is None:
                raise RuntimeError(f"generating the N={n} data failed: {result.get('error')}")
        _say(f"  {what} ready in {time.perf_counter() - started:.1f} s ({data.db_path.name})")
        return data

    @staticmethod
    def _want(data: datagen.Dataset) -> dict[str, int]:
        """What each method should find: the retried rejections are known only to the
        engine and to the app keeping its own state."""
        expected = data.expected
        return {
            "lightning": expected["total"],
            "basic": expected["total"],
            "reladiff": expected["total"] - expected["retried"],
            "lower_bound": expected["total"] - expected["retried"],
        }

    def run_size(self, n: int) -> dict[str, Any]:
        """All plan methods at one N, in rounds, so drift hits every method alike."""
        _say(f"\n== DuckDB, N = {n:,}")
        data = self._dataset(n)
        calls: Calls = {}
        db = str(data.db_path)
        if "lower_bound" in self.args.methods:
            calls["lower_bound"] = ("lower_bound", {"db_path": db}, None)
        if self.lightning:
            light_db = self._prepare_lightning(data)
            if light_db is not None:
                calls["lightning"] = (
                    "lightning_plan",
                    {
                        "db_path": light_db,
                        "table": MODEL_TABLE,
                        "key": KEY,
                        "mapped": MAPPED,
                        "workdir": str(Path(light_db).parent),
                    },
                    self.memory_env,
                )
        if "basic" in self.args.methods:
            state = self._basic_state(data)
            if state is not None:
                calls["basic"] = ("basic", {"db_path": db, "state_path": state}, None)
        if "reladiff" in self.args.methods:
            calls["reladiff"] = ("reladiff", {"db_path": db}, None)
        samples = self._rounds(f"N={n}", calls, self._want(data))
        meta = {k: v for k, v in data.meta.items() if k != "rejected_keys"}
        return {
            "dataset": meta,
            "methods": {m: {**report.summarize(s), "samples": s} for m, s in samples.items()},
        }

    def _rounds(
        self, where: str, calls: Calls, want: dict[str, int]
    ) -> dict[str, list[dict[str, Any]]]:
        """``--repeats`` rounds of every call, each in its own process; deltas checked."""
        samples: dict[str, list[dict[str, Any]]] = {m: [] for m in calls}
        for rep in range(self.args.repeats):
            for method, (entry, kwargs, env) in calls.items():
                result = run_child(entry, kwargs, timeout_s=self.args.timeout, extra_env=env)
                samples[method].append(result)
                if "error" in result:
                    self.problem(f"{where}: {method} run {rep + 1} failed: {result['error']}")
                    continue
                rss = result.get("child_peak_rss_mb", result.get("peak_rss_mb", 0.0))
                _say(
                    f"  run {rep + 1}/{self.args.repeats} {method:<12} "
                    f"{result['total_s']:9.3f} s  peak RSS {rss:7.0f} MiB  "
                    f"delta {result.get('delta_rows')}"
                )
                if result.get("delta_rows") != want[method]:
                    text = (
                        f"{where}: {method} found {result.get('delta_rows')} delta rows, "
                        f"expected {want[method]}"
                    )
                    if method == "lightning":
                        self.note(text + " (mirror mode, retried rejections included)")
                    else:
                        self.problem(text)
        return samples

    # -- PostgreSQL ----------------------------------------------------------------

    def _prepare_lightning_postgres(
        self, data: datagen.Dataset, server: postgres.Server, source_db: str
    ) -> tuple[str, str] | None:
        """The engine's own copy of the database, with the previous state committed.

        As ``_prepare_lightning`` does for DuckDB: the copy (``CREATE DATABASE ...
        TEMPLATE``) keeps the cached database clean of the engine's schemas, and the
        previous state is renamed to ``users`` for the baseline run, then put back.
        Returns the copy's URI and the engine's project directory.
        """
        target = postgres.lightning_database_name(data.n, data.seed)
        postgres.copy_database(server.dsn, source_db, target)
        dsn = postgres.database_uri(server.dsn, target)
        workdir = WORK_DIR / f"lightning_pg_n{data.n}"
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir(parents=True)
        postgres.rename_tables(
            dsn, [(MODEL_TABLE, "bench_users_current"), (PREV_TABLE, MODEL_TABLE)]
        )
        started = time.perf_counter()
        result = run_child(
            "pg_lightning_prepare",
            {
                "dsn": dsn,
                "table": MODEL_TABLE,
                "key": KEY,
                "mapped": MAPPED,
                "workdir": str(workdir),
                "rejected_keys": data.rejected_keys,
            },
            timeout_s=self.args.timeout,
        )
        postgres.rename_tables(
            dsn, [(MODEL_TABLE, PREV_TABLE), ("bench_users_current", MODEL_TABLE)]
        )
        if "error" in result:
            self.problem(
                f"PostgreSQL N={data.n}: lightning prepare_baseline_postgres failed: "
                f"{result['error']}"
            )
            return None
        _say(f"  lightning baseline prepared in {time.perf_counter() - started:.1f} s ({target})")
        return dsn, str(workdir)

    def _basic_state_postgres(self, data: datagen.Dataset, dsn: str) -> str | None:
        """The basic baseline's state, built from ``users_prev`` in PostgreSQL (not timed)."""
        py = f"py{sys.version_info.major}{sys.version_info.minor}"
        stem = f"postgres_n{data.n}_s{data.seed}_g{datagen.GENERATOR_VERSION}"
        path = WORK_DIR / f"{stem}_basic_state_{py}.npz"
        if path.exists():
            return str(path)
        started = time.perf_counter()
        result = run_child(
            "pg_basic_state",
            {"dsn": dsn, "state_path": str(path), "rejected_keys": data.rejected_keys},
            timeout_s=self.args.timeout,
        )
        if "error" in result:
            self.problem(
                f"PostgreSQL N={data.n}: building the basic baseline's state failed: "
                f"{result['error']}"
            )
            return None
        _say(f"  basic baseline state built in {time.perf_counter() - started:.1f} s")
        return str(path)

    def run_postgres_size(self, n: int, server: postgres.Server) -> dict[str, Any] | None:
        """The plan methods at one N on PostgreSQL; None if the data could not be loaded."""
        import importlib.util

        _say(f"\n== PostgreSQL, N = {n:,}")
        data = self._dataset(n, "generated data (DuckDB)")
        meta = {k: v for k, v in data.meta.items() if k != "rejected_keys"}
        started = time.perf_counter()
        loaded = run_child(
            "pg_load",
            {
                "server_dsn": server.dsn,
                "n": n,
                "seed": data.seed,
                "db_path": str(data.db_path),
                "meta": meta,
            },
            timeout_s=self.args.timeout,
        )
        if "error" in loaded:
            self.problem(f"PostgreSQL N={n}: loading the data failed: {loaded['error']}")
            return None
        how = "cached" if loaded["cached"] else "loaded"
        _say(
            f"  data {how} in {time.perf_counter() - started:.1f} s (database {loaded['database']})"
        )
        dsn = postgres.database_uri(server.dsn, loaded["database"])
        calls: Calls = {}
        if "lower_bound" in self.args.methods:
            calls["lower_bound"] = ("pg_lower_bound", {"dsn": dsn}, None)
        light_db = None
        if self.lightning:
            prepared = self._prepare_lightning_postgres(data, server, loaded["database"])
            if prepared is not None:
                light_db = postgres.lightning_database_name(n, data.seed)
                calls["lightning"] = (
                    "pg_lightning_plan",
                    {
                        "dsn": prepared[0],
                        "table": MODEL_TABLE,
                        "key": KEY,
                        "mapped": MAPPED,
                        "workdir": prepared[1],
                    },
                    None,
                )
        if "basic" in self.args.methods:
            state = self._basic_state_postgres(data, dsn)
            if state is not None:
                calls["basic"] = ("pg_basic", {"dsn": dsn, "state_path": state}, None)
        if "reladiff" in self.args.methods:
            if importlib.util.find_spec("psycopg2") is None:
                self.note(
                    "reladiff on PostgreSQL skipped: its driver needs psycopg2 "
                    "(pip install -e '.[bench]' installs psycopg2-binary)."
                )
            else:
                calls["reladiff"] = ("pg_reladiff", {"uri": dsn}, None)
        try:
            samples = self._rounds(f"PostgreSQL N={n}", calls, self._want(data))
        finally:
            if light_db is not None:
                postgres.drop_database(server.dsn, light_db)
        return {
            "dataset": {
                **meta,
                "postgres_database": loaded["database"],
                "load_s": loaded["load_s"],
                "load_cached": loaded["cached"],
            },
            "methods": {m: {**report.summarize(s), "samples": s} for m, s in samples.items()},
        }

    def run_postgres(self) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Every ``--postgres-sizes`` N on the chosen server; (runs by N, server info)."""
        runs: dict[str, Any] = {}
        try:
            with postgres.server(self.args.postgres_dsn) as server:
                info = server.describe()
                _say(
                    f"\nPostgreSQL {server.settings.get('server_version')} "
                    f"({info['source']}, {info['host']}:{info['port']})"
                )
                for n in self.args.postgres_sizes:
                    run = self.run_postgres_size(n, server)
                    if run is not None:
                        runs[str(n)] = run
        except postgres.NotAvailable as error:
            self.note(f"PostgreSQL not run: {error}.")
            return runs, None
        except Exception as error:  # noqa: BLE001 - recorded, the other parts still count
            self.problem(f"PostgreSQL: {type(error).__name__}: {error}")
            return runs, None
        return runs, info

    # -- delivery ------------------------------------------------------------------

    def run_delivery(self) -> dict[str, Any]:
        """Bare httpx loops and the engine against the same sink, batch 1 and 100."""
        import importlib.util

        rows, conc = self.args.delivery_rows, self.args.concurrency
        repeats = self.args.delivery_repeats or self.args.repeats
        _say(f"\n== Delivery, {rows:,} rows, concurrency {conc}")
        base = {"sink_url": "", "rows": rows, "concurrency": conc}
        clients: list[tuple[str, str, dict[str, Any]]] = [
            ("httpx", "httpx_delivery", {"transport": "httpcore"}),
        ]
        if importlib.util.find_spec("httpx_aiohttp") is not None:
            clients.append(("httpx_aiohttp", "httpx_delivery", {"transport": "aiohttp"}))
        else:
            self.note("httpx-aiohttp is not installed: the bare loop runs on httpcore only.")
        if self.lightning:
            clients.append(("lightning", "lightning_delivery", {}))
        cases = []
        with sink_process() as sink:
            base["sink_url"] = sink.url
            _say(f"  sink: tests.fakes.http_sink.HttpSink at {sink.url} (own process)")
            for batch in (1, 100):
                samples: dict[str, list[dict[str, Any]]] = {c: [] for c, _, _ in clients}
                for rep in range(repeats):
                    for client, entry, extra in clients:
                        sink.reset()
                        result = run_child(
                            entry,
                            {**base, "batch_size": batch, **extra},
                            timeout_s=self.args.timeout,
                            extra_env=self.memory_env,
                        )
                        result["sink_rows"] = sink.stats()["rows"]
                        samples[client].append(result)
                        if "error" in result:
                            self.problem(
                                f"delivery batch {batch}: {client} run {rep + 1} "
                                f"failed: {result['error']}"
                            )
                            continue
                        _say(
                            f"  batch {batch:>3} run {rep + 1}/{repeats} "
                            f"{client:<13} {result['rows_per_s']:10,.0f} rows/s "
                            f"({result['seconds']:.1f} s, sink got {result['sink_rows']})"
                        )
                        if result["sink_rows"] != rows:
                            self.problem(
                                f"delivery batch {batch}: {client} delivered "
                                f"{result['sink_rows']} rows, not {rows}"
                            )
                case: dict[str, Any] = {"batch_size": batch, "concurrency": conc}
                for client, s in samples.items():
                    case[client] = {**report.summarize(s), "samples": s}
                cases.append(case)
        return {
            "rows": rows,
            "repeats": repeats,
            "sink": "tests.fakes.http_sink.HttpSink",
            "cases": cases,
        }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write its outputs; non-zero exit on any problem."""
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    os.chdir(REPO_DIR)
    bench = Bench(args)
    info = machine.describe()
    _say(
        f"Machine: {info['cores']} cores, {info['memory_gib']} GiB, {info['cpu_model']}, "
        f"Python {info['python']}, DuckDB {info['versions']['duckdb']}"
    )
    if "lightning" in args.methods and not bench.lightning:
        bench.note(
            "Lightning rows skipped: bench/lightning.py does not exist yet (it "
            "plugs the engine into this harness; see bench/lightning_calls.py)."
        )
    load_start = os.getloadavg()[0]
    if load_start > 0.5:
        bench.note(
            f"the machine was busy when the run started (1-minute load average "
            f"{load_start:.1f} on {info['cores']} cores): timings may be inflated."
        )
    limit_mib = report.memory_limit_mib(args.lightning_memory_limit)
    results: dict[str, Any] = {
        "machine": info,
        "settings": {
            "sizes": args.sizes,
            "postgres_sizes": args.postgres_sizes,
            "repeats": args.repeats,
            "seed": args.seed,
            "methods": args.methods,
            "delivery_rows": args.delivery_rows,
            "concurrency": args.concurrency,
            "smoke": args.smoke,
            "lightning_memory_limit": args.lightning_memory_limit,
            "lightning_memory_limit_mib": limit_mib,
            "generator_version": datagen.GENERATOR_VERSION,
        },
        "duckdb": {},
        "postgres": {},
    }
    started = time.perf_counter()
    plan_methods = [m for m in args.methods if m != "delivery"]
    if plan_methods:
        for n in args.sizes:
            results["duckdb"][str(n)] = bench.run_size(n)
        if args.postgres_sizes:
            results["postgres"], server = bench.run_postgres()
            if server is not None:
                results["postgres_server"] = server
    if "delivery" in args.methods:
        results["delivery"] = bench.run_delivery()
    results["elapsed_s"] = round(time.perf_counter() - started, 1)
    results["load_average_1m"] = {"start": load_start, "end": os.getloadavg()[0]}
    results["targets"] = report.targets(results)
    results["notes"] = bench.notes
    results["problems"] = bench.problems

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    json_path, chart_path, md_path = out / "results.json", out / "chart.png", args.report
    report.write_json(results, json_path)
    report.chart(results, chart_path)
    command = "python -m bench " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    chart_rel = os.path.relpath(chart_path, md_path.parent)
    md_path.parent.mkdir(parents=True, exist_ok=True)
    markdown = report.markdown(results, command.strip(), chart_rel)
    md_path.write_text(markdown + sections.kept_sections(md_path))  # the other benchmarks'
    _say(f"\nWrote {json_path}, {chart_path} and {md_path} in {results['elapsed_s']} s.")
    for check in results["targets"]["checks"]:
        measured = "-" if check["measured"] is None else f"{check['measured']:.2f}"
        _say(f"  target {check['target']}: {measured} (want {check['limit']})")
    if bench.problems:
        _say(f"{len(bench.problems)} problem(s):")
        for text in bench.problems:
            _say(f"  - {text}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
