"""How long a small sync takes as a whole process: ``lightning-sync run`` from start to exit.

    python -m bench.startup                  # DuckDB and a throwaway PostgreSQL, 7 runs each
    python -m bench.startup --runs 9 --postgres-dsn postgresql://... --baseline /other/tree

A 1,000-row model (id, email, name, plan) synced to a ``file`` destination; before each
timed run 10 rows change, so every run sends a 10-row delta. Each run is its own
``python -m engine.cli run s --json`` process (wall time, start to exit; median reported),
its ``statements`` read from the JSON. Then, once per warehouse:

- where the import time goes: ``python -X importtime`` of the same run, cumulative time of
  the modules it imports first (median of 5);
- where the run's own time goes: the run in a process of its own with each ``connect``,
  ``execute`` and ``fetchall`` of the dialect timed (its statements, slowest first).

``--baseline DIR`` also measures the engine of another source tree (e.g. ``git archive`` of
an earlier commit), its runs taking turns with this tree's on the same project; the
figures go to stdout and, with ``--report FILE``, into FILE between the markers
``<!-- startup -->`` and ``<!-- /startup -->`` (appended when missing).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from bench import sections

REPO = Path(__file__).resolve().parent.parent
ROWS = 1_000
CHANGED = 10
BEGIN, END = sections.STARTUP
# Modules whose import time is shown (cumulative, as -X importtime counts it).
WATCHED = (
    "engine.cli", "typer", "rich.console", "engine.config", "pydantic", "yaml", "sqlglot",
    "liquid", "engine.run", "engine.delivery", "asyncio", "httpx", "duckdb", "psycopg",
    "pyarrow", "engine.destinations.file", "engine.destinations.http",
)  # fmt: skip

TRACE = r"""
import json, re, sys, time
from dialects import dialect_class
from engine.project_file import load_project
from engine.run import run_sync
project = load_project(sys.argv[1])
cls = dialect_class(project.sources["wh"].type)
spans = []
def timed(name, original):
    def wrapper(self, *args, **kw):
        started = time.perf_counter()
        try:
            return original(self, *args, **kw)
        finally:
            text = " ".join(str(args[0]).split()) if args and name != "connect" else ""
            text = re.sub(r"/\*.*?\*/", "", text).strip()[:70]
            spans.append((name, text, time.perf_counter() - started))
    return wrapper
for name in ("connect", "execute", "fetchall", "query_columns"):
    setattr(cls, name, timed(name, getattr(cls, name)))
started = time.perf_counter()
result = run_sync(project, "s")
total = time.perf_counter() - started
print(json.dumps({"total": total, "spans": spans, "statements": result.statements}))
"""


def _env(code: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(code)}


class Project:
    """A temporary project whose ``users`` model has ROWS rows, on DuckDB or PostgreSQL."""

    def __init__(self, root: Path, kind: str, dsn: str | None):
        self.root, self.kind, self.dsn = root, kind, dsn
        self.changes = 0
        source: dict[str, Any] = (
            {"type": "duckdb", "path": "wh.duckdb"}
            if kind == "duckdb"
            else {"type": "postgres", "dsn": dsn}
        )
        config = {
            "sources": {"wh": source},
            "models": {
                "users": {"source": "wh", "primary_key": "id", "sql": "select * from users"}
            },
            "destinations": {"dest": {"type": "file", "path": "out"}},
            "syncs": {
                "s": {
                    "model": "users",
                    "destination": "dest",
                    "mode": "upsert",
                    "mappings": [{"from": c, "to": c} for c in ("email", "name", "plan")],
                }
            },
        }
        self.file = root / "lightning.yml"
        self.file.write_text(yaml.safe_dump(config), encoding="utf-8")
        self.sql(
            "DROP TABLE IF EXISTS users",
            "CREATE TABLE users "
            "(id BIGINT, email VARCHAR(100), name VARCHAR(100), plan VARCHAR(20))",
            f"INSERT INTO users SELECT i, 'u' || i || '@example.com', 'name ' || i, 'free' "
            f"FROM generate_series(1, {ROWS}) AS t(i)",
        )

    def sql(self, *statements: str) -> None:
        if self.kind == "duckdb":
            import duckdb

            with duckdb.connect(str(self.root / "wh.duckdb")) as con:
                for statement in statements:
                    con.execute(statement)
            return
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True) as con:
            for statement in statements:
                con.execute(statement)

    def change(self) -> None:
        """CHANGED rows get a plan they never had."""
        self.changes += 1
        self.sql(f"UPDATE users SET plan = 'p{self.changes}' WHERE id <= {CHANGED}")

    def command(self, *python_flags: str) -> list[str]:
        return [sys.executable, *python_flags, "-m", "engine.cli", "run", "s", "--project",
                str(self.file), "--json"]  # fmt: skip


def timed_runs(project: Project, runs: int, codes: dict[str, Path]) -> dict[str, dict[str, Any]]:
    """The baseline run, then ``runs`` timed runs of a 10-row delta each per source tree,
    the trees taking turns (so a change in the machine's load hits them alike)."""
    first = subprocess.run(
        project.command(), env=_env(REPO), cwd=REPO, capture_output=True, text=True
    )
    if first.returncode != 0:
        raise SystemExit(f"the first run failed:\n{first.stdout}\n{first.stderr}")
    figures: dict[str, dict[str, Any]] = {
        label: {"seconds": [], "statements": []} for label in codes
    }
    for round_ in range(runs):
        for label, code in codes.items():
            project.change()
            started = time.perf_counter()
            done = subprocess.run(
                project.command(), env=_env(code), cwd=code, capture_output=True, text=True
            )
            seconds = time.perf_counter() - started
            if done.returncode != 0:
                raise SystemExit(f"{label} run {round_} failed:\n{done.stdout}\n{done.stderr}")
            result = json.loads(done.stdout)
            if result["counts"]["attempted"].get("changed") != CHANGED:
                raise SystemExit(f"{label} run {round_} sent other than {CHANGED} rows: {result}")
            figures[label]["seconds"].append(seconds)
            figures[label]["statements"].append(result.get("statements"))
    for figure in figures.values():
        figure["median"] = statistics.median(figure["seconds"])
    return figures


def import_times(project: Project, code: Path, repeats: int = 5) -> dict[str, float]:
    """Median cumulative import seconds of the watched modules in a whole run."""
    samples: dict[str, list[float]] = {}
    for _ in range(repeats):
        project.change()
        done = subprocess.run(
            project.command("-X", "importtime"), env=_env(code), cwd=code, capture_output=True,
            text=True,
        )  # fmt: skip
        seen: dict[str, float] = {"all imports": 0.0}
        for line in done.stderr.splitlines():
            if not line.startswith("import time:") or "cumulative" in line:
                continue
            _, cumulative, raw = line[12:].split("|")
            name = raw.strip()
            if raw.startswith(" ") and not raw.startswith("  "):  # imported by no other module
                seen["all imports"] += int(cumulative) / 1e6
            if name in WATCHED and name not in seen:
                seen[name] = int(cumulative) / 1e6
        for name in ("all imports", *WATCHED):
            samples.setdefault(name, []).append(seen.get(name, 0.0))
    return {name: statistics.median(values) for name, values in samples.items()}


def traced_run(project: Project, code: Path) -> dict[str, Any]:
    """One run in a process of its own, each dialect call timed."""
    project.change()
    done = subprocess.run(
        [sys.executable, "-c", TRACE, str(project.file)], env=_env(code), cwd=code,
        capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"the traced run failed:\n{done.stderr}")
    return json.loads(done.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def bare_python(repeats: int = 5) -> float:
    """Median seconds of ``python -c pass`` (the interpreter's own start and exit)."""
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


@contextmanager
def postgres(dsn: str | None) -> Iterator[str]:
    """The given server, or a throwaway one (removed at the end)."""
    if dsn:
        yield dsn
        return
    sys.path.insert(0, str(REPO))
    from tests.postgres_server import TempPostgres

    server = TempPostgres(durable=True)
    try:
        yield server.start()
    finally:
        server.stop()


def measure(kind: str, dsn: str | None, runs: int, codes: dict[str, Path]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"startup-{kind}-") as tmp:
        project = Project(Path(tmp), kind, dsn)
        figures = timed_runs(project, runs, codes)
        for label, code in codes.items():
            figures[label]["imports"] = import_times(project, code)
            figures[label]["trace"] = traced_run(project, code)
        return figures


def report(results: dict[str, Any], runs: int, command: str) -> str:
    lines = [
        BEGIN,
        "## Small models: the whole `lightning-sync run` process",
        "",
        f"Command: `{command}`. A {ROWS:,}-row model, {CHANGED}-row delta per run, `file` "
        f"destination; each run its own process, start to exit, median of {runs} (the source "
        f"trees taking turns). `python -c pass` alone: {results['bare_python']:.3f} s.",
        "",
        "| warehouse | code | median s (start to exit) | runs (s) | statements per run |",
        "|---|---|---|---|---|",
    ]
    kinds = [kind for kind in ("duckdb", "postgres") if kind in results]
    for kind in kinds:
        for label, r in results[kind].items():
            spread = ", ".join(f"{s:.3f}" for s in sorted(r["seconds"]))
            counted = sorted({"not counted" if n is None else str(n) for n in r["statements"]})
            lines.append(
                f"| {kind} | {label} | {r['median']:.3f} | {spread} | {', '.join(counted)} |"
            )
    for kind in kinds:
        for label, r in results[kind].items():
            imports = ", ".join(
                f"{name} {seconds:.3f}"
                for name, seconds in r["imports"].items()
                if seconds >= 0.002
            )
            trace = r["trace"]
            spans = trace["spans"]
            by_call: dict[str, float] = {}
            for name, _, seconds in spans:
                by_call[name] = by_call.get(name, 0.0) + seconds
            slowest = sorted(spans, key=lambda span: -span[2])[:5]
            lines += [
                "",
                f"**{kind}, {label}**: imports (cumulative s, median of 5): {imports}.",
                f"In-process run {trace['total']:.3f} s: "
                + ", ".join(f"{name} {seconds:.3f} s" for name, seconds in by_call.items())
                + f" ({len(spans) - 1} statement calls). Slowest: "
                + "; ".join(f"`{text or name}` {seconds:.3f}" for name, text, seconds in slowest)
                + ".",
            ]
    lines.append(END)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--postgres-dsn", default=None)
    parser.add_argument("--warehouses", default="duckdb,postgres")
    parser.add_argument(
        "--baseline", type=Path, default=None, help="another source tree, measured in turns"
    )
    parser.add_argument("--report", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="write all figures here")
    args = parser.parse_args(argv)
    kinds = args.warehouses.split(",")
    results: dict[str, Any] = {"bare_python": bare_python()}
    codes = {"this tree": REPO}
    if args.baseline is not None:
        codes = {"baseline": args.baseline.resolve(), **codes}
    if "duckdb" in kinds:
        results["duckdb"] = measure("duckdb", None, args.runs, codes)
    if "postgres" in kinds:
        with postgres(args.postgres_dsn) as dsn:
            results["postgres"] = measure("postgres", dsn, args.runs, codes)
    command = "python -m bench.startup" + (f" --runs {args.runs}" if args.runs != 7 else "")
    if args.baseline is not None:
        command += " --baseline <tree of the commit before>"
    section = report(results, args.runs, command)
    print(section)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")
    if args.report:
        sections.write(args.report, section, sections.STARTUP)


if __name__ == "__main__":
    main()
